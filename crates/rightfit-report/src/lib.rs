//! Reports of evaluation results: a terminal table, Markdown, JSON, the lift table ([`lift()`]:
//! what each strategy adds to a small model against the large baseline), and one self-contained
//! HTML page ([`html()`]: charts drawn with `plotters`, the recommendation from
//! `rightfit-decide`, and a filterable per-example table), and what the gateway served
//! ([`traffic_stats`] and its tables); besides, every other table and JSON document the CLI
//! prints: devices and their estimates, `bench-model`, cascade calibration, runs, keys, models,
//! scores, log-likelihoods and `config check`. Pure: data in, text out.
//!
//! The evaluator (`rightfit-eval`) computes summaries and comparisons from stored records,
//! `rightfit-decide` the estimates and recommendations, `rightfit-llama` the measurements; this
//! crate only lays them out. The CLI prints or writes what it returns.

mod bench;
mod cascade;
pub use bench::{bench_json, bench_terminal};
pub use cascade::cascade_terminal;
mod devices;
pub use devices::{
    DeviceEstimates, device_estimates_json, device_estimates_terminal, devices_terminal,
};
mod fmt;
pub use fmt::{bytes, count, table, usd};
mod generate;
pub use generate::{loglik_json, loglik_terminal, timings_line};
mod html;
pub use html::{HtmlSection, html};
mod decision;
pub use decision::{
    recommendation_markdown, recommendation_terminal, recommendations_json,
    recommendations_markdown, recommendations_terminal,
};
mod lift;
pub use lift::{Lift, LiftRow, lift, lift_markdown, lift_terminal};
mod models;
pub use models::{model_info_json, model_info_terminal, models_json, models_terminal};
mod project;
pub use project::project_terminal;
mod runs;
pub use runs::{comparisons_json, comparisons_terminal, runs_terminal};
mod score;
pub use score::score_terminal;
mod traffic;
pub use traffic::{
    TrafficStatsRow, keys_terminal, preview, traffic_list_page, traffic_list_terminal,
    traffic_stats, traffic_stats_markdown, traffic_stats_terminal,
};
mod run;
pub use run::{RunReport, json, markdown, terminal};
