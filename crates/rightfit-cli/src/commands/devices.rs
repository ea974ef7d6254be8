//! `rightfit devices`: the device catalogue, and for a local model, per device: whether it
//! fits, its estimated speed there, what a request costs at full use, and the break-even volume
//! against a hosted API (computed by `rightfit_decide::device`, laid out by `rightfit_report`).

use rightfit_config::Settings;
use rightfit_config::calibration::{calibration_path, latest_calibration, load_calibrations};
use rightfit_decide::device::{self, DevicesRequest};
use rightfit_registry::ModelRegistry;
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
    let Some(model) = &args.model else {
        if args.json {
            return json(&serde_json::to_value(&devices)?);
        }
        return line(rightfit_report::devices_terminal(&devices).trim_end());
    };
    let a = &args;
    let request = DevicesRequest::new(
        a.prompt_tokens,
        a.output_tokens,
        a.context,
        a.parallel,
        a.hosted_cost_per_1k,
    )
    .map_err(|e| user(anyhow::anyhow!(e)))?;
    let (resolved, shape) = ModelRegistry::new(settings).shape(model).map_err(user)?;
    let path = resolved.path.to_string_lossy();
    let (record, calibration, rows) =
        device::estimate_model(&shape, &path, &request, &devices, &records);
    let file = calibration_path(settings);
    let estimates = DeviceEstimates {
        model: &resolved.name,
        path: &resolved.path,
        shape: &shape,
        // The registry gives the catalogue's shape for a catalogue model not downloaded yet.
        shape_from_catalogue: !resolved.path.exists(),
        workload: &request.workload,
        parallel: request.parallel,
        hosted_cost_per_request: request.hosted_cost_per_request,
        calibration: &calibration,
        calibrated_by: record.map(|r| (r, file.as_path())),
        rows: &rows,
    };
    if args.json {
        return json(&rightfit_report::device_estimates_json(&estimates));
    }
    line(rightfit_report::device_estimates_terminal(&estimates).trim_end())
}
