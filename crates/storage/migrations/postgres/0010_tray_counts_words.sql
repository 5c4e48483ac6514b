-- The work tray at volume (100,000 referrals and more).
--
-- 1. How many referrals there are for each status, service and allocated worker (0: not
--    allocated), kept by triggers in the same transaction as the change, so the tray's
--    total for any mix of those filters is a sum over a few rows instead of a count of
--    every referral ever submitted. Drafts are not counted (the tray never shows them,
--    and counting them would make every new draft update one shared row).
CREATE TABLE referral_tray_counts (
    status TEXT COLLATE "C" NOT NULL,
    referral_type TEXT COLLATE "C" NOT NULL,
    assigned_to BIGINT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (status, referral_type, assigned_to)
);
INSERT INTO referral_tray_counts (status, referral_type, assigned_to, n)
    SELECT status, COALESCE(referral_type, ''), COALESCE(assigned_to, 0), COUNT(*)
    FROM referrals WHERE status <> 'draft'
    GROUP BY status, COALESCE(referral_type, ''), COALESCE(assigned_to, 0);

CREATE FUNCTION referral_tray_count_add(s TEXT, t TEXT, a BIGINT, delta BIGINT) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF s <> 'draft' THEN
        INSERT INTO referral_tray_counts (status, referral_type, assigned_to, n)
            VALUES (s, COALESCE(t, ''), COALESCE(a, 0), delta)
            ON CONFLICT (status, referral_type, assigned_to)
            DO UPDATE SET n = referral_tray_counts.n + delta;
    END IF;
END
$$;

-- A change touches two counter rows; always in the same order (by key), so two
-- transactions moving referrals in opposite directions cannot deadlock.
CREATE FUNCTION referral_tray_counts_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM referral_tray_count_add(NEW.status, NEW.referral_type, NEW.assigned_to, 1);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM referral_tray_count_add(OLD.status, OLD.referral_type, OLD.assigned_to, -1);
    ELSIF (OLD.status COLLATE "C", COALESCE(OLD.referral_type, '') COLLATE "C", COALESCE(OLD.assigned_to, 0))
        < (NEW.status COLLATE "C", COALESCE(NEW.referral_type, '') COLLATE "C", COALESCE(NEW.assigned_to, 0)) THEN
        PERFORM referral_tray_count_add(OLD.status, OLD.referral_type, OLD.assigned_to, -1);
        PERFORM referral_tray_count_add(NEW.status, NEW.referral_type, NEW.assigned_to, 1);
    ELSE
        PERFORM referral_tray_count_add(NEW.status, NEW.referral_type, NEW.assigned_to, 1);
        PERFORM referral_tray_count_add(OLD.status, OLD.referral_type, OLD.assigned_to, -1);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER referral_tray_counts_insert AFTER INSERT ON referrals
    FOR EACH ROW WHEN (NEW.status <> 'draft')
    EXECUTE FUNCTION referral_tray_counts_trigger();
CREATE TRIGGER referral_tray_counts_update AFTER UPDATE OF status, referral_type, assigned_to ON referrals
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
        OR OLD.referral_type IS DISTINCT FROM NEW.referral_type
        OR OLD.assigned_to IS DISTINCT FROM NEW.assigned_to)
    EXECUTE FUNCTION referral_tray_counts_trigger();
CREATE TRIGGER referral_tray_counts_delete AFTER DELETE ON referrals
    FOR EACH ROW WHEN (OLD.status <> 'draft')
    EXECUTE FUNCTION referral_tray_counts_trigger();

-- 2. Every word of every child's name on a submitted referral, folded (lower case, no
--    accents), for the tray's search by name: each word typed must begin a word of a
--    child's name. With the referral's submission time (which never changes once set), a
--    search without other filters is answered from this table alone. An index range per word (byte order: COLLATE "C") replaces a
--    LIKE '%…%' over every referral.
CREATE TABLE referral_name_words (
    word TEXT COLLATE "C" NOT NULL,
    referral_id BIGINT NOT NULL REFERENCES referrals(id) ON DELETE CASCADE,
    submitted_at BIGINT NOT NULL,
    PRIMARY KEY (word, referral_id) INCLUDE (submitted_at)
);
CREATE INDEX referral_name_words_referral ON referral_name_words(referral_id);

INSERT INTO referral_name_words (word, referral_id, submitted_at)
    SELECT DISTINCT w, id, submitted_at
    FROM referrals, regexp_split_to_table(child_names, '[ |]+') AS w
    WHERE child_names IS NOT NULL AND submitted_at IS NOT NULL AND w <> ''
ON CONFLICT DO NOTHING;

-- 3. The tray sorted by when decisions are due, across every status, from an index in
--    that order (the status-first index serves the overdue filter).
CREATE INDEX referrals_tray_due_all ON referrals(decision_due_at) INCLUDE (id, submitted_at, status, referral_type, assigned_to, reference);
