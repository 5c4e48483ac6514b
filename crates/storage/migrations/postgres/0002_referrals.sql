-- Referrals (drafts and submitted) with their attachments, and answers posted after a
-- session timed out (kept until the referrer signs in again).

CREATE TABLE referrals (
    id BIGSERIAL PRIMARY KEY,
    public_id TEXT NOT NULL UNIQUE,
    owner_id BIGINT NOT NULL REFERENCES users(id),
    status TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    data TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    saved_at BIGINT NOT NULL,
    submitted_at BIGINT,
    reference TEXT UNIQUE,
    referral_type TEXT
);
CREATE INDEX referrals_owner ON referrals(owner_id, status);
CREATE INDEX referrals_status_saved ON referrals(status, saved_at);

CREATE TABLE attachments (
    id BIGSERIAL PRIMARY KEY,
    public_id TEXT NOT NULL UNIQUE,
    referral_id BIGINT NOT NULL REFERENCES referrals(id) ON DELETE CASCADE,
    file_name TEXT NOT NULL,
    kind TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    content BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX attachments_referral ON attachments(referral_id);

CREATE TABLE pending_saves (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX pending_saves_user ON pending_saves(user_id);
