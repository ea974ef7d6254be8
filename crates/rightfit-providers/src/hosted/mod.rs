//! Providers reached over HTTP: OpenAI, Anthropic, Gemini and OpenAI-compatible servers.
//!
//! One transport ([`HostedProvider`]) does the I/O for every protocol: connect, first-byte and
//! total timeouts, retries with backoff and `Retry-After`, client-side rate limits, key
//! redaction. What differs between protocols is a [`codec::Codec`].

// The codecs are used by the transport, which is being written; until it lands they are dead
// code. Remove these `allow`s with it.
#[allow(dead_code)]
pub(crate) mod anthropic;
#[allow(dead_code)]
pub(crate) mod codec;
#[allow(dead_code)]
pub(crate) mod gemini;
#[allow(dead_code)]
pub(crate) mod openai;
mod ratelimit;
mod retry;
pub mod sse;
mod stubs;
mod transport;

pub use transport::HostedProvider;
