-- The images and documents sent with a person's message (JSON; NULL when none).
ALTER TABLE messages ADD COLUMN attachments TEXT;

-- Images are files too (sent to vision models, never indexed).
ALTER TABLE files DROP CONSTRAINT files_kind_check;
ALTER TABLE files ADD CONSTRAINT files_kind_check
    CHECK (kind IN ('txt', 'md', 'pdf', 'docx', 'csv', 'png', 'jpeg', 'gif', 'webp'));
