-- How many referrals carry each word of children's names, kept by triggers in the same
-- transaction as every change to referral_name_words (including the cascade when a
-- referral is deleted): a search for one whole name gets its total from one row instead
-- of counting every referral that carries the word.
CREATE TABLE referral_name_word_counts (
    word TEXT NOT NULL PRIMARY KEY,
    n INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO referral_name_word_counts (word, n)
    SELECT word, COUNT(*) FROM referral_name_words GROUP BY word;

CREATE TRIGGER referral_name_word_counts_insert AFTER INSERT ON referral_name_words
BEGIN
    INSERT INTO referral_name_word_counts (word, n) VALUES (NEW.word, 1)
        ON CONFLICT (word) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER referral_name_word_counts_delete AFTER DELETE ON referral_name_words
BEGIN
    UPDATE referral_name_word_counts SET n = n - 1 WHERE word = OLD.word;
    DELETE FROM referral_name_word_counts WHERE word = OLD.word AND n <= 0;
END;

CREATE TRIGGER referral_name_word_counts_update AFTER UPDATE OF word ON referral_name_words
WHEN OLD.word IS NOT NEW.word
BEGIN
    UPDATE referral_name_word_counts SET n = n - 1 WHERE word = OLD.word;
    DELETE FROM referral_name_word_counts WHERE word = OLD.word AND n <= 0;
    INSERT INTO referral_name_word_counts (word, n) VALUES (NEW.word, 1)
        ON CONFLICT (word) DO UPDATE SET n = n + 1;
END;
