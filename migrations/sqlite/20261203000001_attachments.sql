-- The images and documents sent with a person's message (JSON; NULL when none).
ALTER TABLE messages ADD COLUMN attachments TEXT;

-- Images are files too. SQLite cannot change a CHECK constraint, so the table is rebuilt. This
-- runs inside the migration's transaction, where foreign keys cannot be switched off: with
-- legacy_alter_table the rename leaves the other tables' REFERENCES files(id) pointing at the
-- name "files", and dropping the old copy cascades to nothing (nothing refers to files_old).
PRAGMA legacy_alter_table = ON;
ALTER TABLE files RENAME TO files_old;
CREATE TABLE files (
    id               BLOB PRIMARY KEY NOT NULL,
    owner_id         BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('txt', 'md', 'pdf', 'docx', 'csv', 'png', 'jpeg', 'gif', 'webp')),
    media_type       TEXT NOT NULL,
    size_bytes       INTEGER NOT NULL,
    stored_in        TEXT NOT NULL CHECK (stored_in IN ('disk', 'database')),
    status           TEXT NOT NULL CHECK (status IN ('queued', 'extracting', 'embedding', 'ready', 'failed')),
    error            TEXT,
    pages            INTEGER,
    chunk_count      INTEGER NOT NULL DEFAULT 0,
    embedded_count   INTEGER NOT NULL DEFAULT 0,
    embedding_model  TEXT,
    extracted        INTEGER NOT NULL DEFAULT 0,
    instance_id      BLOB,
    heartbeat_at     TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
INSERT INTO files (id, owner_id, name, kind, media_type, size_bytes, stored_in, status, error, pages,
                   chunk_count, embedded_count, embedding_model, extracted, instance_id, heartbeat_at,
                   created_at, updated_at)
SELECT id, owner_id, name, kind, media_type, size_bytes, stored_in, status, error, pages,
       chunk_count, embedded_count, embedding_model, extracted, instance_id, heartbeat_at,
       created_at, updated_at
FROM files_old;
DROP TABLE files_old;
PRAGMA legacy_alter_table = OFF;
CREATE INDEX files_owner ON files (owner_id, created_at DESC);
CREATE INDEX files_pending ON files (created_at) WHERE status IN ('queued', 'extracting', 'embedding');
