-- What the agent's database query tool may read: views over the asking person's own rows, in a
-- schema of their own. The tool logs in as a role that may only SELECT from these views (granted
-- at start, see tools/query.rs); the views run with their owner's rights, so that role needs
-- nothing on the tables.
--
-- Whose rows: the tool's connection is mapped to the asking person (by its backend pid) in
-- agent_query_sessions, written through the main pool just before each query. The reader role
-- cannot write that table, and unlike a setting it cannot change the mapping from inside SQL.
CREATE TABLE agent_query_sessions (
    backend_pid  INTEGER PRIMARY KEY,
    owner_id     UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    started_at   TIMESTAMPTZ NOT NULL
);

CREATE SCHEMA agent_query;

-- security_barrier: the person's filter runs before any condition the query adds, so a
-- condition cannot see (through an error or a side effect) rows the filter removes.
CREATE VIEW agent_query.conversations WITH (security_barrier) AS
SELECT c.id, c.title, c.model, c.system_prompt, c.temperature, c.created_at, c.updated_at
FROM conversations c
WHERE c.owner_id = (SELECT s.owner_id FROM agent_query_sessions s WHERE s.backend_pid = pg_backend_pid());

CREATE VIEW agent_query.messages WITH (security_barrier) AS
SELECT m.id, m.conversation_id, m.role, m.content, m.model, m.status, m.error,
       m.prompt_tokens, m.completion_tokens, m.ttft_ms, m.duration_ms, m.done_reason,
       m.tool_name, m.created_at
FROM messages m
WHERE m.owner_id = (SELECT s.owner_id FROM agent_query_sessions s WHERE s.backend_pid = pg_backend_pid());
