//! Cloud vs edge: device profiles, whether a local model fits on one, how fast it would run
//! there (roofline estimates calibrated on this machine), and when owning the hardware beats a
//! hosted API.
//!
//! Every speed here is an **estimate**: a roofline (memory bandwidth bounds generation, compute
//! bounds prompt processing) scaled by efficiencies measured on this machine by
//! `rightfit bench-model`, or by documented defaults when nothing was measured.

mod breakeven;
mod estimate;
mod measured;
mod profile;
mod profiles;
mod roofline;

pub use breakeven::{BreakEven, HOURS_PER_MONTH, SECONDS_PER_MONTH, break_even, monthly_cost};
pub use estimate::{DeviceEstimate, DevicesRequest, estimate_devices, estimate_model};
pub use measured::{calibrate, calibration_record, choose_calibration, this_machine};
pub use profile::{DeviceKind, DevicePrice, DeviceProfile};
pub use profiles::{LIFETIME_MONTHS, USD_PER_KWH, catalogue, find};
pub use rightfit_types::device::{
    BenchFigures, Calibration, CalibrationRecord, DEFAULT_DECODE_EFFICIENCY,
    DEFAULT_PREFILL_EFFICIENCY, MachineFigures,
};
pub use roofline::{
    Fit, KV_ELEMENT_BYTES, MICRO_BATCH, RUNTIME_BASE_BYTES, RUNTIME_WEIGHTS_FRACTION, Speed,
    decode_bytes_per_token, fit, kv_bytes_per_token, mean_decode_context, memory_needed, predict,
    prefill_flops_per_token,
};
