-- Personal API tokens: shown once, stored as the SHA-256 of the token.
CREATE TABLE api_tokens (
    id            BLOB PRIMARY KEY NOT NULL,
    owner_id      BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    token_hash    BLOB NOT NULL UNIQUE,
    scope         TEXT NOT NULL CHECK (scope IN ('read', 'read_write')),
    created_at    TEXT NOT NULL,
    expires_at    TEXT,
    last_used_at  TEXT,
    revoked_at    TEXT
);
CREATE INDEX api_tokens_owner ON api_tokens (owner_id, created_at DESC);
