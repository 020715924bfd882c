-- The passages of the person's documents an answer was given with (JSON), for its citations.
ALTER TABLE messages ADD COLUMN sources TEXT;
