-- The images and documents sent with a person's message (JSON; NULL when none).
ALTER TABLE messages ADD COLUMN attachments TEXT;

-- Images are files too, but SQLite cannot change the CHECK constraint on files.kind, and the
-- table cannot be rebuilt here: this runs inside a transaction, where foreign keys cannot be
-- switched off, and with them on, dropping or renaming `files` empties or rewrites the tables
-- that refer to it. The rebuild runs after the migrations, on a connection of its own
-- (db/sqlite.rs, `admit_image_files`).
