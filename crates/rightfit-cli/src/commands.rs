//! One module per command family, and what several of them share (`common`, `output`).

pub mod bench;
pub mod bench_eval;
pub mod cascade;
pub mod common;
pub mod devices;
pub mod distill;
pub mod eval;
pub mod generate;
pub mod keys;
pub mod models;
pub mod output;
pub mod project;
pub mod recommend;
pub mod runs;
pub mod score;
pub mod serve;
pub mod traffic;
