//! The store: runs, candidates, per-example records and the response cache (to be written).
