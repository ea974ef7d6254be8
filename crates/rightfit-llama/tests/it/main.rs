//! Integration tests of the embedded engine on a real model: SmolLM2-135M-Instruct Q4_1, the
//! smallest model that proves each point. `scripts/test` downloads it; set RIGHTFIT_TEST_MODEL to
//! use a copy elsewhere.

mod bad_files;
mod directory;
mod engine;
mod fetcher;
mod fuzz;
mod logprobs;
mod scoring;
mod support;
