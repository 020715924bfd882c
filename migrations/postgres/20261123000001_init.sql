-- Ids are UUIDv7 (time-ordered, so they also break ties in listings).
CREATE TABLE users (
    id          UUID PRIMARY KEY,
    username    TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE conversations (
    id             UUID PRIMARY KEY,
    owner_id       UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    title          TEXT NOT NULL,
    model          TEXT NOT NULL,
    system_prompt  TEXT,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);
-- The sidebar: one owner's conversations, newest first.
CREATE INDEX conversations_owner_updated ON conversations (owner_id, updated_at DESC, id DESC);

CREATE TABLE messages (
    id                 UUID PRIMARY KEY,
    conversation_id    UUID NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    owner_id           UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role               TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
    content            TEXT NOT NULL,
    model              TEXT,
    status             TEXT NOT NULL CHECK (status IN ('streaming', 'complete', 'stopped', 'interrupted', 'error')),
    error              TEXT,
    prompt_tokens      BIGINT,
    completion_tokens  BIGINT,
    ttft_ms            BIGINT,
    duration_ms        BIGINT,
    done_reason        TEXT,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL
);
-- A conversation's messages in order.
CREATE INDEX messages_conversation_order ON messages (conversation_id, created_at, id);
CREATE INDEX messages_owner ON messages (owner_id);
-- Start-up recovery looks for rows left streaming.
CREATE INDEX messages_streaming ON messages (status) WHERE status = 'streaming';
