-- Every instance hears at once that outbox events were committed (by any instance), so that
-- people's live event streams (GET /api/v1/events) need not wait for a timed read. One
-- notification per statement; PostgreSQL also folds identical ones within a transaction.
CREATE FUNCTION ollamastack_notify_outbox() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('ollamastack_outbox', '');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT
    EXECUTE FUNCTION ollamastack_notify_outbox();
