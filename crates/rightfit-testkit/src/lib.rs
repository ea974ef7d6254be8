//! Local servers that speak OpenAI's, Anthropic's and Gemini's HTTP protocols exactly — paths,
//! headers, body shapes, SSE framing and error shapes — with scripted answers and injected faults.
//! OpenAI and Gemini servers answer embeddings requests too, with vectors that are a
//! deterministic function of the text ([`embedding`]).
//!
//! Provider clients in `rightfit-providers` are tested against them (one conformance suite for
//! every provider), and the gateway uses them as upstreams (`rightfit-testkit serve` runs one
//! from the command line). The official `openai`, `anthropic` and `google-genai` Python SDKs read
//! their answers and streams in this crate's tests, so the servers cannot drift from the real
//! protocols. Depends on nothing of rightfit's; not published.
//!
//! Two real programs are driven for tests too: llama.cpp's own server ([`llama_server`]) and
//! headless Chromium ([`chromium`]), which loads the HTML report and says what its scripts did,
//! what it logged and what it requested.

// Request checks return the refusal itself as `Err(Response)`: it is moved once, straight to the
// client, so boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

mod anthropic;
pub mod chromium;
pub mod clients;
mod embeddings;
mod error_bodies;
pub mod fuzz;
mod gemini;
mod limits;
pub mod llama_server;
mod openai;
pub mod postgres;
mod respond;
mod script;
mod server;
mod shared;

pub use embeddings::embedding;
pub use script::{Finish, Protocol, Quirks, Recorded, Reply, ScriptedCall, ServerConfig, Step};
pub use server::{Hold, TestServer, unreachable_url};
