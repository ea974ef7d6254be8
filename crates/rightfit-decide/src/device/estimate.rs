//! A local model on every device at once: whether it fits, how fast it would run, and what a
//! request costs there (`rightfit devices --model`).

use serde::Serialize;

use super::breakeven::{BreakEven, break_even};
use super::measured::choose_calibration;
use super::profile::DeviceProfile;
use super::roofline::{Fit, Speed, fit, predict};
use crate::candidate_facts::{ModelShape, Workload};
use rightfit_types::device::{Calibration, CalibrationRecord};

/// What `rightfit devices --model` is asked: the request's shape, the sequences served at once,
/// and the hosted price it is compared with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DevicesRequest {
    /// Tokens in and out per request, and the context per sequence.
    pub workload: Workload,
    /// Sequences served at once, each with its own context (memory only; speed is for one).
    pub parallel: usize,
    /// The hosted API's cost per request, US dollars.
    pub hosted_cost_per_request: Option<f64>,
}

impl DevicesRequest {
    /// Checked: at least one prompt and one output token (`context_tokens` defaults to their
    /// sum), and a finite, non-negative hosted cost per 1,000 requests.
    pub fn new(
        prompt_tokens: u32,
        output_tokens: u32,
        context_tokens: Option<u32>,
        parallel: usize,
        hosted_cost_per_1k: Option<f64>,
    ) -> Result<Self, String> {
        if prompt_tokens == 0 || output_tokens == 0 {
            return Err("--prompt-tokens and --output-tokens must be at least 1".into());
        }
        let hosted_cost_per_request = match hosted_cost_per_1k {
            Some(c) if !(c.is_finite() && c >= 0.0) => {
                return Err(format!(
                    "--hosted-cost-per-1k must be a non-negative number of dollars, not {c}"
                ));
            }
            other => other.map(|c| c / 1000.0),
        };
        let workload = Workload {
            prompt_tokens: f64::from(prompt_tokens),
            output_tokens: f64::from(output_tokens),
            context_tokens: context_tokens.unwrap_or(prompt_tokens.saturating_add(output_tokens)),
        };
        Ok(Self {
            workload,
            parallel,
            hosted_cost_per_request,
        })
    }
}

/// One device's verdict for a model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceEstimate {
    pub device: DeviceProfile,
    /// Whether the model and its KV cache fit.
    pub fit: Fit,
    /// Estimated speed for the workload.
    pub speed: Speed,
    /// Cost at full use and the break-even volume against `hosted_cost_per_request` (against $0
    /// when none is given); `None` for a device without a price.
    pub break_even: Option<BreakEven>,
}

/// [`DeviceEstimate`]s of `shape` running `workload` with `parallel` sequences, in the order of
/// `devices`.
pub fn estimate_devices(
    shape: &ModelShape,
    workload: &Workload,
    parallel: usize,
    devices: &[DeviceProfile],
    calibration: &Calibration,
    hosted_cost_per_request: Option<f64>,
) -> Vec<DeviceEstimate> {
    devices
        .iter()
        .map(|d| {
            let speed = predict(shape, workload, d, calibration);
            let break_even = d
                .price
                .as_ref()
                .map(|p| break_even(&speed, p, hosted_cost_per_request.unwrap_or(0.0)));
            DeviceEstimate {
                device: d.clone(),
                fit: fit(shape, workload.context_tokens, parallel, d),
                speed,
                break_even,
            }
        })
        .collect()
}

/// What `rightfit devices --model` shows for the model file at `model_path`: its
/// [`DeviceEstimate`]s on `devices`, with the calibration they used — the saved record that
/// best fits the file ([`choose_calibration`]), else the documented defaults — and that record.
pub fn estimate_model<'a>(
    shape: &ModelShape,
    model_path: &str,
    request: &DevicesRequest,
    devices: &[DeviceProfile],
    records: &'a [CalibrationRecord],
) -> (
    Option<&'a CalibrationRecord>,
    Calibration,
    Vec<DeviceEstimate>,
) {
    let record = choose_calibration(records, model_path, &shape.quantization);
    let calibration = record.map_or_else(Default::default, |r| r.calibration.clone());
    let rows = estimate_devices(
        shape,
        &request.workload,
        request.parallel,
        devices,
        &calibration,
        request.hosted_cost_per_request,
    );
    (record, calibration, rows)
}
