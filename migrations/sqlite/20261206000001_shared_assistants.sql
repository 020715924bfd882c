-- An assistant an admin offers to everyone on the instance (see PostgreSQL's migration of the
-- same name).
ALTER TABLE assistants ADD COLUMN shared INTEGER NOT NULL DEFAULT 0;
CREATE INDEX assistants_shared ON assistants (shared) WHERE shared;
