//! Integration tests of `rightfit-store`: one binary (see STYLE.md).
//!
//! `conformance` holds behaviour every [`rightfit_store::RunStore`] (and
//! [`rightfit_store::TrafficStore`]) must have, run here against
//! the SQLite store on a file and in memory; `sqlite` holds what is particular to SQLite files
//! (opening, reopening, refusing foreign files, error messages that name the path).

// Clippy allows unwrap in `#[test]` functions only; the shared behaviours and fixtures here are
// plain functions called by tests, where a failed unwrap is a failed test just the same.
#![allow(clippy::unwrap_used)]

mod conformance;
mod first_start;
mod postgres;
mod sqlite;
mod support;
