-- The conversation a branch was made from (POST /api/v1/messages/{id}/branch): the branch's
-- page links back to it. Deleting that conversation leaves the branch, without the link.
ALTER TABLE conversations ADD COLUMN branched_from BLOB REFERENCES conversations(id) ON DELETE SET NULL;
CREATE INDEX conversations_branched_from ON conversations (branched_from) WHERE branched_from IS NOT NULL;
