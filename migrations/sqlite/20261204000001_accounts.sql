-- Accounts: a password (argon2id, PHC string), a role, and whether the person may sign in.
-- The single-user mode's `local` person has no password until the first admin takes it over.
ALTER TABLE users ADD COLUMN password_hash TEXT;
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('admin', 'user'));
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;

-- One row once the instance has its first admin: a concurrent second "first" sign-up conflicts.
CREATE TABLE instance_setup (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    admin_id    BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  TEXT NOT NULL
);

-- Sessions by the SHA-256 of their token (the token itself is only in the browser's cookie).
CREATE TABLE sessions (
    token_hash    BLOB PRIMARY KEY NOT NULL,
    user_id       BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at    TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    user_agent    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Invitations by the SHA-256 of their token; used once.
CREATE TABLE invitations (
    id          BLOB PRIMARY KEY NOT NULL,
    token_hash  BLOB NOT NULL UNIQUE,
    role        TEXT NOT NULL CHECK (role IN ('admin', 'user')),
    created_by  BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_by     BLOB REFERENCES users(id) ON DELETE SET NULL,
    used_at     TEXT
);
