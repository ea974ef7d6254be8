//! Cloud vs edge: device profiles, whether a local model fits on one, how fast it would run
//! there (roofline estimates calibrated on this machine), and when owning the hardware beats a
//! hosted API.
//!
//! Every speed here is an **estimate**: a roofline (memory bandwidth bounds generation, compute
//! bounds prompt processing) scaled by efficiencies measured on this machine by
//! `rightfit bench-model`, or by documented defaults when nothing was measured.

mod breakeven;
mod calibrate;
mod catalog;
mod estimate;
mod roofline;

use serde::{Deserialize, Serialize};

pub use breakeven::{BreakEven, HOURS_PER_MONTH, SECONDS_PER_MONTH, break_even, monthly_cost};
pub use calibrate::{
    MachineFigures, calibrate, calibration_record, choose_calibration, this_machine,
};
pub use catalog::{LIFETIME_MONTHS, USD_PER_KWH, catalogue, find};
pub use estimate::{DeviceEstimate, estimate_devices};
pub use rightfit_types::device::{
    BenchFigures, Calibration, CalibrationRecord, DEFAULT_DECODE_EFFICIENCY,
    DEFAULT_PREFILL_EFFICIENCY,
};
pub use roofline::{
    Fit, KV_ELEMENT_BYTES, MICRO_BATCH, RUNTIME_BASE_BYTES, RUNTIME_WEIGHTS_FRACTION, Speed,
    decode_bytes_per_token, fit, kv_bytes_per_token, mean_decode_context, memory_needed, predict,
    prefill_flops_per_token,
};

/// What kind of processor runs the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceKind {
    /// CPU cores with their own RAM (servers, single-board computers).
    Cpu,
    /// A discrete GPU with its own memory.
    Gpu,
    /// A system on a chip whose CPU and GPU share memory (phones, Apple silicon, Jetson).
    Soc,
}

/// What running on a device costs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DevicePrice {
    /// Rented by the hour (cloud instances), US dollars per hour.
    Hourly {
        /// Dollars per hour.
        usd: f64,
    },
    /// Bought: the purchase price spread over its life, plus electricity.
    Owned {
        /// Purchase price, US dollars.
        purchase_usd: f64,
        /// Months it is written off over.
        months: f64,
        /// Average power draw under load, watts.
        watts: f64,
        /// Electricity price, US dollars per kWh.
        usd_per_kwh: f64,
    },
}

/// A device a local model could run on, with sourced figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceProfile {
    /// Short id used on the command line (`raspberry-pi-5-8gb`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Processor kind.
    pub kind: DeviceKind,
    /// Memory, bytes.
    pub memory_bytes: u64,
    /// Memory a model may use, bytes (the OS and other programs keep the rest).
    pub usable_memory_bytes: u64,
    /// Peak memory bandwidth, GB/s (10⁹ bytes per second).
    pub bandwidth_gbs: f64,
    /// Peak dense compute for the matrix products llama.cpp runs there, TFLOPS.
    pub compute_tflops: f64,
    /// What running on it costs, when known.
    pub price: Option<DevicePrice>,
    /// Where each figure comes from.
    pub sources: Vec<String>,
    /// What the figures mean and assume.
    pub note: String,
}
