-- Agent steps: an assistant message may carry tool calls (JSON), and a tool message records
-- the tool that ran (its call in tool_calls, its result in content, its time in duration_ms).
ALTER TABLE messages ADD COLUMN tool_calls TEXT;
ALTER TABLE messages ADD COLUMN tool_name TEXT;
