-- The work tray at volume (100,000 referrals and more).
--
-- 1. How many referrals there are for each status, service and allocated worker (0: not
--    allocated), kept by triggers in the same transaction as the change, so the tray's
--    total for any mix of those filters is a sum over a few rows instead of a count of
--    every referral ever submitted. Drafts are not counted (the tray never shows them,
--    and counting them would make every new draft update one shared row).
CREATE TABLE referral_tray_counts (
    status TEXT NOT NULL,
    referral_type TEXT NOT NULL,
    assigned_to INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (status, referral_type, assigned_to)
);
INSERT INTO referral_tray_counts (status, referral_type, assigned_to, n)
    SELECT status, COALESCE(referral_type, ''), COALESCE(assigned_to, 0), COUNT(*)
    FROM referrals WHERE status <> 'draft'
    GROUP BY status, COALESCE(referral_type, ''), COALESCE(assigned_to, 0);

CREATE TRIGGER referral_tray_counts_insert AFTER INSERT ON referrals
WHEN NEW.status <> 'draft'
BEGIN
    INSERT INTO referral_tray_counts (status, referral_type, assigned_to, n)
        VALUES (NEW.status, COALESCE(NEW.referral_type, ''), COALESCE(NEW.assigned_to, 0), 1)
        ON CONFLICT (status, referral_type, assigned_to) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER referral_tray_counts_update AFTER UPDATE OF status, referral_type, assigned_to ON referrals
WHEN OLD.status IS NOT NEW.status OR OLD.referral_type IS NOT NEW.referral_type
    OR OLD.assigned_to IS NOT NEW.assigned_to
BEGIN
    UPDATE referral_tray_counts SET n = n - 1
        WHERE OLD.status <> 'draft' AND status = OLD.status
        AND referral_type = COALESCE(OLD.referral_type, '') AND assigned_to = COALESCE(OLD.assigned_to, 0);
    INSERT INTO referral_tray_counts (status, referral_type, assigned_to, n)
        SELECT NEW.status, COALESCE(NEW.referral_type, ''), COALESCE(NEW.assigned_to, 0), 1
        WHERE NEW.status <> 'draft'
        ON CONFLICT (status, referral_type, assigned_to) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER referral_tray_counts_delete AFTER DELETE ON referrals
WHEN OLD.status <> 'draft'
BEGIN
    UPDATE referral_tray_counts SET n = n - 1
        WHERE status = OLD.status AND referral_type = COALESCE(OLD.referral_type, '')
        AND assigned_to = COALESCE(OLD.assigned_to, 0);
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

-- 3. The tray sorted by when decisions are due, across every status, from an index in
--    that order (the status-first index serves the overdue filter).
CREATE INDEX referrals_tray_due_all ON referrals(decision_due_at, submitted_at, status, referral_type, assigned_to, reference);
