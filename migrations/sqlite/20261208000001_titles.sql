-- Where a conversation's title comes from (src/model/mod.rs, TitleSource). A conversation
-- started after this migration is called after its first message until the model names it
-- ('message' → 'titling' → 'model', or 'kept' when the model could not); a rename makes it
-- 'person' and the model never replaces it. Conversations older than this keep their titles
-- ('kept'): some were renamed by hand before renames were recorded.
ALTER TABLE conversations ADD COLUMN title_source TEXT NOT NULL DEFAULT 'kept'
    CHECK (title_source IN ('message', 'titling', 'model', 'person', 'kept'));
-- When an instance took it to be named: one that died while asking leaves it 'titling', and
-- another may take it again once this is older than the time a title may take.
ALTER TABLE conversations ADD COLUMN title_asked_at TEXT;
