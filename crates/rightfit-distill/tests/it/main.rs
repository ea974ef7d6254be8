//! Integration tests of rightfit-distill. Tests whose names contain `smollm2` need the real model:
//! set `RIGHTFIT_TEST_MODEL` to SmolLM2-135M-Instruct's GGUF (they fail with a message otherwise).

// The parity and training tests print their figures (see them with --nocapture).
#![allow(clippy::print_stderr)]

mod adapter_files;
mod parity_smollm2;
mod real;
mod students_smollm2;
mod tiny;
mod tiny_model;
mod training_smollm2;
