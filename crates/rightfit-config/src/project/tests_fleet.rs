//! `base_url` as one URL or a fleet of them: what is accepted, how it is kept, and each refusal
//! with its line and key path.

use std::path::Path;

use super::*;

fn parse(text: &str) -> Result<Project, ConfigError> {
    Project::parse(Path::new("proj/rightfit.toml"), text)
}

/// A project with one model `m` whose `base_url` (line 8) is `base_url`, and a component.
fn model(provider: &str, base_url: &str) -> String {
    format!(
        "[project]\nconcurrency = 3\n\n[models.m]\nprovider = \"{provider}\"\nmodel = \"x\"\napi_key = \"env:K\"\nbase_url = {base_url}\n{COMPONENT}"
    )
}

const COMPONENT: &str = r#"
[components.c]
prompt = "Q: {{ q }}"
dataset = { path = "d.jsonl" }
reference = "a"
output = { type = "text" }

[[components.c.candidates]]
model = "m"
"#;

fn err(base_url: &str) -> String {
    parse(&model("openai-compatible", base_url))
        .expect_err("refused")
        .to_string()
}

#[test]
fn one_url_is_kept_and_serialised_as_before() {
    let p = parse(&model("openai-compatible", "\"http://a:8000/v1\"")).expect("valid");
    let m = &p.models["m"];
    assert_eq!(
        m.provider.base_url(),
        Some(&BaseUrl::One("http://a:8000/v1".into()))
    );
    assert_eq!(m.concurrency, 3);
    let json = serde_json::to_value(&m.provider).expect("json");
    assert_eq!(json["base_url"], "http://a:8000/v1");
    // A model named on the command line is one URL too.
    let spec = ModelConfig::from_spec("openai-compatible:x", Some("http://b/v1"), None)
        .expect("valid")
        .expect("hosted");
    assert_eq!(
        spec.provider.base_url(),
        Some(&BaseUrl::from("http://b/v1"))
    );
}

#[test]
fn a_list_is_a_fleet_in_order_with_concurrency_per_endpoint() {
    let text = model(
        "openai-compatible",
        "[\n  \"http://a:8000/v1\",\n  \"https://b.example/v1\",\n  \"http://10.0.0.3:8000/v1\",\n]",
    );
    let p = parse(&text).expect("valid");
    let m = &p.models["m"];
    let urls = m.provider.base_url().expect("base_url").urls();
    assert_eq!(
        urls,
        [
            "http://a:8000/v1",
            "https://b.example/v1",
            "http://10.0.0.3:8000/v1"
        ]
    );
    assert_eq!(m.concurrency, 9, "the project's 3 per endpoint");
    let json = serde_json::to_value(&m.provider).expect("json");
    assert_eq!(json["base_url"], serde_json::json!(urls));
    // An explicit concurrency is the model's total.
    let explicit = text.replace("base_url =", "concurrency = 4\nbase_url =");
    assert_eq!(parse(&explicit).expect("valid").models["m"].concurrency, 4);
    // A list of one is allowed (a fleet that will grow).
    let one = parse(&model("openai-compatible", "[\"http://a/v1\"]")).expect("valid");
    assert_eq!(
        one.models["m"].provider.base_url().map(BaseUrl::len),
        Some(1)
    );
}

#[test]
fn every_hosted_provider_takes_a_fleet() {
    for provider in ["openai", "anthropic", "gemini"] {
        let p = parse(&model(provider, "[\"http://a/v1\", \"http://b/v1\"]"))
            .unwrap_or_else(|e| panic!("{provider}: {e}"));
        assert_eq!(
            p.models["m"].provider.base_url().map(BaseUrl::len),
            Some(2),
            "{provider}"
        );
    }
}

#[test]
fn an_empty_list_is_refused_with_its_line() {
    let e = err("[]");
    assert!(e.starts_with("proj/rightfit.toml:8:"), "{e}");
    assert!(e.contains("models.m.base_url"), "{e}");
    assert!(e.contains("empty list"), "{e}");
}

#[test]
fn a_server_listed_twice_is_refused_naming_both_places() {
    for (list, same) in [
        (
            "[\"http://a/v1\", \"http://b/v1\", \"http://a/v1\"]",
            "http://a/v1",
        ),
        (
            "[\"http://a/v1\", \"http://b/v1\", \"http://a/v1/\"]",
            "http://a/v1/",
        ),
        (
            "[\"http://A:80/v1\", \"http://b/v1\", \"http://a/v1\"]",
            "http://a/v1",
        ),
    ] {
        let e = err(list);
        assert!(e.contains("models.m.base_url[2]"), "{list}: {e}");
        assert!(
            e.contains(&format!("'{same}' is already models.m.base_url[0]")),
            "{list}: {e}"
        );
    }
}

#[test]
fn a_bad_url_in_a_list_is_refused_naming_its_index_and_line() {
    let e = err("[\n  \"http://a/v1\",\n  \"ftp://b/v1\",\n]");
    assert!(e.starts_with("proj/rightfit.toml:10:"), "{e}");
    assert!(e.contains("models.m.base_url[1]"), "{e}");
    assert!(e.contains("scheme is 'ftp'"), "{e}");
    let e = err("[\"http://a/v1\", \"not a url\"]");
    assert!(
        e.contains("models.m.base_url[1]") && e.contains("is not a URL"),
        "{e}"
    );
    let e = err("\"localhost:8000/v1\"");
    assert!(
        e.contains("models.m.base_url:") || e.contains("models.m.base_url "),
        "{e}"
    );
}

#[test]
fn other_shapes_are_refused_saying_what_is_expected() {
    for value in ["8000", "{ url = \"http://a/v1\" }"] {
        let e = err(value);
        assert!(e.starts_with("proj/rightfit.toml:8:"), "{value}: {e}");
        assert!(
            e.contains("expected a URL, or a list of URLs"),
            "{value}: {e}"
        );
    }
    let e = err("[\"http://a/v1\", 3]");
    assert!(e.starts_with("proj/rightfit.toml:8:"), "{e}");
    assert!(
        e.contains("models.m.base_url[1]: expected a URL in quotes, found integer 3"),
        "{e}"
    );
}

#[test]
fn local_models_take_no_base_url_list_either() {
    let text = "[models.m]\nprovider = \"local\"\nmodel = \"smollm2-135m\"\nbase_url = [\"http://a/v1\"]\n";
    let e = parse(text).expect_err("refused").to_string();
    assert!(e.contains("models.m.base_url"), "{e}");
    assert!(e.contains("local models run in-process"), "{e}");
}
