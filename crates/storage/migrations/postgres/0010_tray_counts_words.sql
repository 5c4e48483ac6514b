-- The work tray at volume (100,000 referrals and more).
--
-- 1. How many referrals each status holds, kept by triggers in the same transaction as
--    the change, so the tray's unfiltered total is a sum of a few rows instead of a count
--    of every referral ever submitted. Drafts are not counted (the tray never shows them,
--    and counting them would make every new draft update one shared row).
CREATE TABLE referral_status_counts (
    status TEXT PRIMARY KEY,
    n BIGINT NOT NULL
);
INSERT INTO referral_status_counts (status, n)
    SELECT status, COUNT(*) FROM referrals WHERE status <> 'draft' GROUP BY status;

CREATE FUNCTION referral_status_count_add(s TEXT, delta BIGINT) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF s <> 'draft' THEN
        INSERT INTO referral_status_counts (status, n) VALUES (s, delta)
            ON CONFLICT (status) DO UPDATE SET n = referral_status_counts.n + delta;
    END IF;
END
$$;

-- A status change touches two counter rows; always in the same order (by status code), so
-- two transactions moving referrals in opposite directions cannot deadlock.
CREATE FUNCTION referral_status_counts_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM referral_status_count_add(NEW.status, 1);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM referral_status_count_add(OLD.status, -1);
    ELSIF OLD.status COLLATE "C" < NEW.status COLLATE "C" THEN
        PERFORM referral_status_count_add(OLD.status, -1);
        PERFORM referral_status_count_add(NEW.status, 1);
    ELSE
        PERFORM referral_status_count_add(NEW.status, 1);
        PERFORM referral_status_count_add(OLD.status, -1);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER referral_status_counts_insert AFTER INSERT ON referrals
    FOR EACH ROW WHEN (NEW.status <> 'draft')
    EXECUTE FUNCTION referral_status_counts_trigger();
CREATE TRIGGER referral_status_counts_update AFTER UPDATE OF status ON referrals
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION referral_status_counts_trigger();
CREATE TRIGGER referral_status_counts_delete AFTER DELETE ON referrals
    FOR EACH ROW WHEN (OLD.status <> 'draft')
    EXECUTE FUNCTION referral_status_counts_trigger();

-- 2. Every word of every child's name on a submitted referral, folded (lower case, no
--    accents), for the tray's search by name: each word typed must begin a word of a
--    child's name. With the referral's submission time (which never changes once set), a
--    search without other filters is answered from this table alone. An index range per word (byte order: COLLATE "C") replaces a
--    LIKE '%…%' over every referral.
CREATE TABLE referral_name_words (
    word TEXT COLLATE "C" NOT NULL,
    referral_id BIGINT NOT NULL REFERENCES referrals(id) ON DELETE CASCADE,
    submitted_at BIGINT NOT NULL,
    PRIMARY KEY (word, referral_id)
);
CREATE INDEX referral_name_words_referral ON referral_name_words(referral_id);

INSERT INTO referral_name_words (word, referral_id, submitted_at)
    SELECT DISTINCT w, id, submitted_at
    FROM referrals, regexp_split_to_table(child_names, '[ |]+') AS w
    WHERE child_names IS NOT NULL AND submitted_at IS NOT NULL AND w <> ''
ON CONFLICT DO NOTHING;
