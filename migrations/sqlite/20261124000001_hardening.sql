-- Which instance writes a streaming answer, and when it last showed it was alive (see the
-- PostgreSQL migration of the same name).
ALTER TABLE messages ADD COLUMN instance_id BLOB;
ALTER TABLE messages ADD COLUMN heartbeat_at TEXT;

-- One answer at a time per conversation, enforced by the database.
UPDATE messages SET status = 'interrupted', error = 'the server stopped before this answer was complete'
WHERE status = 'streaming' AND EXISTS (
    SELECT 1 FROM messages later
    WHERE later.conversation_id = messages.conversation_id
      AND later.status = 'streaming' AND later.id > messages.id
);
CREATE UNIQUE INDEX messages_one_streaming_per_conversation
    ON messages (conversation_id) WHERE status = 'streaming';

-- Events for later features (analytics, webhooks), written in the same transaction as the change
-- they describe, and consumed in id order.
CREATE TABLE outbox (
    id          BLOB PRIMARY KEY NOT NULL,
    owner_id    BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    subject_id  BLOB NOT NULL,
    payload     TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX outbox_kind_id ON outbox (kind, id);

-- Sampling options of a conversation, sent with each of its turns unless a turn sets its own.
ALTER TABLE conversations ADD COLUMN temperature REAL;
ALTER TABLE conversations ADD COLUMN num_predict INTEGER;
ALTER TABLE conversations ADD COLUMN num_ctx INTEGER;
