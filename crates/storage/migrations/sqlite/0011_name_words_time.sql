-- The child-name search's page in order received: each word's referrals from an index
-- in time order (a search for a whole name walks one such range; a prefix covering a few
-- words merges their walks) instead of collecting and sorting every match.
CREATE INDEX referral_name_words_time ON referral_name_words(word, submitted_at, referral_id);
