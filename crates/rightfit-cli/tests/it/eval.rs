//! `rightfit init | config check | eval | runs | score` end to end, on SmolLM2-135M.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{home_with_model, rightfit, stderr, stdout};

pub(crate) fn shared_data() -> std::path::PathBuf {
    std::env::var_os(rightfit_config::env::SHARED_DATA)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
}

/// A project directory from `rightfit init`, with the starter's data.
fn starter(home: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("project dir");
    let o = rightfit(home, &["init", dir.path().to_str().expect("utf-8")]);
    assert!(o.status.success(), "{}", stderr(&o));
    dir
}

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

#[test]
fn init_writes_a_project_that_checks_and_refuses_to_overwrite() {
    let home = home_with_model();
    let dir = starter(home.path());
    let config = path(dir.path(), "rightfit.toml");
    let o = rightfit(home.path(), &["config", "check", "-c", &config]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("valid") && out.contains("triage") && out.contains("smollm2/few-shot-3"),
        "{out}"
    );
    assert!(
        out.contains("datasets, local models and API keys: present"),
        "{out}"
    );
    let o = rightfit(home.path(), &["init", dir.path().to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
}

#[test]
fn config_errors_are_located_and_exit_1() {
    let home = home_with_model();
    let dir = starter(home.path());
    let config = dir.path().join("rightfit.toml");
    let text = std::fs::read_to_string(&config).expect("read");
    // A typo in a key.
    std::fs::write(&config, text.replace("max_tokens = 8", "max_token = 8")).expect("write");
    let o = rightfit(
        home.path(),
        &["eval", "-c", config.to_str().expect("utf-8")],
    );
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("rightfit.toml:") && e.contains("max_token"),
        "{e}"
    );
    // A candidate naming a model that is not defined.
    std::fs::write(
        &config,
        text.replace(
            "model = \"smollm2\"\nstrategy = \"zero-shot\"",
            "model = \"gpt\"\nstrategy = \"zero-shot\"",
        ),
    )
    .expect("write");
    let o = rightfit(
        home.path(),
        &["config", "check", "-c", config.to_str().expect("utf-8")],
    );
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("components.triage.candidates[0].model") && e.contains("no model 'gpt'"),
        "{e}"
    );
    // A missing dataset: the file is valid, the check names the path.
    std::fs::write(
        &config,
        text.replace("data/tickets.jsonl", "data/nope.jsonl"),
    )
    .expect("write");
    let o = rightfit(
        home.path(),
        &["config", "check", "-c", config.to_str().expect("utf-8")],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("nope.jsonl does not exist"),
        "{}",
        stdout(&o)
    );
    let o = rightfit(
        home.path(),
        &["eval", "-c", config.to_str().expect("utf-8")],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("nope.jsonl"), "{}", stderr(&o));
    // A hosted model whose key is not in the environment: the check says which variable.
    let hosted = format!(
        "{text}\n[models.gpt]\nprovider = \"openai\"\nmodel = \"gpt-4o-mini\"\napi_key = \"env:RIGHTFIT_TEST_UNSET_KEY\"\n"
    );
    std::fs::write(&config, hosted).expect("write");
    let o = rightfit(
        home.path(),
        &["config", "check", "-c", config.to_str().expect("utf-8")],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains(
            "models.gpt.api_key: environment variable RIGHTFIT_TEST_UNSET_KEY is not set"
        ),
        "{}",
        stdout(&o)
    );
    // A missing model: named, with the command that fetches it.
    let empty_home = tempfile::tempdir().expect("home");
    std::fs::write(&config, &text).expect("write");
    let o = rightfit(
        empty_home.path(),
        &["eval", "-c", config.to_str().expect("utf-8")],
    );
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("models.smollm2") && e.contains("rightfit models pull smollm2-135m"),
        "{e}"
    );
}

#[test]
fn eval_reports_malformed_rows_and_stores_a_run_smollm2() {
    let home = home_with_model();
    let dir = starter(home.path());
    let data = dir.path().join("data/tickets.jsonl");
    let mut text = std::fs::read_to_string(&data).expect("read");
    text.push_str("{\"id\": \"bad1\", \"text\": \"no team\"}\nthis is not json\n{\"id\": \"bad3\", \"text\": \"x\", \"team\": \"sales\"}\n");
    std::fs::write(&data, text).expect("write");
    let config = path(dir.path(), "rightfit.toml");
    let o = rightfit(
        home.path(),
        &[
            "eval",
            "-c",
            &config,
            "--candidate",
            "smollm2/zero-shot",
            "--candidate",
            "smollm2/loglikelihood",
            "--format",
            "json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    // 21 rows read, 3 skipped (the first with its line), 3 held out as few-shot examples.
    assert!(
        e.contains("15 examples") && e.contains("21 rows read, 3 skipped"),
        "{e}"
    );
    assert!(e.contains("tickets.jsonl:19: no field 'team'"), "{e}");
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json report");
    assert_eq!(report["run"]["rows_skipped"], 3);
    assert_eq!(report["primary_metric"], "accuracy");
    let cands = report["candidates"].as_array().expect("candidates");
    assert_eq!(cands.len(), 2);
    for c in cands {
        assert_eq!(c["examples"], 15);
        assert_eq!(c["failures"], 0);
        let q = &c["quality"];
        assert!(
            q["low"].as_f64() <= q["mean"].as_f64() && q["mean"].as_f64() <= q["high"].as_f64(),
            "{q}"
        );
        assert!(
            c["peak_memory_bytes"].as_u64().unwrap_or(0) > 50 << 20,
            "{c}"
        );
    }
    assert!(
        report["corpus"]["smollm2/zero-shot"]["macro_f1"].is_number(),
        "{report}"
    );
    assert_eq!(report["comparisons"][0]["n"], 15);

    // The run is stored: list, show, export read it back.
    let o = rightfit(home.path(), &["runs", "list", "-c", &config, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let runs: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(runs.as_array().map(Vec::len), Some(1));
    assert_eq!(runs[0]["status"], "finished");
    let o = rightfit(home.path(), &["runs", "show", "-c", &config, "latest"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("smollm2/loglikelihood") && stdout(&o).contains("accuracy % (95% CI)"),
        "{}",
        stdout(&o)
    );
    let o = rightfit(
        home.path(),
        &["runs", "export", "-c", &config, "latest", "--format", "csv"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 31, "header + 2 × 15 records");

    // A second run answers from the response cache.
    let o = rightfit(
        home.path(),
        &[
            "eval",
            "-c",
            &config,
            "--candidate",
            "smollm2/zero-shot",
            "--format",
            "json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json report");
    assert_eq!(report["candidates"][0]["cached"], 15);
    let o = rightfit(
        home.path(),
        &[
            "runs",
            "compare",
            "-c",
            &config,
            &runs[0]["id"].as_str().expect("id")[..16],
            "latest",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let cmp: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(cmp["comparisons"][0]["n"], 15);
    assert_eq!(
        cmp["comparisons"][0]["diff"]["mean"], 0.0,
        "same answers, same scores: {cmp}"
    );
}

fn records(home: &Path, config: &str, store: &str) -> Vec<serde_json::Value> {
    let o = rightfit(
        home,
        &["runs", "export", "-c", config, "--store", store, "latest"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("jsonl"))
        .collect()
}

fn outcome(records: &[serde_json::Value]) -> Vec<(String, String, String, String)> {
    let mut v: Vec<_> = records
        .iter()
        .map(|r| {
            (
                r["candidate"].to_string(),
                r["example_id"].to_string(),
                r["output"].to_string(),
                r["score"].to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_killed_run_resumes_to_the_uninterrupted_result_smollm2() {
    let home = home_with_model();
    let dir = starter(home.path());
    let config_path = dir.path().join("rightfit.toml");
    // Bit-exact answers, so the two runs can be compared exactly: one sequence at a time, no
    // prefix reuse, batch-invariant kernels. (With several sequences in flight llama.cpp's CPU
    // kernels can round differently depending on where a sequence's cells sit in the cache, so a
    // near-tie greedy answer can differ between any two runs, resumed or not; docs/engine.md.)
    let text = std::fs::read_to_string(&config_path).expect("read");
    let text = text.replace(
        "model = \"smollm2-135m\"",
        "model = \"smollm2-135m\"\nbatch_invariant = true\nprefix_cache = false\nparallel = 1",
    );
    std::fs::write(&config_path, text).expect("write");
    let config = config_path.display().to_string();
    let whole = path(dir.path(), "whole.db");
    let o = rightfit(
        home.path(),
        &["eval", "-c", &config, "--store", &whole, "--no-cache"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let expected = outcome(&records(home.path(), &config, &whole));
    assert_eq!(expected.len(), 45, "3 candidates × 15 examples");

    // Start again, kill it hard once some records are stored, then resume.
    let parts = path(dir.path(), "parts.db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rightfit"))
        .args(["eval", "-c", &config, "--store", &parts, "--no-cache"])
        .env("RIGHTFIT_HOME", home.path())
        .env("RIGHTFIT_THREADS", "2")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    let killed_at = loop {
        std::thread::sleep(Duration::from_millis(200));
        let o = rightfit(
            home.path(),
            &["runs", "export", "-c", &config, "--store", &parts, "latest"],
        );
        let n = stdout(&o).lines().count();
        if n >= 10 {
            child.kill().expect("kill");
            child.wait().expect("wait");
            break n;
        }
        assert!(
            child.try_wait().expect("poll").is_none(),
            "finished before it could be killed"
        );
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no records appeared"
        );
    };
    let o = rightfit(
        home.path(),
        &["runs", "list", "-c", &config, "--store", &parts, "--json"],
    );
    let runs: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(
        runs[0]["status"], "interrupted",
        "a killed run is not shown as running"
    );
    let why = runs[0]["meta"]["interrupted"].as_str().unwrap_or_default();
    assert!(why.contains("ended without finishing"), "{runs}");
    let partial = records(home.path(), &config, &parts).len();
    assert!(partial >= killed_at && partial < 45, "{partial}");

    let o = rightfit(
        home.path(),
        &[
            "eval",
            "-c",
            &config,
            "--store",
            &parts,
            "--no-cache",
            "--resume",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let resumed = outcome(&records(home.path(), &config, &parts));
    assert_eq!(resumed, expected);
    let o = rightfit(
        home.path(),
        &["runs", "list", "-c", &config, "--store", &parts, "--json"],
    );
    let runs: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(runs.as_array().map(Vec::len), Some(1), "resumed in place");
    assert_eq!(runs[0]["status"], "finished");
    // Nothing left to resume.
    let o = rightfit(
        home.path(),
        &["eval", "-c", &config, "--store", &parts, "--resume"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no unfinished run"), "{}", stderr(&o));
}

#[test]
fn a_run_whose_model_cannot_load_is_failed_with_the_reason_smollm2() {
    let home = home_with_model();
    let dir = starter(home.path());
    let config_path = dir.path().join("rightfit.toml");
    let good = std::fs::read_to_string(&config_path).expect("read");
    // Valid as written, and the file's header reads, but its tensors are cut short: the engine
    // fails to load once the run exists.
    let model = std::fs::read(super::model()).expect("the model");
    let truncated = dir.path().join("truncated.gguf");
    std::fs::write(&truncated, &model[..4_000_000]).expect("write");
    let bad = good.replace(
        "model = \"smollm2-135m\"",
        &format!("model = \"{}\"", truncated.display()),
    );
    std::fs::write(&config_path, bad).expect("write");
    let config = config_path.display().to_string();
    let o = rightfit(
        home.path(),
        &["eval", "-c", &config, "--candidate", "smollm2/zero-shot"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let o = rightfit(home.path(), &["runs", "list", "-c", &config, "--json"]);
    let runs: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(runs[0]["status"], "failed", "{runs}");
    let why = runs[0]["meta"]["error"].as_str().unwrap_or_default();
    assert!(why.contains("truncated"), "{runs}");
    assert!(runs[0]["finished_at"].is_string(), "{runs}");
    let o = rightfit(home.path(), &["runs", "list", "-c", &config]);
    assert!(
        stdout(&o).contains("failed: models.smollm2"),
        "{}",
        stdout(&o)
    );

    // The cause fixed, a new run finishes; the failed one stays failed, newest first.
    std::fs::write(&config_path, good).expect("write");
    let o = rightfit(
        home.path(),
        &["eval", "-c", &config, "--candidate", "smollm2/zero-shot"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = rightfit(home.path(), &["runs", "list", "-c", &config, "--json"]);
    let runs: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(runs.as_array().map(Vec::len), Some(2), "{runs}");
    assert_eq!(runs[0]["status"], "finished", "{runs}");
    assert_eq!(runs[1]["status"], "failed", "{runs}");
}

#[test]
fn score_reproduces_the_squad_golden_overall() {
    let home = tempfile::tempdir().expect("home");
    let data = shared_data();
    let preds = data.join("squad_v2_subset/bert_single_predictions_v2.json");
    let golden = data.join("golden/golden_squad_v2_subset_bert.jsonl");
    let o = rightfit(
        home.path(),
        &[
            "score",
            "--metric",
            "squad_f1",
            "--predictions",
            preds.to_str().expect("utf-8"),
            "--references",
            golden.to_str().expect("utf-8"),
            "--reference-field",
            "gold",
            "--format",
            "json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["result"]["n"], 1407);
    let mean = v["result"]["mean"]["mean"].as_f64().expect("mean");
    assert!((mean * 100.0 - 78.8325).abs() < 5e-5, "{mean}");
    let o = rightfit(
        home.path(),
        &[
            "score",
            "--metric",
            "f1ish",
            "--predictions",
            preds.to_str().expect("utf-8"),
            "--references",
            golden.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("unknown metric 'f1ish'"),
        "{}",
        stderr(&o)
    );
}
