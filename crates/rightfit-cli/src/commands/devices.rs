//! `rightfit devices`: the device catalogue, and for a local model, per device: whether it
//! fits, its estimated speed there, what a request costs at full use, and the break-even volume
//! against a hosted API (computed by `rightfit_decide::device`, laid out by `rightfit_report`).

use rightfit_config::Settings;
use rightfit_config::calibration::{calibration_path, latest_calibration, load_calibrations};
use rightfit_decide::Workload;
use rightfit_decide::device::{self, CalibrationRecord, DeviceProfile};
use rightfit_llama::gguf::shape::shape_of;
use rightfit_llama::models::ModelStore;
use rightfit_report::DeviceEstimates;

use super::output::{json, line};
use crate::args::DevicesArgs;
use crate::errors::user;

/// `rightfit devices [--model M ...]`.
pub fn run(settings: &Settings, args: DevicesArgs) -> anyhow::Result<()> {
    let records = load_calibrations(settings).map_err(user)?;
    let mut devices = device::catalogue();
    if let Some(r) = latest_calibration(&records) {
        devices.push(device::this_machine(r));
    }
    match args.model.clone() {
        None if args.json => json(&serde_json::to_value(&devices)?),
        None => line(rightfit_report::devices_terminal(&devices).trim_end()),
        Some(model) => estimate(settings, &model, &args, &devices, &records),
    }
}

fn estimate(
    settings: &Settings,
    model: &str,
    args: &DevicesArgs,
    devices: &[DeviceProfile],
    records: &[CalibrationRecord],
) -> anyhow::Result<()> {
    if args.prompt_tokens == 0 || args.output_tokens == 0 {
        return Err(user(anyhow::anyhow!(
            "--prompt-tokens and --output-tokens must be at least 1"
        )));
    }
    let hosted_cost_per_request = match args.hosted_cost_per_1k {
        Some(c) if !(c.is_finite() && c >= 0.0) => {
            return Err(user(anyhow::anyhow!(
                "--hosted-cost-per-1k must be a non-negative number of dollars, not {c}"
            )));
        }
        other => other.map(|c| c / 1000.0),
    };
    let resolved = ModelStore::new(settings.models_dir())
        .resolve(model)
        .map_err(user)?;
    let shape = shape_of(&resolved.path).map_err(user)?;
    let record = device::choose_calibration(
        records,
        &resolved.path.to_string_lossy(),
        &shape.quantization,
    );
    let workload = Workload {
        prompt_tokens: f64::from(args.prompt_tokens),
        output_tokens: f64::from(args.output_tokens),
        context_tokens: args
            .context
            .unwrap_or(args.prompt_tokens.saturating_add(args.output_tokens)),
    };
    let calibration = record.map_or_else(Default::default, |r| r.calibration.clone());
    let file = calibration_path(settings);
    let rows = device::estimate_devices(
        &shape,
        &workload,
        args.parallel,
        devices,
        &calibration,
        hosted_cost_per_request,
    );
    let estimates = DeviceEstimates {
        model: &resolved.name,
        path: &resolved.path,
        shape: &shape,
        workload: &workload,
        parallel: args.parallel,
        hosted_cost_per_request,
        calibration: &calibration,
        calibrated_by: record.map(|r| (r, file.as_path())),
        rows: &rows,
    };
    if args.json {
        return json(&rightfit_report::device_estimates_json(&estimates));
    }
    line(rightfit_report::device_estimates_terminal(&estimates).trim_end())
}
