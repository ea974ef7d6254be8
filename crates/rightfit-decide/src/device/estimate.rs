//! A local model on every device at once: whether it fits, how fast it would run, and what a
//! request costs there (`rightfit devices --model`).

use serde::Serialize;

use super::breakeven::{BreakEven, break_even};
use super::profile::DeviceProfile;
use super::roofline::{Fit, Speed, fit, predict};
use crate::candidate_facts::{ModelShape, Workload};
use rightfit_types::device::Calibration;

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
