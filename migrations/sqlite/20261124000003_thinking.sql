-- What a thinking model thought before it answered: shown folded, kept apart from the answer,
-- and sent back with it in later turns.
ALTER TABLE messages ADD COLUMN thinking TEXT;
