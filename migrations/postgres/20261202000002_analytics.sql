-- Analytics, recorded from the outbox by a background task: one row per event (its id is the
-- outbox event's, so recording twice is recording once), and rollups by hour kept in the same
-- transaction, which reports read whatever the number of events.
CREATE TABLE analytics_events (
    id                 UUID PRIMARY KEY,
    owner_id           UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind               TEXT NOT NULL,
    at                 TIMESTAMPTZ NOT NULL,
    model              TEXT,
    status             TEXT,
    prompt_tokens      BIGINT,
    completion_tokens  BIGINT,
    ttft_ms            BIGINT,
    duration_ms        BIGINT
);
CREATE INDEX analytics_events_at ON analytics_events (at);
CREATE INDEX analytics_events_owner_at ON analytics_events (owner_id, at);

CREATE TABLE analytics_hourly (
    owner_id           UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    hour               TIMESTAMPTZ NOT NULL,
    kind               TEXT NOT NULL,
    model              TEXT NOT NULL,
    status             TEXT NOT NULL,
    events             BIGINT NOT NULL,
    prompt_tokens      BIGINT NOT NULL,
    completion_tokens  BIGINT NOT NULL,
    duration_ms_sum    BIGINT NOT NULL,
    duration_count     BIGINT NOT NULL,
    ttft_ms_sum        BIGINT NOT NULL,
    ttft_count         BIGINT NOT NULL,
    rate_tokens        BIGINT NOT NULL,
    rate_ms            BIGINT NOT NULL,
    PRIMARY KEY (owner_id, hour, kind, model, status)
);

-- Complete answers per latency bucket (2% wide) and hour: percentiles within 1%.
CREATE TABLE analytics_latency (
    owner_id  UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    hour      TIMESTAMPTZ NOT NULL,
    metric    TEXT NOT NULL,
    bucket    INTEGER NOT NULL,
    count     BIGINT NOT NULL,
    PRIMARY KEY (owner_id, hour, metric, bucket)
);

-- By day (UTC): what the 7- and 30-day reports read.
CREATE TABLE analytics_daily (
    owner_id           UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    day                TIMESTAMPTZ NOT NULL,
    kind               TEXT NOT NULL,
    model              TEXT NOT NULL,
    status             TEXT NOT NULL,
    events             BIGINT NOT NULL,
    prompt_tokens      BIGINT NOT NULL,
    completion_tokens  BIGINT NOT NULL,
    duration_ms_sum    BIGINT NOT NULL,
    duration_count     BIGINT NOT NULL,
    ttft_ms_sum        BIGINT NOT NULL,
    ttft_count         BIGINT NOT NULL,
    rate_tokens        BIGINT NOT NULL,
    rate_ms            BIGINT NOT NULL,
    PRIMARY KEY (owner_id, day, kind, model, status)
);

-- The same by day (UTC), which the 7- and 30-day reports read.
CREATE TABLE analytics_latency_daily (
    owner_id  UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    day       TIMESTAMPTZ NOT NULL,
    metric    TEXT NOT NULL,
    bucket    INTEGER NOT NULL,
    count     BIGINT NOT NULL,
    PRIMARY KEY (owner_id, day, metric, bucket)
);

-- What analytics has not recorded yet is found among the newest outbox events.
CREATE INDEX outbox_created_at ON outbox (created_at);
