//! The `rightfit` binary end to end: output shapes (snapshots), exit codes and messages, and a
//! real model answering through the CLI (SmolLM2-135M, as the engine tests).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod catalogue;
mod decide;
mod deploy;
mod devices;
mod distill;
mod eval;
mod first_start;
mod gateway;
mod gateway_tools;
mod hosted;
mod journal;
mod replicas;
mod shards;
mod store_backends;
mod strategies;
mod traffic;
mod traffic_unreadable;

pub(crate) fn model() -> PathBuf {
    let p = std::env::var(rightfit_config::env::TEST_MODEL)
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").expect("HOME"))
                .join(".cache/rightfit/models/SmolLM2-135M-Instruct.Q4_1.gguf")
        });
    assert!(
        p.exists(),
        "{} missing: run scripts/test or set RIGHTFIT_TEST_MODEL",
        p.display()
    );
    p
}

pub(crate) fn rightfit(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rightfit"))
        .args(args)
        .env("RIGHTFIT_HOME", home)
        .env("RIGHTFIT_THREADS", "2")
        .env_remove("RIGHTFIT_LOG")
        // A store set for the shell must not leak into tests that expect the project's.
        .env_remove("RIGHTFIT_DATABASE_URL")
        .output()
        .expect("run rightfit")
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A home whose models directory holds the test model under its catalogue file name.
pub(crate) fn home_with_model() -> tempfile::TempDir {
    let home = tempfile::tempdir().expect("home");
    let models = home.path().join("models");
    std::fs::create_dir_all(&models).expect("models dir");
    std::os::unix::fs::symlink(model(), models.join("SmolLM2-135M-Instruct.Q4_1.gguf"))
        .expect("link");
    home
}

#[test]
fn help_lists_every_command() {
    let home = tempfile::tempdir().expect("home");
    let o = rightfit(home.path(), &["--help"]);
    assert!(o.status.success());
    insta::assert_snapshot!("help", stdout(&o));
}

#[test]
fn models_list_shows_the_catalogue() {
    let home = tempfile::tempdir().expect("home");
    let o = rightfit(home.path(), &["models", "list"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o).replace(&home.path().display().to_string(), "[HOME]");
    insta::assert_snapshot!("models_list_empty", text);
    let o = rightfit(home.path(), &["models", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v.as_array().map(Vec::len), Some(7));
    assert_eq!(v[0]["present"], false);
}

#[test]
fn models_info_reads_the_gguf_header_smollm2() {
    let home = home_with_model();
    let o = rightfit(home.path(), &["models", "info", "smollm2-135m"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The file row's width depends on the temporary directory's path; check it apart.
    let out = stdout(&o);
    let home_path = home.path().display().to_string();
    let (file_rows, rest): (Vec<&str>, Vec<&str>) =
        out.lines().partition(|l| l.contains(&*home_path));
    assert_eq!(file_rows.len(), 1, "{}", stdout(&o));
    // Column widths follow the longest value (the path): compare with padding collapsed.
    let squeezed: Vec<String> = rest
        .iter()
        .filter(|l| l.contains('┆'))
        .map(|l| {
            l.split(' ')
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    insta::assert_snapshot!("models_info_smollm2", squeezed.join("\n"));
    let o = rightfit(
        home.path(),
        &["models", "info", "--json", &model().display().to_string()],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["architecture"], "llama");
    assert_eq!(v["parameters"], 134_515_008);
    assert_eq!(v["quantization"], "Q4_1");
    assert_eq!(v["context_length"], 8192);
    assert_eq!(v["chat_template_embedded"], true);
}

#[test]
fn user_errors_exit_1_with_a_hint() {
    let home = tempfile::tempdir().expect("home");
    let o = rightfit(home.path(), &["chat", "-m", "no-such-model", "hi"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("models list"), "{}", stderr(&o));
    let o = rightfit(home.path(), &["chat", "-m", "smollm2-135m", "hi"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("rightfit models pull smollm2-135m"),
        "{}",
        stderr(&o)
    );
    let junk = home.path().join("junk.gguf");
    std::fs::write(&junk, "hello").expect("write");
    let o = rightfit(
        home.path(),
        &["complete", "-m", &junk.display().to_string(), "x"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not a GGUF file"), "{}", stderr(&o));
    let o = rightfit(home.path(), &["models", "pull", "not-in-catalogue"]);
    assert_eq!(o.status.code(), Some(1));
    let o = rightfit(home.path(), &["--threads", "0", "models", "list"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("threads"), "{}", stderr(&o));
}

#[test]
fn chat_streams_a_greedy_answer_smollm2() {
    let home = home_with_model();
    let o = rightfit(
        home.path(),
        &[
            "chat",
            "--max-tokens",
            "16",
            "--timings",
            "What is the capital of France?",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("Paris"), "{}", stdout(&o));
    assert!(stderr(&o).contains("first token"), "{}", stderr(&o));
    // Reading the prompt from stdin gives the same greedy answer.
    let mut child = Command::new(env!("CARGO_BIN_EXE_rightfit"))
        .args(["chat", "--max-tokens", "16"])
        .env("RIGHTFIT_HOME", home.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"What is the capital of France?\n")
        .expect("write");
    let piped = child.wait_with_output().expect("wait");
    assert_eq!(stdout(&piped), stdout(&o));
    // With --logprobs the same answer, and each token's log-probability and two alternatives
    // in a table on stderr, the answer alone on stdout.
    let l = rightfit(
        home.path(),
        &[
            "chat",
            "--max-tokens",
            "16",
            "--logprobs",
            "2",
            "What is the capital of France?",
        ],
    );
    assert!(l.status.success(), "{}", stderr(&l));
    assert_eq!(stdout(&l), stdout(&o));
    let table = stderr(&l);
    assert!(table.contains("alternatives (log p)"), "{table}");
    assert!(
        table.contains("\"Paris\"") || table.contains("\" Paris\""),
        "{table}"
    );
    assert!(table.contains("tokens · mean log p"), "{table}");
    let bad = rightfit(home.path(), &["chat", "--logprobs", "21", "hi"]);
    assert_eq!(bad.status.code(), Some(1), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("at most 20"), "{}", stderr(&bad));
}

#[test]
fn loglik_and_embed_print_machine_readable_output_smollm2() {
    let home = home_with_model();
    let o = rightfit(
        home.path(),
        &[
            "loglik",
            "--json",
            "--context",
            "The capital of France is",
            " Paris",
            " Berlin",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["best"], 0);
    let o = rightfit(home.path(), &["embed", "one", "two"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows: Vec<Vec<f32>> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("vector"))
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].len(), 576);
}

#[test]
fn constrained_chat_emits_schema_json_smollm2() {
    let home = home_with_model();
    let schema = home.path().join("schema.json");
    std::fs::write(
        &schema,
        r#"{"type":"object","properties":{"answer":{"type":"integer"}},"required":["answer"]}"#,
    )
    .expect("schema");
    let o = rightfit(
        home.path(),
        &[
            "chat",
            "--max-tokens",
            "32",
            "--json-schema",
            &schema.display().to_string(),
            "What is 2+2?",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).expect("json output");
    assert!(v["answer"].is_i64(), "{v}");
}
