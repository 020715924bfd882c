-- Webhooks: a person's (or, set by an admin, the instance's) URL and the events it wants. The
-- secret signs each delivery (HMAC-SHA256); it has to be kept as it is to sign with.
CREATE TABLE webhooks (
    id             BLOB PRIMARY KEY NOT NULL,
    owner_id       BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    url            TEXT NOT NULL,
    events         TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    secret         TEXT NOT NULL,
    enabled        INTEGER NOT NULL DEFAULT 1,
    instance_wide  INTEGER NOT NULL DEFAULT 0,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX webhooks_owner ON webhooks (owner_id, created_at);

-- One delivery per webhook and event, its body fixed when it is made (a retry sends the same
-- bytes); `lease_until` is how long the instance that took it may work on it.
CREATE TABLE webhook_deliveries (
    id               BLOB PRIMARY KEY NOT NULL,
    webhook_id       BLOB NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    owner_id         BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    event_id         BLOB NOT NULL,
    event            TEXT NOT NULL,
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    response_status  INTEGER,
    error            TEXT,
    duration_ms      INTEGER,
    next_attempt_at  TEXT NOT NULL,
    lease_until      TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    delivered_at     TEXT,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (webhook_id, created_at DESC);

-- Outbox events already turned into deliveries (whoever did it): each is fanned out once.
CREATE TABLE webhook_fanout (
    event_id    BLOB PRIMARY KEY NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX webhook_fanout_created_at ON webhook_fanout (created_at);
