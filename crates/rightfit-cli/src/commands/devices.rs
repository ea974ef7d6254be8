//! `rightfit devices`: the device catalogue, and for a local model, per device: whether it
//! fits, its estimated speed there, what a request costs at full use, and the break-even volume
//! against a hosted API. Also the I/O around the calibration `bench-model` saves, and a model's
//! shape read from its GGUF header.
//!
//! The figures are computed by `rightfit_decide::device`; this module reads files and prints.

use std::path::{Path, PathBuf};

use anyhow::Context;
use rightfit_config::Settings;
use rightfit_decide::ModelShape;
use rightfit_decide::device::{
    self, BreakEven, Calibration, CalibrationRecord, DevicePrice, DeviceProfile, Fit, Speed,
};
use rightfit_decide::facts::Workload;
use rightfit_llama::gguf::{self, GgufHeader, Value};
use rightfit_llama::store::ModelStore;
use serde_json::json;

use super::output::{self, count, line, size};
use crate::args::DevicesArgs;
use crate::errors::user;

/// The calibration file's name under `$RIGHTFIT_HOME`.
pub const CALIBRATION_FILE: &str = "calibration.json";

/// Where `bench-model` saves the calibration: `$RIGHTFIT_HOME/calibration.json`.
pub fn calibration_path(settings: &Settings) -> PathBuf {
    settings.home().join(CALIBRATION_FILE)
}

/// The calibrations `bench-model` saved (one per model measured; empty when it never ran). A
/// file that cannot be read or parsed is an error naming the file (rerun `rightfit bench-model`
/// to replace it).
pub fn load_calibrations(settings: &Settings) -> anyhow::Result<Vec<CalibrationRecord>> {
    let path = calibration_path(settings);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(user(
                anyhow::Error::new(e).context(format!("reading {}", path.display())),
            ));
        }
    };
    device::parse_calibrations(&text)
        .with_context(|| {
            format!(
                "{}: unusable calibration — run 'rightfit bench-model' to measure it again",
                path.display()
            )
        })
        .map_err(user)
}

/// The newest calibration saved (this machine's profile comes from it), if any.
pub fn latest_calibration(records: &[CalibrationRecord]) -> Option<&CalibrationRecord> {
    records
        .iter()
        .max_by(|a, b| a.measured_at.cmp(&b.measured_at))
}

/// Adds `record` to [`calibration_path`], replacing an earlier record of the same model file;
/// returns where. An unreadable file is replaced (said on stderr).
pub fn save_calibration(
    settings: &Settings,
    record: &CalibrationRecord,
) -> anyhow::Result<PathBuf> {
    let path = calibration_path(settings);
    std::fs::create_dir_all(settings.home())
        .with_context(|| format!("creating {}", settings.home().display()))?;
    let earlier = load_calibrations(settings).unwrap_or_else(|e| {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("note: replacing it: {e:#}");
        }
        Vec::new()
    });
    let records = device::merge_calibration(earlier, record.clone());
    let text = serde_json::to_string_pretty(&records)?;
    std::fs::write(&path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// A local model's shape from its GGUF header (no weights are loaded).
pub fn shape_of(path: &Path) -> anyhow::Result<ModelShape> {
    let header = gguf::read_header(path).map_err(user)?;
    shape_from_header(&header).with_context(|| format!("{}", path.display()))
}

/// The shape a GGUF header describes: block count, attention heads, KV heads (default: the
/// heads), key and value lengths (default: embedding length ÷ heads), parameters (tensor
/// elements) and weight bytes (tensor data at its type; the data section when a type is
/// unknown).
pub fn shape_from_header(header: &GgufHeader) -> anyhow::Result<ModelShape> {
    let arch = header
        .architecture()
        .context("no general.architecture in the GGUF header")?;
    let key = |k: &str| format!("{arch}.{k}");
    let required = |k: &str| -> anyhow::Result<u32> {
        let full = key(k);
        let v = header
            .get_u64(&full)
            .with_context(|| format!("no {full} in the GGUF header"))?;
        u32::try_from(v).with_context(|| format!("{full} = {v} is out of range"))
    };
    let layers = required("block_count")?;
    let heads = required("attention.head_count")?;
    if heads == 0 {
        anyhow::bail!("{} is 0", key("attention.head_count"));
    }
    // Some models give one KV-head count per layer; the largest sizes the cache safely.
    let kv_heads = match header.metadata.get(&key("attention.head_count_kv")) {
        Some(Value::Array { head, .. }) => head.iter().filter_map(Value::as_u64).max(),
        Some(v) => v.as_u64(),
        None => None,
    }
    .map_or(Ok(heads), u32::try_from)
    .context("attention.head_count_kv is out of range")?;
    let head_dim = header
        .get_u64(&key("embedding_length"))
        .map(|e| e / u64::from(heads));
    let length = |k: &str| -> anyhow::Result<u32> {
        let v = header
            .get_u64(&key(k))
            .or(head_dim)
            .with_context(|| format!("neither {} nor the embedding length is given", key(k)))?;
        Ok(u32::try_from(v)?)
    };
    let tensor_bytes: Option<u64> = header.tensors.iter().map(|t| t.bytes()).sum();
    let weights_bytes =
        tensor_bytes.unwrap_or_else(|| header.file_size.saturating_sub(header.data_offset));
    Ok(ModelShape {
        params: header.parameter_count(),
        weights_bytes,
        layers,
        heads,
        kv_heads,
        key_length: length("attention.key_length")?,
        value_length: length("attention.value_length")?,
        train_context: header
            .context_length()
            .and_then(|c| u32::try_from(c).ok())
            .unwrap_or(0),
        quantization: header.quantization(),
    })
}

/// `rightfit devices [--model M ...]`.
pub fn run(settings: &Settings, args: DevicesArgs) -> anyhow::Result<()> {
    let records = load_calibrations(settings)?;
    let mut devices = device::catalogue();
    if let Some(r) = latest_calibration(&records) {
        devices.push(r.this_machine());
    }
    match args.model.clone() {
        None => list(&devices, args.json),
        Some(model) => estimate(settings, &model, &args, &devices, &records),
    }
}

fn list(devices: &[DeviceProfile], json: bool) -> anyhow::Result<()> {
    if json {
        return output::json(&serde_json::to_value(devices)?);
    }
    let mut t = output::table(&[
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
    line(t)?;
    line(
        "Compute: dense FP16 tensor TFLOPS on NVIDIA GPUs (Jetson included), FP32 ALU on Apple \
         GPUs, FP32 SIMD at base clock on CPUs (phone: its big cores). Sources and assumptions: \
         rightfit devices --json.",
    )
}

/// One device's verdict for the model.
struct Row<'a> {
    device: &'a DeviceProfile,
    fit: Fit,
    speed: Speed,
    break_even: Option<BreakEven>,
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
    let hosted_per_request = match args.hosted_cost_per_1k {
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
    let shape = shape_of(&resolved.path)?;
    let record = device::choose_calibration(
        records,
        &resolved.path.to_string_lossy(),
        &shape.quantization,
    );
    let context = args
        .context
        .unwrap_or(args.prompt_tokens.saturating_add(args.output_tokens));
    let workload = Workload {
        prompt_tokens: f64::from(args.prompt_tokens),
        output_tokens: f64::from(args.output_tokens),
        context_tokens: context,
    };
    let calibration = record.map_or_else(Calibration::default, |r| r.calibration.clone());
    let rows: Vec<Row> = devices
        .iter()
        .map(|d| {
            let speed = device::predict(&shape, &workload, d, &calibration);
            let break_even = match (&d.price, hosted_per_request) {
                (Some(p), Some(h)) => Some(device::break_even(&speed, p, h)),
                (Some(p), None) => Some(device::break_even(&speed, p, 0.0)),
                (None, _) => None,
            };
            Row {
                device: d,
                fit: device::fit(&shape, context, args.parallel, d),
                speed,
                break_even,
            }
        })
        .collect();
    let calibration_line = match record {
        Some(r) => format!(
            "calibration in {} (measured {} on {}: generation at {:.2} × bandwidth, prompts at \
             {:.2} × the compute figure)",
            calibration_path(settings).display(),
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
    if args.json {
        return output::json(&json!({
            "model": resolved.name,
            "path": resolved.path,
            "shape": shape,
            "kv_bytes_per_token": device::kv_bytes_per_token(&shape),
            "workload": workload,
            "parallel": args.parallel.max(1),
            "hosted_cost_per_request": hosted_per_request,
            "calibration": calibration,
            "calibration_file": record.map(|_| calibration_path(settings)),
            "estimates": "roofline: bandwidth bounds generation, compute bounds prompt processing, \
                          scaled by the calibration; one device serving one request at a time",
            "devices": rows.iter().map(|r| json!({
                "device": r.device.id,
                "name": r.device.name,
                "fit": r.fit,
                "speed": r.speed,
                "break_even": r.break_even,
            })).collect::<Vec<_>>(),
        }));
    }
    line(format!(
        "{}: {} parameters, {}, weights {}, KV cache {} per token; workload {} prompt + {} \
         output tokens, context {} × {} sequence(s)",
        resolved.name,
        count(shape.params),
        shape.quantization,
        size(shape.weights_bytes),
        kib(device::kv_bytes_per_token(&shape)),
        args.prompt_tokens,
        args.output_tokens,
        context,
        args.parallel.max(1)
    ))?;
    let mut header = vec![
        "device",
        "fits (needed / usable)",
        "time to first token",
        "generation",
        "request",
        "per 1k requests at full use",
    ];
    if hosted_per_request.is_some() {
        header.push("local cheaper above");
    }
    let mut t = output::table(&header);
    for r in &rows {
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
            if hosted_per_request.is_some() {
                cells.push(match &r.break_even {
                    None => "not priced".to_owned(),
                    Some(b) => b.requests_per_month.map_or_else(
                        || "never (one device)".to_owned(),
                        |v| format!("{} req/month", count(v.ceil() as u64)),
                    ),
                });
            }
        } else {
            let blanks = if hosted_per_request.is_some() { 5 } else { 4 };
            cells.extend(std::iter::repeat_n("—".to_owned(), blanks));
        }
        t.add_row(cells);
    }
    line(t)?;
    line(format!(
        "Estimates, not measurements: roofline (memory bandwidth bounds generation, compute \
         bounds prompt processing) scaled by the {calibration_line}. Fixed per-token costs \
         (kernel launches, thread synchronisation) are left out, so very small models on large \
         GPUs are overestimated. Costs assume one device serving one request at a time, busy all \
         month; prices and figures: rightfit devices --json."
    ))
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
    use std::collections::BTreeMap;

    use rightfit_llama::gguf::TensorInfo;

    use super::*;

    fn header(metadata: &[(&str, Value)]) -> GgufHeader {
        GgufHeader {
            version: 3,
            metadata: metadata
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect::<BTreeMap<_, _>>(),
            tensors: vec![TensorInfo {
                name: "blk.0.attn_q.weight".into(),
                dims: vec![64, 32],
                ggml_type: 0, // f32: 4 bytes an element
                offset: 0,
            }],
            data_offset: 1000,
            file_size: 1000 + 64 * 32 * 4,
        }
    }

    #[test]
    fn shape_from_a_header_with_defaults() {
        let h = header(&[
            ("general.architecture", Value::String("llama".into())),
            ("llama.block_count", Value::U64(2)),
            ("llama.attention.head_count", Value::U64(4)),
            ("llama.embedding_length", Value::U64(64)),
            ("llama.context_length", Value::U64(2048)),
        ]);
        let s = shape_from_header(&h).expect("shape");
        assert_eq!((s.layers, s.heads, s.kv_heads), (2, 4, 4));
        assert_eq!((s.key_length, s.value_length), (16, 16));
        assert_eq!((s.params, s.weights_bytes), (2048, 8192));
        assert_eq!(s.train_context, 2048);
    }

    #[test]
    fn shape_takes_explicit_lengths_and_per_layer_kv_heads() {
        let h = header(&[
            ("general.architecture", Value::String("gemma3".into())),
            ("gemma3.block_count", Value::U64(2)),
            ("gemma3.attention.head_count", Value::U64(4)),
            (
                "gemma3.attention.head_count_kv",
                Value::Array {
                    item_type: 4,
                    len: 2,
                    head: vec![Value::U64(1), Value::U64(2)],
                },
            ),
            ("gemma3.attention.key_length", Value::U64(256)),
            ("gemma3.attention.value_length", Value::U64(128)),
        ]);
        let s = shape_from_header(&h).expect("shape");
        assert_eq!(s.kv_heads, 2);
        assert_eq!((s.key_length, s.value_length), (256, 128));
        assert_eq!(s.train_context, 0);
    }

    #[test]
    fn a_header_without_the_counts_is_an_error_naming_the_key() {
        let h = header(&[("general.architecture", Value::String("llama".into()))]);
        let err = shape_from_header(&h).expect_err("no block count");
        assert!(err.to_string().contains("llama.block_count"), "{err}");
    }

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
