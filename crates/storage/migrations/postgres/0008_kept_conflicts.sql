-- Kept answers (pending_saves) are either waiting for their author to sign in again
-- ('kept'), or were replayed onto a draft that had changed in the same section since and
-- wait for the author to choose between the two ('conflict'). Never silently dropped.
ALTER TABLE pending_saves ADD COLUMN kind TEXT NOT NULL DEFAULT 'kept';
