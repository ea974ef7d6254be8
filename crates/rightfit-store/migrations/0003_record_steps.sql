-- Strategies (issue 5): how sure a strategy was of each answer, and the calls it made.

ALTER TABLE records ADD COLUMN confidence REAL;
ALTER TABLE records ADD COLUMN steps TEXT NOT NULL DEFAULT '[]';  -- JSON array of steps
