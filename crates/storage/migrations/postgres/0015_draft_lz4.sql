-- A draft's answers (`referrals.data`, several KB of JSON) are compressed each time they
-- are saved: with PostgreSQL's default (pglz) that was the server's largest single cost
-- under a load of draft saves. LZ4 compresses several times faster for about the same
-- size. It needs a server built with LZ4 (PostgreSQL 14 or later, as the common packages
-- are); on one without it the column keeps the default and nothing else changes. Values
-- already stored keep their compression until they are next saved.
DO $$
BEGIN
    EXECUTE 'ALTER TABLE referrals ALTER COLUMN data SET COMPRESSION lz4';
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'referrals.data keeps the default compression: %', SQLERRM;
END
$$;
