//! A device a local model could run on, and what running on it costs.

use serde::{Deserialize, Serialize};

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
