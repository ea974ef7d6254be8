-- A run that ends by error is `failed` (its reason in meta.error), so runs.status allows it.
--
-- SQLite cannot change a CHECK constraint in place, so `runs` is rebuilt, and with it the two
-- tables that reference it. sqlx runs a migration in a transaction, where foreign keys cannot be
-- switched off: dropping `runs` would cascade-delete every candidate and record, and renaming
-- it rewrites its children's REFERENCES to follow the new name. So the three tables are renamed
-- aside (child first; each rename carries the references along), created afresh under their own
-- names with the same columns, filled from the old ones, and the old ones dropped child first,
-- when nothing references them any more. Indexes go with the old tables and are made again.

ALTER TABLE records RENAME TO records_before_0005;
ALTER TABLE candidates RENAME TO candidates_before_0005;
ALTER TABLE runs RENAME TO runs_before_0005;

CREATE TABLE runs (
    id           TEXT    NOT NULL PRIMARY KEY,
    component    TEXT    NOT NULL,
    started_at   TEXT    NOT NULL,            -- RFC 3339 UTC, so text order is time order
    finished_at  TEXT,
    status       TEXT    NOT NULL CHECK (status IN ('running', 'interrupted', 'finished', 'failed')),
    config_hash  TEXT    NOT NULL,
    dataset      TEXT    NOT NULL,
    rows_used    INTEGER NOT NULL CHECK (rows_used >= 0),
    rows_skipped INTEGER NOT NULL CHECK (rows_skipped >= 0),
    row_limit    INTEGER CHECK (row_limit >= 0),   -- `limit` is an SQL keyword
    seed         INTEGER NOT NULL,
    meta         TEXT    NOT NULL                   -- JSON
);

CREATE TABLE candidates (
    seq                INTEGER NOT NULL PRIMARY KEY,  -- insertion order; an upsert keeps it
    run_id             TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name               TEXT    NOT NULL,
    model              TEXT    NOT NULL,
    strategy           TEXT    NOT NULL,
    params             TEXT    NOT NULL,              -- JSON
    peak_memory_bytes  INTEGER CHECK (peak_memory_bytes >= 0),
    model_memory_bytes INTEGER CHECK (model_memory_bytes >= 0),
    UNIQUE (run_id, name)
);

CREATE TABLE records (
    run_id      TEXT    NOT NULL,
    candidate   TEXT    NOT NULL,
    example_id  TEXT    NOT NULL,
    position    INTEGER NOT NULL CHECK (position >= 0),
    input       TEXT    NOT NULL,                     -- JSON
    output      TEXT,
    reference   TEXT    NOT NULL,                     -- JSON
    score       REAL,
    scores      TEXT    NOT NULL,                     -- JSON object: metric name -> number
    parsed      TEXT,                                 -- JSON; NULL when nothing was parsed
    unparseable INTEGER NOT NULL CHECK (unparseable IN (0, 1)),
    latency_ms  REAL    NOT NULL,
    ttft_ms     REAL,
    tokens_in   INTEGER NOT NULL CHECK (tokens_in >= 0),
    tokens_out  INTEGER NOT NULL CHECK (tokens_out >= 0),
    cost_usd    REAL,
    calls       INTEGER NOT NULL CHECK (calls >= 0),
    cached      INTEGER NOT NULL CHECK (cached IN (0, 1)),
    error       TEXT,
    confidence  REAL,
    steps       TEXT    NOT NULL DEFAULT '[]',        -- JSON array of steps
    PRIMARY KEY (run_id, candidate, example_id),
    FOREIGN KEY (run_id, candidate) REFERENCES candidates (run_id, name) ON DELETE CASCADE
);

INSERT INTO runs (id, component, started_at, finished_at, status, config_hash, dataset,
                  rows_used, rows_skipped, row_limit, seed, meta)
SELECT id, component, started_at, finished_at, status, config_hash, dataset,
       rows_used, rows_skipped, row_limit, seed, meta
FROM runs_before_0005;

INSERT INTO candidates (seq, run_id, name, model, strategy, params, peak_memory_bytes,
                        model_memory_bytes)
SELECT seq, run_id, name, model, strategy, params, peak_memory_bytes, model_memory_bytes
FROM candidates_before_0005;

INSERT INTO records (run_id, candidate, example_id, position, input, output, reference, score,
                     scores, parsed, unparseable, latency_ms, ttft_ms, tokens_in, tokens_out,
                     cost_usd, calls, cached, error, confidence, steps)
SELECT run_id, candidate, example_id, position, input, output, reference, score,
       scores, parsed, unparseable, latency_ms, ttft_ms, tokens_in, tokens_out,
       cost_usd, calls, cached, error, confidence, steps
FROM records_before_0005;

DROP TABLE records_before_0005;
DROP TABLE candidates_before_0005;
DROP TABLE runs_before_0005;

CREATE INDEX runs_by_start ON runs (started_at, id);
CREATE INDEX runs_by_component ON runs (component, started_at, id);
