//! Provider-neutral wire and domain types for rightfit.
//!
//! This crate owns the shapes that every other crate exchanges: a generation request (messages or
//! raw text, sampling, stop sequences, token limit, response format), its response (choices, usage,
//! timings), streamed events, embeddings, log-likelihood scoring, and evaluation records (runs,
//! candidates, per-example results) and what the gateway records (traffic, keys); a cascade
//! calibration's result ([`cascade`]), what is known about running a local model on a device
//! ([`device`]), the models this machine knows of ([`models`]), and what long work reports
//! ([`progress`]). It depends on serde alone (plus `serde_json::Value` for JSON Schemas), so
//! providers, the engine, the evaluator and the gateway can all use it without pulling in an async
//! runtime or an HTTP stack.

pub mod bench_eval;
pub mod cascade;
mod chat;
pub mod device;
mod eval;
pub mod models;
pub mod progress;
mod score;
mod student;
mod summary;
mod tools;
mod traffic;

pub use chat::*;
pub use eval::*;
pub use score::*;
pub use student::*;
pub use summary::*;
pub use tools::*;
pub use traffic::*;
