-- Documents (see PostgreSQL's migration of the same name): uploaded files, their bytes when
-- they live in the database, their chunks with embeddings, and an FTS5 index of the chunks.
CREATE TABLE files (
    id               BLOB PRIMARY KEY NOT NULL,
    owner_id         BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('txt', 'md', 'pdf', 'docx', 'csv')),
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
CREATE INDEX files_owner ON files (owner_id, created_at DESC);
CREATE INDEX files_pending ON files (created_at) WHERE status IN ('queued', 'extracting', 'embedding');

CREATE TABLE file_blobs (
    file_id  BLOB PRIMARY KEY NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    bytes    BLOB NOT NULL
);

-- seq: a stable integer key for the FTS5 index (a table's implicit rowid may change on VACUUM).
CREATE TABLE chunks (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    id               BLOB NOT NULL UNIQUE,
    file_id          BLOB NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    owner_id         BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    ordinal          INTEGER NOT NULL,
    page             INTEGER,
    section          TEXT,
    text             TEXT NOT NULL,
    embedding        BLOB,
    embedding_model  TEXT
);
CREATE INDEX chunks_file ON chunks (file_id, ordinal);
CREATE INDEX chunks_owner ON chunks (owner_id);

CREATE VIRTUAL TABLE chunks_fts USING fts5 (
    text, content = 'chunks', content_rowid = 'seq', tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts (rowid, text) VALUES (new.seq, new.text);
END;
CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts (chunks_fts, rowid, text) VALUES ('delete', old.seq, old.text);
END;

-- Documents attached to a conversation: its answers are grounded in them.
CREATE TABLE conversation_files (
    conversation_id  BLOB NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    file_id          BLOB NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    owner_id         BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at       TEXT NOT NULL,
    PRIMARY KEY (conversation_id, file_id)
);
CREATE INDEX conversation_files_file ON conversation_files (file_id);
