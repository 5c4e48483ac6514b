-- Hardening (issue 7): a server secret shared by every instance (signs the CSRF token of
-- signed-out visitors, so an anonymous page view writes nothing), and answers kept across
-- a session timeout stored as (referral, section, fields) so they go with their draft.

CREATE TABLE app_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

DROP TABLE pending_saves;
CREATE TABLE pending_saves (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    referral_id BIGINT NOT NULL REFERENCES referrals(id) ON DELETE CASCADE,
    section TEXT NOT NULL,
    base_version BIGINT NOT NULL,
    fields TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX pending_saves_user ON pending_saves(user_id);
CREATE INDEX pending_saves_referral ON pending_saves(referral_id);
