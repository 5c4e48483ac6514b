-- The children's dates of birth as the tray needs them for the age column:
-- ';'-separated, each "YYYY-MM-DD", "YYYY-MM-DD~" (estimated) or "unborn".
ALTER TABLE referrals ADD COLUMN child_dobs TEXT;
