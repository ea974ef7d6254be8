//! The device catalogue, and a local model's estimates on each device (`rightfit devices`).

use std::path::Path;

use rightfit_decide::device::{
    self, Calibration, CalibrationRecord, DeviceEstimate, DevicePrice, DeviceProfile,
};
use rightfit_decide::{ModelShape, Workload};
use serde_json::json;

use crate::fmt::{bytes as size, count, table};

/// The catalogue as a table, with what its compute column means.
pub fn devices_terminal(devices: &[DeviceProfile]) -> String {
    let mut t = table(&[
        "id",
        "device",
        "memory (usable / total)",
        "bandwidth",
        "compute",
        "price",
    ]);
    for d in devices {
        t.add_row(vec![
            d.id.clone(),
            d.name.clone(),
            format!("{} / {}", size(d.usable_memory_bytes), size(d.memory_bytes)),
            format!("{} GB/s", trim(d.bandwidth_gbs, 2)),
            format!("{} TFLOPS", trim(d.compute_tflops, 4)),
            price(d.price.as_ref()),
        ]);
    }
    format!(
        "{t}\nCompute: dense FP16 tensor TFLOPS on NVIDIA GPUs (Jetson included), FP32 ALU on Apple \
         GPUs, FP32 SIMD at base clock on CPUs (phone: its big cores). Sources and assumptions: \
         rightfit devices --json.\n"
    )
}

/// A local model's estimates on every device, and what they rest on.
#[derive(Debug, Clone, Copy)]
pub struct DeviceEstimates<'a> {
    /// The model's name.
    pub model: &'a str,
    /// Its file.
    pub path: &'a Path,
    /// Its shape.
    pub shape: &'a ModelShape,
    /// Whether the shape is the catalogue's (the file is not downloaded) rather than read from
    /// the file's header.
    pub shape_from_catalogue: bool,
    /// The request estimated.
    pub workload: &'a Workload,
    /// Sequences served at once.
    pub parallel: usize,
    /// A hosted API's price per request, US dollars, to break even against.
    pub hosted_cost_per_request: Option<f64>,
    /// The efficiencies used.
    pub calibration: &'a Calibration,
    /// The saved record they come from, and its file; `None`: the defaults.
    pub calibrated_by: Option<(&'a CalibrationRecord, &'a Path)>,
    /// One per device.
    pub rows: &'a [DeviceEstimate],
}

/// The estimates as JSON.
pub fn device_estimates_json(e: &DeviceEstimates) -> serde_json::Value {
    json!({
        "model": e.model,
        "path": e.path,
        "shape": e.shape,
        "shape_source": if e.shape_from_catalogue { "catalogue" } else { "gguf header" },
        "kv_bytes_per_token": device::kv_bytes_per_token(e.shape),
        "workload": e.workload,
        "parallel": e.parallel.max(1),
        "hosted_cost_per_request": e.hosted_cost_per_request,
        "calibration": e.calibration,
        "calibration_file": e.calibrated_by.map(|(_, file)| file),
        "estimates": "roofline: bandwidth bounds generation, compute bounds prompt processing, \
                      scaled by the calibration; one device serving one request at a time",
        "devices": e.rows.iter().map(|r| json!({
            "device": r.device.id,
            "name": r.device.name,
            "fit": r.fit,
            "speed": r.speed,
            "break_even": r.break_even,
        })).collect::<Vec<_>>(),
    })
}

/// The estimates as a table, with the model's figures above and what the estimates assume
/// below.
pub fn device_estimates_terminal(e: &DeviceEstimates) -> String {
    let calibration = e.calibration;
    let calibration_line = match e.calibrated_by {
        Some((r, file)) => format!(
            "calibration in {} (measured {} on {}: generation at {:.2} × bandwidth, prompts at \
             {:.2} × the compute figure)",
            file.display(),
            r.measured_at,
            r.model,
            r.calibration.decode_efficiency,
            r.calibration.prefill_efficiency
        ),
        None => format!(
            "default efficiencies (generation at {:.2} × bandwidth, prompts at {:.2} × the compute \
             figure, measured on a 1.5B Q4_K_M model; no calibration saved for this model or its \
             quantisation — run 'rightfit bench-model' with it to calibrate on this machine)",
            calibration.decode_efficiency, calibration.prefill_efficiency
        ),
    };
    let hosted = e.hosted_cost_per_request.is_some();
    let mut out = format!(
        "{}: {} parameters, {}, weights {}, KV cache {} per token; workload {} prompt + {} \
         output tokens, context {} × {} sequence(s)\n",
        e.model,
        count(e.shape.params),
        e.shape.quantization,
        size(e.shape.weights_bytes),
        kib(device::kv_bytes_per_token(e.shape)),
        e.workload.prompt_tokens,
        e.workload.output_tokens,
        e.workload.context_tokens,
        e.parallel.max(1)
    );
    if e.shape_from_catalogue {
        out.push_str(&format!(
            "Shape from the catalogue: {} is not downloaded ('rightfit models pull {}' fetches \
             it); its weights are counted as the file's size.\n",
            e.path.display(),
            e.model
        ));
    }
    let mut header = vec![
        "device",
        "fits (needed / usable)",
        "time to first token",
        "generation",
        "request",
        "per 1k requests at full use",
    ];
    if hosted {
        header.push("local cheaper above");
    }
    let mut t = table(&header);
    for r in e.rows {
        let fits = format!(
            "{} ({} / {})",
            if r.fit.fits { "yes" } else { "NO" },
            size(r.fit.needed_bytes),
            size(r.fit.available_bytes.unwrap_or(0))
        );
        let mut cells = vec![r.device.id.clone(), fits];
        if r.fit.fits {
            cells.push(millis(r.speed.ttft_ms));
            cells.push(format!("{} tok/s", rate(r.speed.decode_tokens_per_s)));
            cells.push(millis(r.speed.request_ms));
            cells.push(r.break_even.as_ref().map_or_else(
                || "not priced".to_owned(),
                |b| money(b.local_cost_per_request_at_capacity * 1000.0),
            ));
            if hosted {
                cells.push(match &r.break_even {
                    None => "not priced".to_owned(),
                    Some(b) => b.requests_per_month.map_or_else(
                        || "never (one device)".to_owned(),
                        |v| format!("{} req/month", count(v.ceil() as u64)),
                    ),
                });
            }
        } else {
            let blanks = if hosted { 5 } else { 4 };
            cells.extend(std::iter::repeat_n("—".to_owned(), blanks));
        }
        t.add_row(cells);
    }
    out.push_str(&format!(
        "{t}\nEstimates, not measurements: roofline (memory bandwidth bounds generation, compute \
         bounds prompt processing) scaled by the {calibration_line}. Fixed per-token costs \
         (kernel launches, thread synchronisation) are left out, so very small models on large \
         GPUs are overestimated. Costs assume one device serving one request at a time, busy all \
         month; prices and figures: rightfit devices --json.\n"
    ));
    out
}

fn price(p: Option<&DevicePrice>) -> String {
    match p {
        None => "—".to_owned(),
        Some(p @ DevicePrice::Hourly { usd }) => {
            format!("${usd}/h ({}/month)", money(device::monthly_cost(p)))
        }
        Some(
            p @ DevicePrice::Owned {
                purchase_usd,
                months,
                watts,
                ..
            },
        ) => format!(
            "{} over {months} months + {watts} W ({}/month)",
            money(*purchase_usd),
            money(device::monthly_cost(p))
        ),
    }
}

/// A figure with at most `decimals` decimals and no trailing zeros (17.07, 300, 0.1536).
fn trim(x: f64, decimals: usize) -> String {
    let s = format!("{x:.decimals$}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Dollars: whole dollars with thousands separators from $100, cents from $1, three
/// significant digits below.
fn money(x: f64) -> String {
    if x >= 100.0 {
        let whole = format!("{:.0}", x);
        let mut out = String::new();
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        format!("${out}")
    } else if x >= 1.0 {
        format!("${x:.2}")
    } else if x > 0.0 {
        let digits = (2 - x.log10().floor() as i32).max(0) as usize;
        format!("${x:.digits$}")
    } else {
        "$0".to_owned()
    }
}

/// Bytes as KiB below a MiB.
fn kib(bytes: u64) -> String {
    if bytes < 1 << 20 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        size(bytes)
    }
}

fn rate(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

fn millis(ms: f64) -> String {
    if ms >= 10_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_print_compactly() {
        assert_eq!(trim(17.07, 2), "17.07");
        assert_eq!(trim(21.8576, 2), "21.86");
        assert_eq!(trim(300.0, 2), "300");
        assert_eq!(trim(0.1536, 4), "0.1536");
        assert_eq!(millis(5.24), "5.2 ms");
        assert_eq!(millis(250.4), "250 ms");
        assert_eq!(millis(12_345.0), "12.3 s");
        assert_eq!(rate(36.44), "36.4");
        assert_eq!(money(11_805.0), "$11,805");
        assert_eq!(money(5022.4), "$5,022");
        assert_eq!(money(587.5), "$588");
        assert_eq!(money(30.16), "$30.16");
        assert_eq!(money(0.01234), "$0.0123");
        assert_eq!(money(0.4), "$0.400");
        assert_eq!(money(0.0), "$0");
        assert_eq!(kib(23_040), "22.5 KiB");
        assert_eq!(rate(1234.4), "1234");
    }
}
