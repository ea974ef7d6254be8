-- The whole schema on Postgres: the SQLite migrations 1 to 7 (migrations/) in one, with the same
-- tables, columns and meanings. Differences, each for a reason:
-- - Text that is compared or ordered uses the "C" collation (byte order), as SQLite does, so
--   ids, names and RFC 3339 times sort the same on both and on any server's locale.
-- - `runs.seq` and `candidates.seq` are identity columns: SQLite's rowid order (runs started in
--   the same second, newest first; candidates in the order first put).
-- - Flags are BOOLEAN, floats DOUBLE PRECISION, whole numbers BIGINT.
-- Later changes are new files here and under migrations/, one for each backend.

CREATE TABLE runs (
    seq          BIGINT  GENERATED ALWAYS AS IDENTITY UNIQUE,
    id           TEXT    COLLATE "C" NOT NULL PRIMARY KEY,
    component    TEXT    COLLATE "C" NOT NULL,
    started_at   TEXT    COLLATE "C" NOT NULL,   -- RFC 3339 UTC, so text order is time order
    finished_at  TEXT    COLLATE "C",
    status       TEXT    NOT NULL CHECK (status IN ('running', 'interrupted', 'finished', 'failed')),
    config_hash  TEXT    NOT NULL,
    dataset      TEXT    NOT NULL,
    rows_used    BIGINT  NOT NULL CHECK (rows_used >= 0),
    rows_skipped BIGINT  NOT NULL CHECK (rows_skipped >= 0),
    row_limit    BIGINT  CHECK (row_limit >= 0),
    seed         BIGINT  NOT NULL,
    meta         TEXT    NOT NULL                -- JSON
);

CREATE INDEX runs_by_start ON runs (started_at, seq);
CREATE INDEX runs_by_component ON runs (component, started_at, seq);

CREATE TABLE candidates (
    seq                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id             TEXT   COLLATE "C" NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name               TEXT   COLLATE "C" NOT NULL,
    model              TEXT   NOT NULL,
    strategy           TEXT   NOT NULL,
    params             TEXT   NOT NULL,          -- JSON
    peak_memory_bytes  BIGINT CHECK (peak_memory_bytes >= 0),
    model_memory_bytes BIGINT CHECK (model_memory_bytes >= 0),
    UNIQUE (run_id, name)
);

CREATE TABLE records (
    run_id      TEXT    COLLATE "C" NOT NULL,
    candidate   TEXT    COLLATE "C" NOT NULL,
    example_id  TEXT    COLLATE "C" NOT NULL,
    position    BIGINT  NOT NULL CHECK (position >= 0),
    input       TEXT    NOT NULL,                -- JSON
    output      TEXT,
    reference   TEXT    NOT NULL,                -- JSON
    score       DOUBLE PRECISION,
    scores      TEXT    NOT NULL,                -- JSON object: metric name -> number
    parsed      TEXT,                            -- JSON; NULL when nothing was parsed
    unparseable BOOLEAN NOT NULL,
    latency_ms  DOUBLE PRECISION NOT NULL,
    ttft_ms     DOUBLE PRECISION,
    tokens_in   BIGINT  NOT NULL CHECK (tokens_in >= 0),
    tokens_out  BIGINT  NOT NULL CHECK (tokens_out >= 0),
    cost_usd    DOUBLE PRECISION,
    calls       BIGINT  NOT NULL CHECK (calls >= 0),
    cached      BOOLEAN NOT NULL,
    error       TEXT,
    confidence  DOUBLE PRECISION,
    steps       TEXT    NOT NULL DEFAULT '[]',   -- JSON array of steps
    PRIMARY KEY (run_id, candidate, example_id),
    FOREIGN KEY (run_id, candidate) REFERENCES candidates (run_id, name) ON DELETE CASCADE
);

CREATE TABLE response_cache (
    key        TEXT COLLATE "C" NOT NULL PRIMARY KEY,  -- SHA-256 hex of provider and request
    provider   TEXT NOT NULL,
    response   TEXT NOT NULL,                          -- JSON
    created_at TEXT NOT NULL                           -- RFC 3339 UTC
);

CREATE TABLE traffic (
    id            TEXT    COLLATE "C" NOT NULL PRIMARY KEY,
    at            TEXT    COLLATE "C" NOT NULL,   -- RFC 3339 UTC with milliseconds
    api           TEXT    NOT NULL,
    key_id        TEXT    COLLATE "C",            -- no foreign key: the log outlives keys
    component     TEXT    COLLATE "C",
    requested     TEXT    NOT NULL,
    route         TEXT    NOT NULL,
    candidate     TEXT    COLLATE "C" NOT NULL,
    role          TEXT    COLLATE "C" NOT NULL CHECK (role IN ('primary', 'shadow')),
    parent        TEXT    COLLATE "C",            -- a shadow's primary
    input         TEXT    NOT NULL,               -- JSON: {"messages": [...], "params": {...}}
    output        TEXT,
    finish_reason TEXT,
    stream        BOOLEAN NOT NULL,
    status        BIGINT  NOT NULL CHECK (status BETWEEN 0 AND 65535),
    error         TEXT,
    latency_ms    DOUBLE PRECISION NOT NULL,
    ttft_ms       DOUBLE PRECISION,
    tokens_in     BIGINT  NOT NULL CHECK (tokens_in >= 0),
    tokens_out    BIGINT  NOT NULL CHECK (tokens_out >= 0),
    cost_usd      DOUBLE PRECISION,
    escalated     BOOLEAN NOT NULL,
    confidence    DOUBLE PRECISION,
    score         DOUBLE PRECISION,
    steps         TEXT    NOT NULL DEFAULT '[]',  -- JSON array of steps
    tool_calls    TEXT    NOT NULL DEFAULT '[]'   -- JSON array of the answer's tool calls
);

CREATE INDEX traffic_by_component ON traffic (component, at);
CREATE INDEX traffic_by_parent ON traffic (parent);
CREATE INDEX traffic_by_time ON traffic (at);

CREATE TABLE gateway_keys (
    id                  TEXT   COLLATE "C" NOT NULL PRIMARY KEY,
    name                TEXT   COLLATE "C" NOT NULL CONSTRAINT gateway_keys_name UNIQUE,
    hash                TEXT   COLLATE "C" NOT NULL UNIQUE,  -- SHA-256 hex of the secret
    prefix              TEXT   NOT NULL,
    created_at          TEXT   COLLATE "C" NOT NULL,         -- RFC 3339 UTC
    revoked_at          TEXT,
    requests_per_minute BIGINT CHECK (requests_per_minute >= 0),
    budget_usd          DOUBLE PRECISION,
    spent_usd           DOUBLE PRECISION NOT NULL DEFAULT 0
);

-- Each rate-limited key's token bucket, shared by every gateway on this store; `at` is the
-- database's clock in seconds since 1970.
CREATE TABLE key_buckets (
    key_id TEXT             COLLATE "C" NOT NULL PRIMARY KEY,
    tokens DOUBLE PRECISION NOT NULL,
    at     DOUBLE PRECISION NOT NULL,
    taken  BOOLEAN          NOT NULL
);
