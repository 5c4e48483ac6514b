-- Drafts to purge are found through an index of drafts alone, without their save time.
-- Every draft save changes `saved_at`: while it was in an index (status, saved_at), each
-- save also rewrote that index's entry and, on PostgreSQL, an entry in every other index
-- of the table (eleven), since a row whose indexed columns change cannot be updated in
-- place (a "HOT" update). The purge reads the few drafts' save times from the rows.
DROP INDEX referrals_status_saved;
CREATE INDEX referrals_drafts ON referrals (id) WHERE status = 'draft';
-- Room in each page for a saved draft's new version next to the old one, so that the
-- update can stay on the page (a HOT update needs the space).
ALTER TABLE referrals SET (fillfactor = 80);
