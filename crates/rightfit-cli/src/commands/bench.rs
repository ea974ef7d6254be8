//! `rightfit bench-model`: how fast a local model runs here (`rightfit_llama::bench`), this
//! machine's memory bandwidth and peak compute (`rightfit_llama::machine`), and the roofline
//! calibration `rightfit devices` uses (`rightfit_decide::device::calibration_record`), saved to
//! `$RIGHTFIT_HOME/calibration.json` unless `--no-save`.

use anyhow::Context;
use rightfit_config::Settings;
use rightfit_config::calibration::save_calibration;
use rightfit_decide::device;
use rightfit_llama::bench::{BenchOptions, bench_model};
use rightfit_llama::gguf::shape::shape_of;
use rightfit_llama::machine;

use super::generate::load_engine;
use super::output::{json, line, note};
use crate::args::BenchArgs;
use crate::errors::user;
use rightfit_report::progress::spinner;

pub async fn run(settings: &Settings, args: BenchArgs) -> anyhow::Result<()> {
    let options = BenchOptions {
        prompt_tokens: args.prompt_tokens,
        gen_tokens: args.gen_tokens,
        reps: args.reps,
        concurrency: args.concurrency.clone(),
        batch_invariant: args.engine.batch_invariant,
    };
    options.check().map_err(|e| user(anyhow::anyhow!(e)))?;
    let max_conc = args.concurrency.iter().copied().max().unwrap_or(1).max(1);
    let (name, engine) = load_engine(settings, &args.engine, |o| {
        o.prefix_cache = false;
        o.parallel = max_conc;
    })
    .await?;
    let bar = spinner("");
    let bench = bench_model(&engine, &name, &options, &|m| bar.set_message(m))
        .await
        .map_err(user)?;
    bar.set_message("memory bandwidth");
    let threads = settings.threads;
    let figures = tokio::task::spawn_blocking(move || machine::figures(threads))
        .await
        .context("the bandwidth task failed")??;
    bar.finish_and_clear();
    let shape = shape_of(&bench.path).map_err(user)?;
    let measured_at = rightfit_config::time::now_rfc3339();
    let record = device::calibration_record(&shape, &bench, figures, threads, measured_at);
    let saved = if args.no_save {
        None
    } else {
        let saved = save_calibration(settings, &record)?;
        if let Some(e) = saved.replaced {
            note(format!("note: replacing it: {:#}", anyhow::Error::new(e)));
        }
        Some(saved.path)
    };
    let saved = saved.as_deref();
    if args.json {
        return json(&rightfit_report::bench_json(&bench, &record, saved));
    }
    line(rightfit_report::bench_terminal(&bench, &record, saved).trim_end())
}
