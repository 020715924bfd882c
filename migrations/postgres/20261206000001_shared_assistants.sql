-- An assistant an admin offers to everyone on the instance: others see it in their list and
-- run conversations with it, but only its owner changes it (its knowledge stays its owner's).
ALTER TABLE assistants ADD COLUMN shared BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX assistants_shared ON assistants (shared) WHERE shared;
