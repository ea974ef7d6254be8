//! The [`Provider`] trait: the one seam through which rightfit calls any model.
//!
//! The embedded llama.cpp engine (`rightfit-llama`) implements it today; hosted APIs (OpenAI,
//! Anthropic, Gemini) and OpenAI-compatible servers implement it in this crate. The evaluator and
//! the gateway only ever see `dyn Provider`, so anything that can be evaluated can be served.
//! Requests and responses are the provider-neutral types of `rightfit-types`.

mod error;
pub mod hosted;
mod provider;

pub use error::ProviderError;
pub use hosted::{Ejection, EndpointStats, HostedProvider};
pub use provider::{
    Capabilities, EventStream, Health, MemoryUse, Provider, collect_stream, unit_length,
};
