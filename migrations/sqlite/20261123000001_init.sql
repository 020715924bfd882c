-- Ids are UUIDv7 stored as 16-byte BLOBs (time-ordered, so they also break ties in listings);
-- timestamps are RFC 3339 text in UTC.
CREATE TABLE users (
    id          BLOB PRIMARY KEY NOT NULL,
    username    TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);

CREATE TABLE conversations (
    id             BLOB PRIMARY KEY NOT NULL,
    owner_id       BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    title          TEXT NOT NULL,
    model          TEXT NOT NULL,
    system_prompt  TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
-- The sidebar: one owner's conversations, newest first.
CREATE INDEX conversations_owner_updated ON conversations (owner_id, updated_at DESC, id DESC);

CREATE TABLE messages (
    id                 BLOB PRIMARY KEY NOT NULL,
    conversation_id    BLOB NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    owner_id           BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role               TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
    content            TEXT NOT NULL,
    model              TEXT,
    status             TEXT NOT NULL CHECK (status IN ('streaming', 'complete', 'stopped', 'interrupted', 'error')),
    error              TEXT,
    prompt_tokens      INTEGER,
    completion_tokens  INTEGER,
    ttft_ms            INTEGER,
    duration_ms        INTEGER,
    done_reason        TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);
-- A conversation's messages in order.
CREATE INDEX messages_conversation_order ON messages (conversation_id, created_at, id);
CREATE INDEX messages_owner ON messages (owner_id);
-- Start-up recovery looks for rows left streaming.
CREATE INDEX messages_streaming ON messages (status) WHERE status = 'streaming';
