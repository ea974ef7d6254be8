//! `rightfit cascade calibrate`: a cascade's threshold chosen on stored records
//! (`rightfit_eval::cascade_threshold`), laid out by `rightfit_report::cascade_terminal`.

use anyhow::anyhow;
use rightfit_eval::cascade_threshold::{CalibrationOptions, calibrate as replay, stored_records};

use super::common::open_store;
use super::output::{json, line};
use crate::args::{CalibrateArgs, ReportFormat};
use crate::errors::user;

/// `rightfit cascade calibrate`.
pub async fn calibrate(args: CalibrateArgs) -> anyhow::Result<()> {
    let project = super::project::load(&args.project.config)?;
    let c = project
        .component(&args.component)
        .map_err(|e| user(anyhow!(e)))?;
    let store = open_store(&project, &args.project).await?;
    let run = args.run.as_deref();
    let (small_run, small) = stored_records(&*store, &c.name, &args.small, run)
        .await
        .map_err(user)?;
    let (large_run, large) = stored_records(&*store, &c.name, &args.large, run)
        .await
        .map_err(user)?;
    let seed = args.seed.unwrap_or(project.seed);
    let options = CalibrationOptions {
        target: args.target,
        dev_fraction: args.dev_fraction,
        seed,
    };
    let calibration = replay(&small, &large, &options).map_err(|e| user(anyhow!(e)))?;
    if args.format == ReportFormat::Json {
        let runs = (small_run.as_str(), large_run.as_str());
        let value = rightfit_report::cascade_json(&calibration, runs.0, runs.1, args.target, seed);
        return json(&value);
    }
    line(format!(
        "runs: {} ({small_run}), {} ({large_run})",
        args.small, args.large
    ))?;
    let text = rightfit_report::cascade_terminal(&calibration, &c.name, args.target, seed);
    line(text.trim_end())
}
