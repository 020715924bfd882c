-- Personal API tokens: shown once, stored as the SHA-256 of the token.
CREATE TABLE api_tokens (
    id            UUID PRIMARY KEY,
    owner_id      UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    token_hash    BYTEA NOT NULL UNIQUE,
    scope         TEXT NOT NULL CHECK (scope IN ('read', 'read_write')),
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ,
    last_used_at  TIMESTAMPTZ,
    revoked_at    TIMESTAMPTZ
);
CREATE INDEX api_tokens_owner ON api_tokens (owner_id, created_at DESC);
