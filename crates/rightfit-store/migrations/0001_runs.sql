-- Runs, their candidates and one record per (candidate, example).
-- Values that are queried or aggregated are real columns; free-form structures are JSON text.

CREATE TABLE runs (
    id           TEXT    NOT NULL PRIMARY KEY,
    component    TEXT    NOT NULL,
    started_at   TEXT    NOT NULL,            -- RFC 3339 UTC, so text order is time order
    finished_at  TEXT,
    status       TEXT    NOT NULL CHECK (status IN ('running', 'interrupted', 'finished')),
    config_hash  TEXT    NOT NULL,
    dataset      TEXT    NOT NULL,
    rows_used    INTEGER NOT NULL CHECK (rows_used >= 0),
    rows_skipped INTEGER NOT NULL CHECK (rows_skipped >= 0),
    row_limit    INTEGER CHECK (row_limit >= 0),   -- `limit` is an SQL keyword
    seed         INTEGER NOT NULL,
    meta         TEXT    NOT NULL                   -- JSON
);

CREATE INDEX runs_by_start ON runs (started_at, id);
CREATE INDEX runs_by_component ON runs (component, started_at, id);

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
    PRIMARY KEY (run_id, candidate, example_id),
    FOREIGN KEY (run_id, candidate) REFERENCES candidates (run_id, name) ON DELETE CASCADE
);
