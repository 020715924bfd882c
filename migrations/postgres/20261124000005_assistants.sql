-- Assistants: a person's presets of model, sampling, system prompt and tools. tools is a JSON
-- array of tool names (TEXT, as on SQLite, so both read it the same way).
CREATE TABLE assistants (
    id             UUID PRIMARY KEY,
    owner_id       UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    description    TEXT NOT NULL,
    model          TEXT NOT NULL,
    temperature    REAL,
    max_tokens     INTEGER,
    system_prompt  TEXT NOT NULL,
    tools          TEXT NOT NULL DEFAULT '[]',
    tools_enabled  BOOLEAN NOT NULL DEFAULT false,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX assistants_owner_name ON assistants (owner_id, lower(name));

-- The assistant a conversation runs with, remembered across turns and reloads.
ALTER TABLE conversations ADD COLUMN assistant_id UUID REFERENCES assistants(id) ON DELETE SET NULL;

-- The shipped presets are given to each person once; deleting them is then for good.
ALTER TABLE users ADD COLUMN assistants_seeded BOOLEAN NOT NULL DEFAULT false;
