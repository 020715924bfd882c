-- An assistant's knowledge: documents every conversation with it is grounded in.
CREATE TABLE assistant_files (
    assistant_id  UUID NOT NULL REFERENCES assistants(id) ON DELETE CASCADE,
    file_id       UUID NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    owner_id      UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (assistant_id, file_id)
);
CREATE INDEX assistant_files_file ON assistant_files (file_id);

-- What a conversation's answers are grounded in: the files attached to it, and the knowledge
-- of the assistant it runs with (the same person's only).
CREATE VIEW conversation_knowledge AS
    SELECT conversation_id, file_id, owner_id FROM conversation_files
    UNION
    SELECT c.id, k.file_id, k.owner_id
    FROM conversations c JOIN assistant_files k ON k.assistant_id = c.assistant_id AND k.owner_id = c.owner_id;
