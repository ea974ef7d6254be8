//! The gateway: an OpenAI- and Anthropic-compatible HTTP server in front of a project's models
//! and components.
//!
//! A request names a model (served directly) or a component (served by its policy: pinned,
//! weighted split, shadow, cascade, fallback chain). Requests are parsed into validated requests
//! ([`wire`]), routed by a pure plan ([`plan`]), answered through the same `Provider` trait the
//! evaluator uses ([`answer`]; strategies and cascades run the evaluator's own code), and
//! recorded by a batched writer off the request path ([`recorder`]) into the store, through a
//! local journal written before each answer completes ([`journal`]). Talks to:
//! `rightfit-config` (policies), `rightfit-providers` (models), `rightfit-eval` (strategies,
//! scorers), `rightfit-store` (traffic; keys, their spend and rate-limit buckets, shared by
//! every gateway on the store: [`auth`]).
//!
//! Layers, each using only those above it: [`api`], [`error`], [`wire`], [`plan`] and
//! [`state`] describe; [`app`] is what every request shares; `request` is one request and its
//! traffic record; `shadow` runs shadows; `generate` is the flow of one request (parse, plan,
//! answer, record); [`server`] listens, reloads and shuts down; [`signals`] say when to stop or
//! reload.

pub mod answer;
pub mod api;
pub mod app;
pub mod auth;
pub mod error;
mod generate;
pub mod journal;
mod listen;
pub mod metrics;
pub mod plan;
mod prom_text;
pub mod recorder;
pub mod redact;
mod request;
pub mod server;
mod shadow;
pub mod signals;
mod spend;
mod sse;
pub mod state;
pub mod wire;

pub use api::Api;
pub use app::App;
pub use server::{Gateway, Options, router};
