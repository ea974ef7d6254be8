//! Every count and size a project sets is bounded where the file is read: the bound itself is
//! accepted, one past it (and zero) is refused with the line and the key.

use std::path::Path;

use super::limits::{CONTEXT, MAX_TOKENS, PARALLEL, ROUNDS, SAMPLES, SHOTS};
use super::*;

const BASE: &str = r#"
[models.small]
provider = "local"
model = "smollm2-135m"
MODEL

[components.c]
prompt = "Q: {{ q }}"
dataset = { path = "d.jsonl" }
reference = "a"
output = { type = "text" }
COMPONENT

[[components.c.candidates]]
model = "small"
CANDIDATE
"#;

fn parse(model: &str, component: &str, candidate: &str) -> Result<Project, ConfigError> {
    let text = BASE
        .replace("MODEL", model)
        .replace("COMPONENT", component)
        .replace("CANDIDATE", candidate);
    Project::parse(Path::new("proj/rightfit.toml"), &text)
}

/// The bound is accepted; one past it (with the range) and one below the minimum are refused
/// naming `key`.
fn bounded(key: &str, max: u64, setting: impl Fn(u64) -> (String, String, String), min: u64) {
    let (m, c, k) = setting(max);
    parse(&m, &c, &k).unwrap_or_else(|e| panic!("{key} = {max} is allowed: {e}"));
    for bad in [max + 1, min - 1] {
        let (m, c, k) = setting(bad);
        let e = parse(&m, &c, &k).expect_err("refused").to_string();
        assert!(e.starts_with("proj/rightfit.toml:"), "{e}");
        assert!(e.contains(key), "{key}: {e}");
        // Below the minimum some keys keep their own message (`k must be ≥ 1`).
        if bad > max {
            assert!(
                e.contains(&format!("between {min} and {max}")),
                "{key}: {e}"
            );
        }
    }
}

fn model(text: String) -> (String, String, String) {
    (text, String::new(), String::new())
}

fn candidate(text: String) -> (String, String, String) {
    (String::new(), String::new(), text)
}

#[test]
fn local_model_sizes_are_bounded_and_named() {
    bounded(
        "models.small.context_size",
        u64::from(CONTEXT),
        |n| model(format!("context_size = {n}")),
        1,
    );
    // `parallel = 0` is named as parallel (it used to be reported as concurrency).
    bounded(
        "models.small.parallel",
        PARALLEL as u64,
        |n| model(format!("parallel = {n}")),
        1,
    );
    bounded(
        "models.small.concurrency",
        PARALLEL as u64,
        |n| model(format!("concurrency = {n}")),
        1,
    );
}

#[test]
fn answer_lengths_are_bounded_everywhere_they_are_set() {
    bounded(
        "components.c.max_tokens",
        u64::from(MAX_TOKENS),
        |n| (String::new(), format!("max_tokens = {n}"), String::new()),
        1,
    );
    bounded(
        "components.c.candidates[0].max_tokens",
        u64::from(MAX_TOKENS),
        |n| candidate(format!("max_tokens = {n}")),
        1,
    );
}

#[test]
fn strategy_counts_are_bounded() {
    // A billion few-shot examples used to pass and then abort the run allocating for them.
    bounded(
        "components.c.candidates[0].k",
        SHOTS as u64,
        |n| {
            (
                String::new(),
                "few_shot = { k = 2 }".to_owned(),
                format!("strategy = \"few-shot\"\nk = {n}"),
            )
        },
        1,
    );
    bounded(
        "components.c.few_shot.k",
        SHOTS as u64,
        |n| {
            (
                String::new(),
                format!("few_shot = {{ k = {n} }}"),
                String::new(),
            )
        },
        1,
    );
    bounded(
        "components.c.candidates[0].samples",
        u64::from(SAMPLES),
        |n| candidate(format!("strategy = \"self-consistency\"\nsamples = {n}")),
        2,
    );
    bounded(
        "components.c.candidates[0].rounds",
        u64::from(ROUNDS),
        |n| candidate(format!("strategy = \"reflection\"\nrounds = {n}")),
        1,
    );
}

#[test]
fn a_base_url_that_is_not_http_is_refused_before_any_request() {
    let hosted = |url: &str| {
        let text = format!(
            "[models.api]\nprovider = \"openai-compatible\"\nmodel = \"m\"\nbase_url = \"{url}\"\n"
        );
        parse(&text, "", "")
    };
    hosted("http://localhost:8000/v1").expect("http is fine");
    hosted("https://api.example.com/v1").expect("https is fine");
    for (url, says) in [
        ("localhost:8000/v1", "scheme is 'localhost'"),
        ("ftp://example.com/v1", "scheme is 'ftp'"),
        ("not a url", "is not a URL"),
        ("http://", "not a URL"),
    ] {
        let e = hosted(url).expect_err(url).to_string();
        assert!(e.contains("models.api.base_url"), "{url}: {e}");
        assert!(e.contains(says), "{url}: {e}");
    }
}
