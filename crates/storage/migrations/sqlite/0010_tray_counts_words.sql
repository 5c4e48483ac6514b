-- The work tray at volume (100,000 referrals and more).
--
-- 1. How many referrals each status holds, kept by triggers in the same transaction as
--    the change, so the tray's unfiltered total is a sum of a few rows instead of a count
--    of every referral ever submitted. Drafts are not counted (the tray never shows them,
--    and counting them would make every new draft update one shared row).
CREATE TABLE referral_status_counts (
    status TEXT PRIMARY KEY,
    n INTEGER NOT NULL
);
INSERT INTO referral_status_counts (status, n)
    SELECT status, COUNT(*) FROM referrals WHERE status <> 'draft' GROUP BY status;

CREATE TRIGGER referral_status_counts_insert AFTER INSERT ON referrals
WHEN NEW.status <> 'draft'
BEGIN
    INSERT INTO referral_status_counts (status, n) VALUES (NEW.status, 1)
        ON CONFLICT (status) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER referral_status_counts_update AFTER UPDATE OF status ON referrals
WHEN OLD.status IS NOT NEW.status
BEGIN
    UPDATE referral_status_counts SET n = n - 1 WHERE status = OLD.status;
    INSERT INTO referral_status_counts (status, n)
        SELECT NEW.status, 1 WHERE NEW.status <> 'draft'
        ON CONFLICT (status) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER referral_status_counts_delete AFTER DELETE ON referrals
WHEN OLD.status <> 'draft'
BEGIN
    UPDATE referral_status_counts SET n = n - 1 WHERE status = OLD.status;
END;

-- 2. Every word of every child's name on a submitted referral, folded (lower case, no
--    accents), for the tray's search by name: each word typed must begin a word of a
--    child's name. With the referral's submission time (which never changes once set), a
--    search without other filters is answered from this table alone. An index range per word replaces a LIKE '%…%' over every referral.
CREATE TABLE referral_name_words (
    word TEXT NOT NULL,
    referral_id INTEGER NOT NULL REFERENCES referrals(id) ON DELETE CASCADE,
    submitted_at INTEGER NOT NULL,
    PRIMARY KEY (word, referral_id)
) WITHOUT ROWID;
CREATE INDEX referral_name_words_referral ON referral_name_words(referral_id);

WITH RECURSIVE split(id, word, rest) AS (
    SELECT id, '', replace(child_names, ' | ', ' ') || ' '
    FROM referrals WHERE child_names IS NOT NULL
    UNION ALL
    SELECT id, substr(rest, 1, instr(rest, ' ') - 1), substr(rest, instr(rest, ' ') + 1)
    FROM split WHERE rest <> ''
)
INSERT OR IGNORE INTO referral_name_words (word, referral_id, submitted_at)
    SELECT split.word, split.id, r.submitted_at FROM split JOIN referrals r ON r.id = split.id
    WHERE split.word NOT IN ('', '|') AND r.submitted_at IS NOT NULL;
