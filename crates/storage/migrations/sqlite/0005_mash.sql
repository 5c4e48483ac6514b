-- The MASH side (issue 9): the person index, links from referrals' children to people,
-- the referral workflow and its events, the work tray's columns, and the audit hash chain.
-- Times are Unix milliseconds (INTEGER), the same in both backends.

-- Person index (R-51): the case-management records, imported or created from a referral.
-- change_seq is unique and increases with every insert or change; other instances poll
-- `change_seq > last seen`. Writers reserve numbers from persons_change_counter inside their
-- transaction, which also serialises them, so commits happen in change_seq order and a
-- poller never skips a row that commits late.
CREATE TABLE persons (
    id TEXT PRIMARY KEY,
    first_name TEXT,
    last_name TEXT,
    other_names TEXT NOT NULL DEFAULT '',
    dob TEXT,
    dob_estimated INTEGER NOT NULL DEFAULT 0,
    gender TEXT,
    address TEXT,
    postcode TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    change_seq INTEGER NOT NULL
);
CREATE UNIQUE INDEX persons_change_seq ON persons(change_seq);

CREATE TABLE persons_change_counter (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO persons_change_counter (id, value) VALUES (1, 0);

-- A child of a referral (by position in the referral) linked to a person (R-42).
-- Undoing a link keeps the row, with who, when and why.
CREATE TABLE referral_person_links (
    id INTEGER PRIMARY KEY,
    referral_id INTEGER NOT NULL REFERENCES referrals(id),
    child_index INTEGER NOT NULL,
    person_id TEXT NOT NULL REFERENCES persons(id),
    linked_by INTEGER NOT NULL REFERENCES users(id),
    linked_at INTEGER NOT NULL,
    unlinked_by INTEGER REFERENCES users(id),
    unlinked_at INTEGER,
    unlink_reason TEXT
);
CREATE UNIQUE INDEX referral_person_links_current
    ON referral_person_links(referral_id, child_index) WHERE unlinked_at IS NULL;
CREATE INDEX referral_person_links_person ON referral_person_links(person_id);

-- Every workflow step, allocation and letter, with who and when (R-43).
CREATE TABLE referral_events (
    id INTEGER PRIMARY KEY,
    referral_id INTEGER NOT NULL REFERENCES referrals(id),
    at INTEGER NOT NULL,
    actor_user_id INTEGER REFERENCES users(id),
    kind TEXT NOT NULL,
    status_from TEXT,
    status_to TEXT,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX referral_events_referral ON referral_events(referral_id, id);

-- The referral's current workflow state (the events hold the history).
ALTER TABLE referrals ADD COLUMN assigned_to INTEGER REFERENCES users(id);
ALTER TABLE referrals ADD COLUMN assigned_at INTEGER;
ALTER TABLE referrals ADD COLUMN decision_outcome TEXT;
ALTER TABLE referrals ADD COLUMN decision_rationale TEXT;
ALTER TABLE referrals ADD COLUMN decided_by INTEGER REFERENCES users(id);
ALTER TABLE referrals ADD COLUMN decided_at INTEGER;
ALTER TABLE referrals ADD COLUMN return_comment TEXT;
ALTER TABLE referrals ADD COLUMN authorised_by INTEGER REFERENCES users(id);
ALTER TABLE referrals ADD COLUMN authorised_at INTEGER;
ALTER TABLE referrals ADD COLUMN feedback_sent_at INTEGER;
ALTER TABLE referrals ADD COLUMN letter_created_at INTEGER;
ALTER TABLE referrals ADD COLUMN closed_at INTEGER;
ALTER TABLE referrals ADD COLUMN status_changed_at INTEGER;
-- Work tray: when the decision is due, every child's names folded for search
-- (lower case, no accents) and as typed for display; set on submit.
ALTER TABLE referrals ADD COLUMN decision_due_at INTEGER;
ALTER TABLE referrals ADD COLUMN child_names TEXT;
ALTER TABLE referrals ADD COLUMN child_display TEXT;

-- Every submitted referral has submitted_at (drafts do not), so the unfiltered tray is an
-- ordered walk of the first index; the others serve the filters.
CREATE INDEX referrals_tray_submitted ON referrals(submitted_at);
CREATE INDEX referrals_tray_status ON referrals(status, submitted_at);
CREATE INDEX referrals_tray_assigned ON referrals(assigned_to, submitted_at);
CREATE INDEX referrals_tray_type ON referrals(referral_type, submitted_at);
CREATE INDEX referrals_tray_due ON referrals(status, decision_due_at);

-- Audit hash chain (R-46): hash = SHA-256(prev_hash ‖ the row's fields). Rows written
-- before this migration have no hash; they are chained virtually (see storage/src/audit.rs).
ALTER TABLE audit_log ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_log ADD COLUMN hash TEXT;
CREATE INDEX audit_log_actor ON audit_log(actor_user_id, at);

-- One row that every audit write updates first: it takes SQLite's write lock before the
-- last hash is read, so the chain stays linear.
CREATE TABLE audit_chain_lock (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    writes INTEGER NOT NULL
);
INSERT INTO audit_chain_lock (id, writes) VALUES (1, 0);
