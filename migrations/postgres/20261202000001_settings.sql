-- Runtime settings saved from the settings page or PUT /api/v1/settings/{key}: values (JSON
-- text) that override the server's configuration, for everyone or for one person.
CREATE TABLE instance_settings (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE person_settings (
    owner_id    UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (owner_id, key)
);
