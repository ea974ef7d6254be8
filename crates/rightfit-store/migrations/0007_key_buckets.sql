-- Replicas (issue 18): each rate-limited gateway key's token bucket, shared by every gateway on
-- this store. `at` is the database's clock (seconds since 1970, fractional), so replicas with
-- skewed clocks still agree; `taken` says whether the last request was let through.

CREATE TABLE key_buckets (
    key_id TEXT    NOT NULL PRIMARY KEY,   -- a gateway key's id
    tokens REAL    NOT NULL,
    at     REAL    NOT NULL,
    taken  INTEGER NOT NULL CHECK (taken IN (0, 1))
);
