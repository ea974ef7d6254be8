//! `rightfit bench-eval`: what batching and prefix sharing buy the evaluation runner
//! (`rightfit_eval::bench` has the workload and the baseline).

use rightfit_config::Settings;
use rightfit_eval::bench::{self, Step};
use serde_json::json;

use super::output::{json as print_json, line, table};
use crate::args::BenchEvalArgs;
use crate::errors::user;

/// `rightfit bench-eval`.
pub async fn run(settings: &Settings, args: BenchEvalArgs) -> anyhow::Result<()> {
    let project = super::project::load(&args.project.config)?;
    #[allow(clippy::print_stderr)]
    let progress = |step| match step {
        Step::Baseline { round, rounds } => {
            eprintln!("round {round}/{rounds}: one request at a time, no prefix reuse …");
        }
        Step::Batched {
            baseline_seconds,
            concurrency,
        } => eprintln!(
            "  {baseline_seconds:.1} s; batched ({concurrency} in flight) with prefix reuse …"
        ),
    };
    let c = bench::compare(
        settings,
        &project,
        &args.component,
        args.candidate.as_deref(),
        args.limit,
        args.rounds,
        progress,
    )
    .await
    .map_err(user)?;
    let (base, batched, candidate) = (&c.baseline, &c.batched, &c.candidate);
    let (b, f, rounds, n) = (c.baseline_eps, c.batched_eps, c.rounds, c.concurrency);
    if args.json {
        return print_json(&json!({
            "component": args.component,
            "candidate": candidate,
            "examples": base.examples,
            "rounds": rounds,
            "baseline": { "examples_per_s": b, "seconds_last": base.seconds, "accuracy": base.accuracy, "failures": base.failures },
            "batched": { "examples_per_s": f, "concurrency": n, "seconds_last": batched.seconds, "accuracy": batched.accuracy, "failures": batched.failures },
            "speedup": f / b,
            "identical_outputs": c.identical,
        }));
    }
    line(format!(
        "bench-eval: {} / {candidate}, {} examples, {rounds} round(s), median examples/s",
        args.component, base.examples
    ))?;
    let mut t = table(&[
        "mode",
        "examples/s",
        "seconds (last round)",
        "accuracy %",
        "failures",
    ]);
    for (mode, eps, m) in [
        ("one at a time, no prefix reuse".to_owned(), b, base),
        (format!("batched ×{n}, prefix reuse"), f, batched),
    ] {
        t.add_row(vec![
            mode,
            format!("{eps:.2}"),
            format!("{:.1}", m.seconds),
            format!("{:.1}", m.accuracy * 100.0),
            m.failures.to_string(),
        ]);
    }
    line(t)?;
    line(format!(
        "speedup {:.2}×; identical outputs on {}/{} examples",
        f / b,
        c.identical,
        base.examples
    ))
}
