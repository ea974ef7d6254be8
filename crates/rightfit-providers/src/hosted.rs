//! Providers reached over HTTP: OpenAI, Anthropic, Gemini and OpenAI-compatible servers.
//!
//! One transport ([`HostedProvider`]) does the I/O for every protocol: connect, first-byte and
//! total timeouts, retries with backoff and `Retry-After`, client-side rate limits, key
//! redaction, and the endpoint pool of a model served by several servers (a fleet: least-loaded
//! balancing, ejection of failing endpoints, see [`EndpointStats`]). What differs between
//! protocols is a [`codec::Codec`].

pub(crate) mod anthropic;
pub(crate) mod codec;
pub(crate) mod gemini;
pub(crate) mod openai;
pub(crate) mod pool;
mod ratelimit;
mod retry;
pub mod sse;
mod tool_request;
mod transport;

#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod tool_tests;

pub use pool::{Ejection, EndpointStats};
pub use transport::HostedProvider;
