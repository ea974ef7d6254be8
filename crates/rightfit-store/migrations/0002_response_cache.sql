-- Model answers by the content hash of the request, shared by every run.

CREATE TABLE response_cache (
    key        TEXT NOT NULL PRIMARY KEY,   -- SHA-256 hex of provider and request
    provider   TEXT NOT NULL,
    response   TEXT NOT NULL,               -- JSON
    created_at TEXT NOT NULL                -- RFC 3339 UTC
);
