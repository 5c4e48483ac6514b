-- The HTML alternative of each email (sent as multipart/alternative after the plain text).
-- NULL for messages queued before it existed (sent as plain text only) and for a secret
-- message once delivered (its bodies are removed then).
ALTER TABLE outbox ADD COLUMN body_html TEXT;
