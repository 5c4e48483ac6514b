-- Referrals (drafts and submitted) with their attachments, and answers posted after a
-- session timed out (kept until the referrer signs in again).

CREATE TABLE referrals (
    id INTEGER PRIMARY KEY,
    public_id TEXT NOT NULL UNIQUE,
    owner_id INTEGER NOT NULL REFERENCES users(id),
    status TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    data TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    saved_at INTEGER NOT NULL,
    submitted_at INTEGER,
    reference TEXT UNIQUE,
    referral_type TEXT
);
CREATE INDEX referrals_owner ON referrals(owner_id, status);
CREATE INDEX referrals_status_saved ON referrals(status, saved_at);

CREATE TABLE attachments (
    id INTEGER PRIMARY KEY,
    public_id TEXT NOT NULL UNIQUE,
    referral_id INTEGER NOT NULL REFERENCES referrals(id) ON DELETE CASCADE,
    file_name TEXT NOT NULL,
    kind TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    content BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX attachments_referral ON attachments(referral_id);

CREATE TABLE pending_saves (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX pending_saves_user ON pending_saves(user_id);
