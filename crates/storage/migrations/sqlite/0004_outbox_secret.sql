-- Messages whose body must not outlive its delivery (one-time codes): the body is replaced
-- when the message is marked sent (R-02: codes are kept only as hashes).
ALTER TABLE outbox ADD COLUMN secret INTEGER NOT NULL DEFAULT 0;
