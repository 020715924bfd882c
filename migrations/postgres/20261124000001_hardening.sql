-- Which instance writes a streaming answer, and when it last showed it was alive. Start-up and
-- the periodic sweep interrupt only rows whose heartbeat is stale, so a starting instance never
-- interrupts answers that another live instance is writing.
ALTER TABLE messages ADD COLUMN instance_id UUID;
ALTER TABLE messages ADD COLUMN heartbeat_at TIMESTAMPTZ;

-- One answer at a time per conversation, enforced by the database. Older duplicates (possible
-- before this index existed) are interrupted first.
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
    id          UUID PRIMARY KEY,
    owner_id    UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    subject_id  UUID NOT NULL,
    payload     TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX outbox_kind_id ON outbox (kind, id);

-- Watchers on other instances follow a streaming answer through LISTEN/NOTIFY instead of
-- polling: every change of text or status announces the message id.
CREATE FUNCTION ollamastack_notify_message() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('ollamastack_messages', NEW.id::text);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER messages_notify AFTER UPDATE ON messages FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.content IS DISTINCT FROM NEW.content)
    EXECUTE FUNCTION ollamastack_notify_message();

-- Sampling options of a conversation, sent with each of its turns unless a turn sets its own.
ALTER TABLE conversations ADD COLUMN temperature REAL;
ALTER TABLE conversations ADD COLUMN num_predict INTEGER;
ALTER TABLE conversations ADD COLUMN num_ctx INTEGER;
