-- Tool calling (issue 19): the tools a traffic record's answer called, as a JSON array of
-- {"id", "name", "arguments"} (arguments as the model wrote them, redacted like the output).
-- Records from before have none.

ALTER TABLE traffic ADD COLUMN tool_calls TEXT NOT NULL DEFAULT '[]';
