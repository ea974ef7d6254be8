-- The gateway (issue 7): one row per traffic record (a served request, or a shadow call made
-- for one), and the gateway keys. Values that are filtered or aggregated are real columns;
-- the input and the steps are JSON text.

CREATE TABLE traffic (
    id            TEXT    NOT NULL PRIMARY KEY,
    at            TEXT    NOT NULL,                 -- RFC 3339 UTC with milliseconds
    api           TEXT    NOT NULL,
    key_id        TEXT,                             -- a gateway key's id; no foreign key: the log outlives keys
    component     TEXT,
    requested     TEXT    NOT NULL,
    route         TEXT    NOT NULL,
    candidate     TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('primary', 'shadow')),
    parent        TEXT,                             -- a shadow's primary
    input         TEXT    NOT NULL,                 -- JSON: {"messages": [...], "params": {...}}
    output        TEXT,
    finish_reason TEXT,
    stream        INTEGER NOT NULL CHECK (stream IN (0, 1)),
    status        INTEGER NOT NULL CHECK (status BETWEEN 0 AND 65535),
    error         TEXT,
    latency_ms    REAL    NOT NULL,
    ttft_ms       REAL,
    tokens_in     INTEGER NOT NULL CHECK (tokens_in >= 0),
    tokens_out    INTEGER NOT NULL CHECK (tokens_out >= 0),
    cost_usd      REAL,
    escalated     INTEGER NOT NULL CHECK (escalated IN (0, 1)),
    confidence    REAL,
    score         REAL,
    steps         TEXT    NOT NULL DEFAULT '[]'     -- JSON array of steps
);

CREATE INDEX traffic_by_component ON traffic (component, at);
CREATE INDEX traffic_by_parent ON traffic (parent);
CREATE INDEX traffic_by_time ON traffic (at);

CREATE TABLE gateway_keys (
    id                  TEXT    NOT NULL PRIMARY KEY,
    name                TEXT    NOT NULL UNIQUE,
    hash                TEXT    NOT NULL UNIQUE,    -- SHA-256 hex of the secret; never the secret
    prefix              TEXT    NOT NULL,
    created_at          TEXT    NOT NULL,           -- RFC 3339 UTC
    revoked_at          TEXT,
    requests_per_minute INTEGER CHECK (requests_per_minute >= 0),
    budget_usd          REAL,
    spent_usd           REAL    NOT NULL DEFAULT 0
);
