-- How many referrals carry each word of children's names, kept by triggers in the same
-- transaction as every change to referral_name_words (including the cascade when a
-- referral is deleted): a search for one whole name gets its total from one row instead
-- of counting every referral that carries the word.
CREATE TABLE referral_name_word_counts (
    word TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    n BIGINT NOT NULL
);

INSERT INTO referral_name_word_counts (word, n)
    SELECT word, COUNT(*) FROM referral_name_words GROUP BY word;

-- Once per statement, from the rows it changed, each word's row taken in word order:
-- two transactions adding the same words lock their counters in the same order.
CREATE FUNCTION referral_name_word_counts_add() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO referral_name_word_counts (word, n)
        SELECT word, COUNT(*) FROM new_rows GROUP BY word ORDER BY word
        ON CONFLICT (word) DO UPDATE SET n = referral_name_word_counts.n + EXCLUDED.n;
    RETURN NULL;
END
$$;

CREATE FUNCTION referral_name_word_counts_remove() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE referral_name_word_counts c SET n = c.n - d.n
        FROM (SELECT word, COUNT(*) AS n FROM old_rows GROUP BY word) d
        WHERE c.word = d.word;
    DELETE FROM referral_name_word_counts c
        WHERE c.n <= 0 AND c.word IN (SELECT word FROM old_rows);
    RETURN NULL;
END
$$;

CREATE TRIGGER referral_name_word_counts_insert AFTER INSERT ON referral_name_words
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION referral_name_word_counts_add();
CREATE TRIGGER referral_name_word_counts_delete AFTER DELETE ON referral_name_words
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION referral_name_word_counts_remove();
-- A word changed in place (nothing does that today, but the counts must not drift).
CREATE TRIGGER referral_name_word_counts_update_old AFTER UPDATE ON referral_name_words
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION referral_name_word_counts_remove();
CREATE TRIGGER referral_name_word_counts_update_new AFTER UPDATE ON referral_name_words
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION referral_name_word_counts_add();
