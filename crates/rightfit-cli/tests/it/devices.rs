//! `rightfit devices`: the catalogue, SmolLM2's shape read from its header and sized and timed
//! on each device, and the calibration file `bench-model` writes.

use super::{home_with_model, model, rightfit, stderr, stdout};

/// The entry of device `id` in `rightfit devices --json`'s output.
pub(crate) fn device<'a>(v: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    v["devices"]
        .as_array()
        .and_then(|ds| ds.iter().find(|d| d["device"] == id))
        .unwrap_or_else(|| panic!("{id} missing from {v}"))
}

#[test]
fn devices_lists_the_sourced_catalogue() {
    let home = tempfile::tempdir().expect("home");
    let o = rightfit(home.path(), &["devices"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for id in [
        "raspberry-pi-5-8gb",
        "nvidia-h100-sxm",
        "macbook-air-m2-16gb",
    ] {
        assert!(stdout(&o).contains(id), "{}", stdout(&o));
    }
    let o = rightfit(home.path(), &["devices", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let all = v.as_array().expect("a list");
    assert_eq!(all.len(), 8, "no calibration saved: the catalogue alone");
    assert!(
        all.iter()
            .all(|d| !d["sources"].as_array().expect("sources").is_empty())
    );
}

#[test]
fn smollm2_fits_a_raspberry_pi_but_not_with_a_ten_million_token_context_smollm2() {
    let home = home_with_model();
    let o = rightfit(
        home.path(),
        &[
            "devices",
            "--model",
            "smollm2-135m",
            "--json",
            "--hosted-cost-per-1k",
            "0.05",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    // The shape, from the GGUF header.
    let s = &v["shape"];
    assert_eq!(s["params"], 134_515_008);
    assert_eq!(
        (s["layers"].clone(), s["heads"].clone()),
        (30.into(), 9.into())
    );
    assert_eq!(s["kv_heads"], 3);
    assert_eq!(
        (s["key_length"].clone(), s["value_length"].clone()),
        (64.into(), 64.into())
    );
    assert_eq!(s["train_context"], 8192);
    assert_eq!(s["quantization"], "Q4_1");
    let weights = s["weights_bytes"].as_u64().expect("weights");
    let file = std::fs::metadata(model()).expect("model file").len();
    assert!(
        weights < file && weights > file * 9 / 10,
        "{weights} of {file}"
    );
    assert_eq!(v["kv_bytes_per_token"], 23_040);
    // 512 + 128 tokens on a Raspberry Pi 5: ~160 MiB of 7 GiB.
    let pi = device(&v, "raspberry-pi-5-8gb");
    assert_eq!(pi["fit"]["fits"], true, "{pi}");
    assert_eq!(pi["fit"]["kv_cache_bytes"], 23_040 * 640);
    let speed = pi["speed"]["decode_tokens_per_s"].as_f64().expect("speed");
    assert!(speed > 0.0 && speed.is_finite());
    assert!(
        pi["break_even"]["capacity_per_month"]
            .as_f64()
            .expect("capacity")
            > 0.0
    );
    // The phone is not priced: no break-even.
    assert!(device(&v, "phone-snapdragon-8-gen-3")["break_even"].is_null());

    // Ten million tokens of context: 230 GB of KV cache. Only the 384 GB server holds it.
    let o = rightfit(
        home.path(),
        &[
            "devices",
            "--model",
            "smollm2-135m",
            "--context",
            "10000000",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(device(&v, "raspberry-pi-5-8gb")["fit"]["fits"], false);
    assert_eq!(device(&v, "nvidia-h100-sxm")["fit"]["fits"], false);
    assert_eq!(device(&v, "amd-epyc-9654")["fit"]["fits"], true);
    // The table says so, and says what the figures are.
    let path = model().display().to_string();
    let o = rightfit(
        home.path(),
        &["devices", "-m", &path, "--context", "10000000"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let pi_row = text
        .lines()
        .find(|l| l.contains("raspberry-pi-5-8gb"))
        .expect("pi row");
    assert!(pi_row.contains("NO"), "{pi_row}");
    assert!(
        text.contains("Estimates, not measurements: roofline"),
        "{text}"
    );
    assert!(text.contains("default efficiencies"), "{text}");
}

#[test]
fn a_saved_calibration_is_used_and_a_broken_one_is_an_error_smollm2() {
    let home = home_with_model();
    let record = serde_json::json!({
        "calibration": {"decode_efficiency": 0.5, "prefill_efficiency": 0.25, "source": "test"},
        "measured_at": "2026-11-30T00:00:00Z",
        "model": "smollm2-135m",
        "model_path": "/models/smollm2.gguf",
        "quantization": "Q4_1",
        "threads": 2,
        "figures": {
            "prompt_tokens": 256.0, "prompt_tokens_per_s": 500.0,
            "generation_prompt_tokens": 4.0, "generated_tokens": 128.0,
            "generation_tokens_per_s": 100.0, "bandwidth_gbs": 15.0, "compute_tflops": 0.3328
        },
        "decode_bytes_per_token": 98000000.0,
        "prefill_flops_per_token": 270000000.0,
        "bandwidth_method": "test",
        "compute_method": "test",
        "memory_bytes": 8589934592u64,
        "available_memory_bytes": 4294967296u64
    });
    let file = home.path().join("calibration.json");
    std::fs::write(&file, record.to_string()).expect("write");
    let o = rightfit(
        home.path(),
        &["devices", "--model", "smollm2-135m", "--json"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["calibration"]["decode_efficiency"], 0.5);
    assert_eq!(v["calibration_file"], file.display().to_string());
    // This machine joins the list, sized from the record.
    let here = device(&v, "this-machine");
    assert_eq!(here["fit"]["available_bytes"], 4_294_967_296u64);
    let o = rightfit(home.path(), &["devices", "--model", "smollm2-135m"]);
    assert!(stdout(&o).contains("calibration in"), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("2026-11-30T00:00:00Z"),
        "{}",
        stdout(&o)
    );

    std::fs::write(&file, "{\"calibration\": 1}").expect("write");
    let o = rightfit(home.path(), &["devices"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("calibration.json"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("rightfit bench-model"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn devices_rejects_a_missing_model_and_bad_numbers_smollm2() {
    let home = tempfile::tempdir().expect("home");
    let o = rightfit(home.path(), &["devices", "--model", "no-such-model"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("models list"), "{}", stderr(&o));
    let path = model().display().to_string();
    let o = rightfit(
        home.path(),
        &["devices", "-m", &path, "--hosted-cost-per-1k=-1"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let o = rightfit(
        home.path(),
        &["devices", "-m", &path, "--output-tokens", "0"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
}
