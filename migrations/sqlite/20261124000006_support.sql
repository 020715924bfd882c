-- The customer support toolset: a person's notes (the knowledge base the agent searches),
-- tickets, and escalations flagged for an administrator (see PostgreSQL's migration).
CREATE TABLE notes (
    id          BLOB PRIMARY KEY NOT NULL,
    owner_id    BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    title       TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX notes_owner ON notes (owner_id, updated_at DESC);

CREATE TABLE tickets (
    id           BLOB PRIMARY KEY NOT NULL,
    owner_id     BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    number       INTEGER NOT NULL,
    subject      TEXT NOT NULL,
    description  TEXT NOT NULL,
    customer     TEXT,
    priority     TEXT NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    status       TEXT NOT NULL CHECK (status IN ('open', 'escalated', 'closed')),
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE UNIQUE INDEX tickets_owner_number ON tickets (owner_id, number);

CREATE TABLE escalations (
    id           BLOB PRIMARY KEY NOT NULL,
    owner_id     BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    ticket_id    BLOB REFERENCES tickets(id) ON DELETE SET NULL,
    reason       TEXT NOT NULL,
    severity     TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    created_at   TEXT NOT NULL,
    resolved_at  TEXT
);
CREATE INDEX escalations_open ON escalations (resolved_at, created_at);
