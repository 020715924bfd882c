-- Earlier answers to a person's message, kept when the answer is regenerated or when another
-- of them is shown instead (the page's "‹ 2/3 ›"). A version holds everything that followed
-- the person's message when it was put aside: the answer (every step of an agent run), and,
-- when an earlier answer was switched, the rest of the conversation after it.
--
-- `answers_id` is the person's message. It has no foreign key: that message may itself be
-- inside another version (it comes back with it). Versions whose message is gone are deleted
-- by the statements that delete messages (db/mod.rs, `drop_orphan_versions_in`).
CREATE TABLE answer_versions (
    id               BLOB PRIMARY KEY NOT NULL,
    conversation_id  BLOB NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    owner_id         BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    answers_id       BLOB NOT NULL,
    -- When its first message was written: versions are numbered in this order.
    created_at       TEXT NOT NULL
);
CREATE INDEX answer_versions_answers ON answer_versions (conversation_id, answers_id);
CREATE INDEX answer_versions_owner ON answer_versions (owner_id);

-- The messages of a version, as they were (same ids and times): showing the version moves
-- them back into `messages`.
CREATE TABLE answer_version_messages (
    id                 BLOB PRIMARY KEY NOT NULL,
    version_id         BLOB NOT NULL REFERENCES answer_versions(id) ON DELETE CASCADE,
    conversation_id    BLOB NOT NULL,
    owner_id           BLOB NOT NULL,
    role               TEXT NOT NULL,
    content            TEXT NOT NULL,
    model              TEXT,
    status             TEXT NOT NULL,
    error              TEXT,
    tool_calls         TEXT,
    tool_name          TEXT,
    thinking           TEXT,
    charts             TEXT,
    sources            TEXT,
    attachments        TEXT,
    prompt_tokens      INTEGER,
    completion_tokens  INTEGER,
    ttft_ms            INTEGER,
    duration_ms        INTEGER,
    done_reason        TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);
CREATE INDEX answer_version_messages_version ON answer_version_messages (version_id);
CREATE INDEX answer_version_messages_conversation ON answer_version_messages (conversation_id);
