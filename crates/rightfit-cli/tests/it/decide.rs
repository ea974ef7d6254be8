//! `rightfit recommend` and `rightfit report --html` on a real stored run: SmolLM2-135M (local)
//! against two hosted candidates served by the testkit (one right more often and dear, one
//! always "technical" and cheap).

use std::path::Path;
use std::process::Output;

use rightfit_testkit::chromium::{Chromium, LoadOptions};
use rightfit_testkit::{Protocol, Reply, ServerConfig, TestServer};
use serde_json::Value;

use super::{home_with_model, stderr, stdout};

/// `rightfit` with two engine threads, as the other SmolLM2 tests run it.
async fn run(home: &Path, args: &[&str]) -> Output {
    crate::hosted::run(home, args, &[("RIGHTFIT_THREADS", "2")]).await
}

async fn server(answer: &str) -> TestServer {
    let mut config = ServerConfig::new(Protocol::OpenAi);
    config.api_key = None;
    config.default_reply = Reply::text(answer).with_tokens(40, 1);
    TestServer::start(config).await.expect("server")
}

/// A project with three candidates on the starter's tickets, evaluated once.
struct Evaluated {
    home: tempfile::TempDir,
    _dir: tempfile::TempDir,
    config: String,
    /// The eval's JSON report.
    report: Value,
    _servers: (TestServer, TestServer),
}

async fn evaluated() -> Evaluated {
    let home = home_with_model();
    let (big, cheap) = (server("billing").await, server("technical").await);
    let toml = format!(
        r#"
[models.smollm2]
provider = "local"
model = "smollm2-135m"
context_size = 2048

[models.big]
provider = "openai-compatible"
base_url = "{}/v1"
model = "big"
price = {{ input = 5.0, output = 15.0 }}

[models.cheap]
provider = "openai-compatible"
base_url = "{}/v1"
model = "cheap"
price = {{ input = 0.1, output = 0.4 }}

[components.triage]
system = "You route customer support tickets. Answer with one word: billing, technical or account."
prompt = "Ticket: {{{{ text }}}}\nTeam:"
dataset = {{ path = "data/tickets.jsonl", id = "id" }}
reference = "team"
output = {{ type = "label", labels = ["billing", "technical", "account"] }}
metrics = ["accuracy"]
max_tokens = 4

[[components.triage.candidates]]
name = "big"
model = "big"

[[components.triage.candidates]]
name = "cheap"
model = "cheap"

[[components.triage.candidates]]
name = "smollm2"
model = "smollm2"
"#,
        big.base_url(),
        cheap.base_url()
    );
    let (dir, config) = crate::hosted::project(&toml);
    let o = run(home.path(), &["eval", "-c", &config, "--format", "json"]).await;
    assert!(o.status.success(), "{}", stderr(&o));
    let report = serde_json::from_slice(&o.stdout).expect("json report");
    Evaluated {
        home,
        _dir: dir,
        config,
        report,
        _servers: (big, cheap),
    }
}

/// (name, quality mean, cost per request) of each candidate, from the eval's own report.
fn figures(report: &Value) -> Vec<(String, f64, f64)> {
    report["candidates"]
        .as_array()
        .expect("candidates")
        .iter()
        .map(|c| {
            (
                c["candidate"].as_str().expect("name").to_owned(),
                c["quality"]["mean"].as_f64().unwrap_or(f64::NEG_INFINITY),
                c["cost_per_request_usd"].as_f64().expect("cost"),
            )
        })
        .collect()
}

async fn recommend(e: &Evaluated, flags: &[&str]) -> Value {
    let mut args = vec!["recommend", "-c", &e.config, "--format", "json"];
    args.extend_from_slice(flags);
    let o = run(e.home.path(), &args).await;
    assert!(o.status.success(), "{}", stderr(&o));
    let all: Value = serde_json::from_slice(&o.stdout).expect("json");
    all[0]["recommendation"].clone()
}

fn rejected_kinds(r: &Value, candidate: &str) -> Vec<String> {
    r["rejected"]
        .as_array()
        .expect("rejected")
        .iter()
        .filter(|x| x["candidate"] == candidate)
        .flat_map(|x| x["violations"].as_array().expect("violations").clone())
        .map(|v| v["kind"].as_str().expect("kind").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn recommend_follows_the_constraints_on_a_stored_run_smollm2() {
    let e = evaluated().await;
    let figs = figures(&e.report);
    let of = |name: &str| {
        figs.iter()
            .find(|f| f.0 == name)
            .expect("candidate")
            .clone()
    };
    let (big, cheap, small) = (of("big"), of("cheap"), of("smollm2"));
    // The testkit's answers fix the hosted figures: "billing" is right on the billing tickets,
    // "technical" on the technical ones; the local model is free.
    assert!(
        big.2 > cheap.2 && cheap.2 > 0.0 && small.2 == 0.0,
        "{figs:?}"
    );

    // No constraints: the best quality wins (ties: the cheaper).
    let r = recommend(&e, &[]).await;
    let best = figs
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.2.total_cmp(&a.2)))
        .expect("best");
    assert_eq!(r["chosen"], best.0.as_str(), "{r:#}");
    assert_eq!(r["objective"], "quality");
    assert_eq!(r["ranked"].as_array().expect("ranked").len(), 3);

    // A floor every candidate meets: the cheapest wins, and it is the free local model.
    let floor = figs.iter().map(|f| f.1).fold(f64::INFINITY, f64::min);
    let r = recommend(&e, &["--min-quality", &format!("{floor}")]).await;
    assert_eq!(r["objective"], "cost");
    assert_eq!(r["chosen"], "smollm2", "{r:#}");

    // A floor only `big` meets (just above the others): big, and the others say why not.
    let others = cheap.1.max(small.1);
    if big.1 > others {
        let r = recommend(
            &e,
            &["--min-quality", &format!("{}", (big.1 + others) / 2.0)],
        )
        .await;
        assert_eq!(r["chosen"], "big", "{r:#}");
        assert_eq!(rejected_kinds(&r, "cheap"), ["quality"]);
    }

    // Offline: only the local model is left.
    let r = recommend(&e, &["--offline"]).await;
    assert_eq!(r["chosen"], "smollm2", "{r:#}");
    assert_eq!(rejected_kinds(&r, "big"), ["offline"]);
    assert_eq!(rejected_kinds(&r, "cheap"), ["offline"]);

    // A budget below big's cost: big is rejected with its cost.
    let r = recommend(
        &e,
        &["--max-cost-per-1k", &format!("{}", big.2 * 1000.0 / 2.0)],
    )
    .await;
    assert_eq!(rejected_kinds(&r, "big"), ["budget"]);

    // On a Raspberry Pi the local model fits, and its latency is an estimate for the Pi.
    let r = recommend(&e, &["--device", "raspberry-pi-5-8gb", "--max-p95-ms", "1"]).await;
    let verdict = &r["devices"][0];
    assert_eq!(verdict["candidate"], "smollm2");
    assert_eq!(verdict["fit"]["fits"], true, "{verdict:#}");
    let small_broke = r["rejected"]
        .as_array()
        .expect("rejected")
        .iter()
        .find(|x| x["candidate"] == "smollm2")
        .expect("smollm2 rejected by a 1 ms SLO")["violations"][0]["message"]
        .as_str()
        .expect("message")
        .to_owned();
    assert!(
        small_broke.contains("(estimate on Raspberry Pi 5"),
        "{small_broke}"
    );
    // Nothing meets a 1 ms SLO: no choice, and the reason names the closest candidate.
    assert_eq!(r["chosen"], Value::Null);
    assert!(
        r["reason"]
            .as_str()
            .expect("reason")
            .starts_with("no candidate meets every constraint. Closest:")
    );

    // The terminal form: headline, reason, tables.
    let o = run(e.home.path(), &["recommend", "-c", &e.config, "--offline"]).await;
    let text = stdout(&o);
    assert!(text.contains("triage: use smollm2"), "{text}");
    assert!(
        text.contains("Rejected") && text.contains("Aspects"),
        "{text}"
    );
    assert!(text.contains("cloud only: needs the network"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_html_report_of_a_stored_run_loads_offline_in_chromium_smollm2() {
    let e = evaluated().await;
    let page = e.home.path().join("report.html");
    let page_arg = page.display().to_string();
    let o = run(
        e.home.path(),
        &[
            "recommend",
            "-c",
            &e.config,
            "--min-quality",
            "0",
            "--html",
            &page_arg,
        ],
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let options = LoadOptions {
        window: (1280, 1600),
        screenshot: true,
    };
    let load =
        tokio::task::spawn_blocking(move || Chromium::from_env().load_file(&page, None, &options))
            .await
            .expect("task")
            .expect("chromium loads the page");
    assert_eq!(load.problems(), Vec::<String>::new(), "console errors");
    assert_eq!(
        load.network_requests(),
        Vec::<&str>::new(),
        "network requests"
    );
    for key in ["quality-cost", "quality-latency"] {
        let at = load
            .dom
            .find(&format!("data-chart=\"{key}\""))
            .unwrap_or_else(|| panic!("no {key} chart"));
        let figure = &load.dom[at..at + load.dom[at..].find("</figure>").expect("figure end")];
        assert!(figure.contains("<svg"), "{key} has no SVG");
        for name in ["big", "cheap", "smollm2"] {
            assert!(figure.contains(name), "{key} does not show {name}");
        }
    }
    // The recommendation under --min-quality 0: the cheapest, the free local model.
    assert!(load.dom.contains("smollm2"), "recommendation shown");
    let rows = rightfit_config::project::STARTER_DATA.lines().count();
    assert_eq!(load.dom.matches("<tr class=\"ex\"").count(), rows);
    let png = load.screenshot.expect("screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );
    let target = std::env::var_os(rightfit_config::env::CARGO_TARGET_DIR)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let artefacts = target.join("test-artefacts");
    std::fs::create_dir_all(&artefacts).expect("artefacts dir");
    std::fs::write(artefacts.join("cli-report.png"), png).expect("screenshot saved");
}

#[tokio::test(flavor = "multi_thread")]
async fn recommend_refuses_bad_constraints_with_a_clear_message() {
    let home = tempfile::tempdir().expect("home");
    let (_dir, config) = crate::hosted::project(rightfit_config::project::STARTER);
    let o = run(home.path(), &["recommend", "-c", &config]).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no stored runs"), "{}", stderr(&o));
    let o = run(home.path(), &["recommend", "-c", &config, "triage"]).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("component 'triage' has no stored run — evaluate it first"),
        "{}",
        stderr(&o)
    );
    let o = run(
        home.path(),
        &["recommend", "-c", &config, "--device", "toaster"],
    )
    .await;
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("unknown device 'toaster'") && e.contains("raspberry-pi-5-8gb"),
        "{e}"
    );
    let o = run(
        home.path(),
        &["recommend", "-c", &config, "--max-monthly-usd", "10"],
    )
    .await;
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("requests_per_month"), "{}", stderr(&o));
    let o = run(
        home.path(),
        &["recommend", "-c", &config, "--min-quality", "80"],
    )
    .await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("fraction between 0 and 1"),
        "{}",
        stderr(&o)
    );
}
