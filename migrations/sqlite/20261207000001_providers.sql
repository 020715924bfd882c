-- Model providers besides Ollama: an OpenAI-compatible endpoint or Anthropic, added by an admin
-- for the whole instance. Their models are offered as `<name>/<model>`. The API key is sealed
-- (see src/secrets.rs): never stored, logged or sent to a browser in plain text.
CREATE TABLE model_providers (
    id          BLOB PRIMARY KEY NOT NULL,
    created_by  BLOB REFERENCES users(id) ON DELETE SET NULL,
    name        TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL CHECK (kind IN ('openai', 'anthropic')),
    base_url    TEXT NOT NULL,
    api_key     TEXT,
    models      TEXT NOT NULL DEFAULT '',
    enabled     INTEGER NOT NULL DEFAULT 1,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

-- A value sealed with the instance's secret key at the first start: a later start with another
-- key finds it does not open, and refuses to start instead of failing on every secret.
CREATE TABLE secret_key_checks (
    id          TEXT PRIMARY KEY NOT NULL,
    sealed      TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
