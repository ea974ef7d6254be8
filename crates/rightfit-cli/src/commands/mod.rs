//! One module per command family.

pub mod bench;
pub mod generate;
pub mod models;
pub mod output;
