//! Integration tests of the students crate. Tests whose names end in `_minilm` need the
//! all-MiniLM-L6-v2 directory (`rightfit models pull all-minilm-l6-v2`, which scripts/test runs,
//! or RIGHTFIT_TEST_EMBEDDER) and fail, not skip, when it is missing; the reference test also
//! needs RIGHTFIT_TEST_PYTHON (scripts/test-tools) and the BANKING77 test the shared data.

mod artefact;
mod banking;
mod classifier;
mod embedder;
mod provider;
mod support;
