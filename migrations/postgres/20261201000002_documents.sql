-- Documents: uploaded files (the bytes in file_blobs when they live in the database, the
-- default on PostgreSQL so that every instance can read them), their chunks with embeddings
-- (float32 little-endian, compared in Rust: pgvector is not assumed), and a generated tsvector
-- with a GIN index for keyword search.
CREATE TABLE files (
    id               UUID PRIMARY KEY,
    owner_id         UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('txt', 'md', 'pdf', 'docx', 'csv')),
    media_type       TEXT NOT NULL,
    size_bytes       BIGINT NOT NULL,
    stored_in        TEXT NOT NULL CHECK (stored_in IN ('disk', 'database')),
    status           TEXT NOT NULL CHECK (status IN ('queued', 'extracting', 'embedding', 'ready', 'failed')),
    error            TEXT,
    pages            INTEGER,
    chunk_count      INTEGER NOT NULL DEFAULT 0,
    embedded_count   INTEGER NOT NULL DEFAULT 0,
    embedding_model  TEXT,
    extracted        BOOLEAN NOT NULL DEFAULT false,
    instance_id      UUID,
    heartbeat_at     TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX files_owner ON files (owner_id, created_at DESC);
CREATE INDEX files_pending ON files (created_at) WHERE status IN ('queued', 'extracting', 'embedding');

CREATE TABLE file_blobs (
    file_id  UUID PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
    bytes    BYTEA NOT NULL
);

CREATE TABLE chunks (
    id               UUID PRIMARY KEY,
    file_id          UUID NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    owner_id         UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    ordinal          INTEGER NOT NULL,
    page             INTEGER,
    section          TEXT,
    text             TEXT NOT NULL,
    embedding        BYTEA,
    embedding_model  TEXT,
    tsv              tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED
);
CREATE INDEX chunks_file ON chunks (file_id, ordinal);
CREATE INDEX chunks_owner ON chunks (owner_id);
CREATE INDEX chunks_tsv ON chunks USING GIN (tsv);

-- Documents attached to a conversation: its answers are grounded in them.
CREATE TABLE conversation_files (
    conversation_id  UUID NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    file_id          UUID NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    owner_id         UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (conversation_id, file_id)
);
CREATE INDEX conversation_files_file ON conversation_files (file_id);
