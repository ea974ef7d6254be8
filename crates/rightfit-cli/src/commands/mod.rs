//! One module per command family.

pub mod bench;
pub mod bench_eval;
pub mod cascade;
pub mod decide;
pub mod devices;
pub mod eval;
pub mod generate;
pub mod keys;
pub mod machine;
pub mod models;
pub mod output;
pub mod project;
pub mod runs;
pub mod score;
pub mod serve;
pub mod traffic;
