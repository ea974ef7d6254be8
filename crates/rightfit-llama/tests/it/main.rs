//! Integration tests of the embedded engine on a real model: SmolLM2-135M-Instruct Q4_1, the
//! smallest model that proves each point. `scripts/test` downloads it; set RIGHTFIT_TEST_MODEL to
//! use a copy elsewhere. Phi-3 and Mistral are checked without their multi-GB weights: their
//! vocabularies and chat templates against llama.cpp's reference files
//! (`RIGHTFIT_TEST_LLAMA_VOCAB`), and their architectures on tiny random-weight files written by
//! `tests/fixtures/tiny_gguf.py` (`RIGHTFIT_TEST_PYTHON`).

mod bad_files;
mod directory;
mod engine;
mod fetcher;
mod fuzz;
mod hub;
mod logprobs;
mod reference;
mod scoring;
mod support;
mod tiny_models;
mod tools;
mod vocab;
