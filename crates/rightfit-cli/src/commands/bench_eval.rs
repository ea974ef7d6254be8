//! `rightfit bench-eval`: what batching and prefix sharing buy the evaluation runner
//! (`rightfit_eval::bench` has the workload and the baseline, `rightfit_report` the layout).

use rightfit_config::Settings;
use rightfit_eval::bench::{self, Step};

use super::output::{json, line, note};
use crate::args::BenchEvalArgs;
use crate::errors::user;

pub async fn run(settings: &Settings, args: BenchEvalArgs) -> anyhow::Result<()> {
    let project = super::project::load(&args.project.config)?;
    let progress = |step| match step {
        Step::Baseline { round, rounds } => {
            note(format!(
                "round {round}/{rounds}: one request at a time, no prefix reuse …"
            ));
        }
        Step::Batched {
            baseline_seconds,
            concurrency,
        } => note(format!(
            "  {baseline_seconds:.1} s; batched ({concurrency} in flight) with prefix reuse …"
        )),
    };
    let (component, candidate) = (&args.component, args.candidate.as_deref());
    let c = bench::compare(
        settings,
        &project,
        component,
        candidate,
        args.limit,
        args.rounds,
        progress,
    )
    .await
    .map_err(user)?;
    if args.json {
        return json(&rightfit_report::bench_eval_json(component, &c));
    }
    line(rightfit_report::bench_eval_terminal(component, &c).trim_end())
}
