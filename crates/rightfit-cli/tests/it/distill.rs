//! `rightfit distill` end to end on SmolLM2: a LoRA student trained from a dataset, listed,
//! shown and exported; then the same prompts answered by the student through `rightfit chat`,
//! `rightfit eval` and `rightfit serve` — identically, since all three load the one artefact
//! through the registry.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::{home_with_model, rightfit, stderr, stdout};
use crate::eval::shared_data;

const SYSTEM: &str =
    "Label the sentiment of the line of poetry: negative, no_impact, positive or mixed.";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn project(dir: &Path, port: u16) -> String {
    let data = shared_data().join("poem_sentiment");
    let toml = format!(
        r#"
[project]
name = "distill-cli"
seed = 7

[models.smollm2]
provider = "local"
model = "smollm2-135m"
context_size = 1024
parallel = 1
batch_invariant = true

[components.sentiment]
system = "{SYSTEM}"
prompt = "Line: {{{{ text }}}}"
dataset = {{ path = "{test}", columns = ["id", "text", "label"], id = "id" }}
reference = "label"
output = {{ type = "label", labels = ["negative", "no_impact", "positive", "mixed"], map = {{ "-1" = "negative", "0" = "no_impact", "1" = "positive", "2" = "mixed" }} }}
metrics = ["accuracy"]
limit = 3
max_tokens = 4

[[components.sentiment.students]]
name = "lora"
type = "lora"
base = "smollm2"
rank = 4
layers = 1
batch_size = 4
epochs = 1
limit = 24
learning_rate = 2e-3
data = {{ from = "dataset", dataset = {{ path = "{train}", columns = ["id", "text", "label"], id = "id" }} }}

[[components.sentiment.candidates]]
student = "lora"

[[components.sentiment.candidates]]
model = "smollm2"

[gateway]
listen = "127.0.0.1:{port}"
auth = "none"
flush_ms = 50
"#,
        test = data.join("test.tsv").display(),
        train = data.join("train.tsv").display(),
    );
    let file = dir.join("rightfit.toml");
    std::fs::write(&file, toml).expect("config");
    file.to_string_lossy().into_owned()
}

/// One non-streamed chat completion from the gateway, by raw HTTP/1.0.
fn post_chat(port: u16, line: &str) -> Option<String> {
    let body = serde_json::json!({
        "model": "sentiment",
        "max_tokens": 4,
        "temperature": 0,
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": format!("Line: {line}")},
        ],
    })
    .to_string();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    let request = format!(
        "POST /v1/chat/completions HTTP/1.0\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(request.as_bytes()).ok()?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    assert!(head.contains(" 200 "), "{answer}");
    let v: Value = serde_json::from_str(body).expect("json body");
    Some(v["choices"][0]["message"]["content"].as_str()?.to_owned())
}

#[test]
fn a_distilled_student_answers_alike_through_chat_eval_and_serve_smollm2() {
    let home = home_with_model();
    let dir = tempfile::tempdir().expect("project");
    let port = free_port();
    let config = project(dir.path(), port);

    let o = rightfit(home.path(), &["distill", "-c", &config]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("sentiment.lora: trained"),
        "{}",
        stdout(&o)
    );
    let o = rightfit(home.path(), &["distill", "-c", &config]);
    assert!(stdout(&o).contains("up to date"), "{}", stdout(&o));

    let o = rightfit(home.path(), &["students", "list", "-c", &config]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("sentiment.lora"), "{}", stdout(&o));
    let o = rightfit(
        home.path(),
        &["students", "show", "-c", &config, "sentiment.lora"],
    );
    assert!(stdout(&o).contains("data sha256"), "{}", stdout(&o));

    let rows = dir.path().join("rows.jsonl");
    let o = rightfit(
        home.path(),
        &[
            "distill",
            "-c",
            &config,
            "sentiment",
            "--student",
            "lora",
            "--export",
            "openai",
            "-o",
            &rows.to_string_lossy(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let exported: Vec<Value> = std::fs::read_to_string(&rows)
        .expect("rows")
        .lines()
        .map(|l| serde_json::from_str(l).expect("jsonl"))
        .collect();
    assert_eq!(exported.len(), 24);
    assert_eq!(exported[0]["messages"][0]["role"], "system");
    assert_eq!(exported[0]["messages"][2]["role"], "assistant");

    // eval: the three test lines, as the run stores them.
    // The HTML report shows the student beside its base's zero-shot, with what training took.
    let page = dir.path().join("report.html");
    let html = page.to_string_lossy();
    let o = rightfit(
        home.path(),
        &["eval", "-c", &config, "--format", "json", "--html", &html],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let page = std::fs::read_to_string(&page).expect("the HTML report");
    let students = &page[page.find("Trained students").expect("the students' table")..];
    assert!(students.contains("lora on smollm2"), "{students}");
    assert!(students.contains("<td>24 rows</td>"), "{students}");
    let o = rightfit(home.path(), &["runs", "export", "-c", &config, "latest"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let records: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("jsonl"))
        .filter(|r: &Value| r["candidate"] != "smollm2/zero-shot")
        .collect();
    assert_eq!(records.len(), 3);
    let test =
        std::fs::read_to_string(shared_data().join("poem_sentiment/test.tsv")).expect("test.tsv");
    let text_of = |id: &str| -> String {
        test.lines()
            .find_map(|l| {
                let cols: Vec<&str> = l.split('\t').collect();
                (cols[0] == id).then(|| cols[1].to_owned())
            })
            .expect("the example's line")
    };

    let mut server = Command::new(env!("CARGO_BIN_EXE_rightfit"))
        .args(["serve", "-c", &config])
        .env("RIGHTFIT_HOME", home.path())
        .env("RIGHTFIT_THREADS", "2")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rightfit serve");
    let mut served = Vec::new();
    for r in &records {
        let id = r["example_id"].as_str().expect("id").to_owned();
        let line = text_of(&id);
        let o = rightfit(
            home.path(),
            &[
                "chat",
                "-c",
                &config,
                "-m",
                "sentiment.lora",
                "--system",
                SYSTEM,
                "--max-tokens",
                "4",
                &format!("Line: {line}"),
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let chat = stdout(&o).trim().to_owned();
        let eval = r["output"].as_str().expect("output").trim().to_owned();
        assert_eq!(chat, eval, "example {id}: chat and eval differ");
        let mut answer = None;
        for _ in 0..600 {
            if let Ok(Some(status)) = server.try_wait() {
                panic!("rightfit serve exited: {status}");
            }
            answer = post_chat(port, &line);
            if answer.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        served.push((
            id,
            eval,
            answer.expect("the gateway answered").trim().to_owned(),
        ));
    }
    let _ = server.kill();
    let _ = server.wait();
    for (id, eval, gateway) in &served {
        assert_eq!(gateway, eval, "example {id}: serve and eval differ");
    }

    // The adapter, taken elsewhere and brought back with `models add --base`, answers alike.
    let adapter = dir.path().join("elsewhere.gguf");
    let trained = dir
        .path()
        .join(".rightfit/students/sentiment/lora/adapter.gguf");
    std::fs::copy(&trained, &adapter).expect("copy the adapter");
    let o = rightfit(
        home.path(),
        &[
            "models",
            "add",
            &adapter.to_string_lossy(),
            "--name",
            "tuned",
        ],
    );
    assert!(!o.status.success(), "an adapter without its base");
    assert!(stderr(&o).contains("--base"), "{}", stderr(&o));
    let o = rightfit(
        home.path(),
        &[
            "models",
            "add",
            &adapter.to_string_lossy(),
            "--base",
            "smollm2-135m",
            "--name",
            "tuned",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("LoRA adapter on smollm2-135m"),
        "{}",
        stdout(&o)
    );
    let o = rightfit(home.path(), &["models", "list"]);
    assert!(
        stdout(&o).contains("LoRA adapter on smollm2-135m"),
        "{}",
        stdout(&o)
    );
    let (id, eval, _) = &served[0];
    let o = rightfit(
        home.path(),
        &[
            "chat",
            "-m",
            "tuned",
            "--ctx",
            "1024",
            "--batch-invariant",
            "--system",
            SYSTEM,
            "--max-tokens",
            "4",
            &format!("Line: {}", text_of(id)),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).trim(),
        eval,
        "example {id}: the added adapter and eval differ"
    );
}
