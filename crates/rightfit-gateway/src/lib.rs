//! The gateway: an OpenAI- and Anthropic-compatible HTTP server in front of a project's models
//! and components.
//!
//! A request names a model (served directly) or a component (served by its policy: pinned,
//! weighted split, shadow, cascade, fallback chain). Requests are parsed into validated requests
//! ([`wire`]), routed by a pure plan ([`plan`]), answered through the same `Provider` trait the
//! evaluator uses ([`answer`]; strategies and cascades run the evaluator's own code), and
//! recorded by a batched writer off the request path ([`traffic`]) into the store. Talks to:
//! `rightfit-config` (policies), `rightfit-providers` (models), `rightfit-eval` (strategies,
//! scorers), `rightfit-store` (traffic, keys).

pub mod answer;
pub mod auth;
pub mod error;
mod handler;
pub mod metrics;
pub mod plan;
pub mod redact;
pub mod server;
mod shadow;
mod sse;
pub mod state;
pub mod traffic;
pub mod wire;

pub use server::{App, Gateway, Options, router};
