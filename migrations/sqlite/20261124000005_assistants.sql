-- Assistants: a person's presets of model, sampling, system prompt and tools (see PostgreSQL's
-- migration of the same name). tools is a JSON array of tool names.
CREATE TABLE assistants (
    id             BLOB PRIMARY KEY NOT NULL,
    owner_id       BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    description    TEXT NOT NULL,
    model          TEXT NOT NULL,
    temperature    REAL,
    max_tokens     INTEGER,
    system_prompt  TEXT NOT NULL,
    tools          TEXT NOT NULL DEFAULT '[]',
    tools_enabled  INTEGER NOT NULL DEFAULT 0,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE UNIQUE INDEX assistants_owner_name ON assistants (owner_id, lower(name));

-- The assistant a conversation runs with, remembered across turns and reloads.
ALTER TABLE conversations ADD COLUMN assistant_id BLOB REFERENCES assistants(id) ON DELETE SET NULL;

-- The shipped presets are given to each person once; deleting them is then for good.
ALTER TABLE users ADD COLUMN assistants_seeded INTEGER NOT NULL DEFAULT 0;
