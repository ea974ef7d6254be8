use std::path::Path;

use super::*;

fn parse(text: &str) -> Result<Project, ConfigError> {
    Project::parse(Path::new("proj/rightfit.toml"), text)
}

fn err(text: &str) -> String {
    parse(text).expect_err("should be refused").to_string()
}

#[test]
fn the_starter_project_is_valid() {
    let p = parse(STARTER).expect("starter parses");
    assert_eq!(p.name, "my-app");
    assert_eq!(p.store, Path::new("proj/.rightfit/runs.db"));
    let c = p.component("triage").expect("component");
    assert_eq!(c.dataset.path, Path::new("proj/data/tickets.jsonl"));
    assert_eq!(c.metrics, ["accuracy", "macro_f1"]);
    let names: Vec<&str> = c.candidates.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "smollm2/zero-shot",
            "smollm2/few-shot-3",
            "smollm2/loglikelihood"
        ]
    );
    assert_eq!(c.candidates[1].strategy, Strategy::FewShot { k: 3 });
    // Local models cost nothing unless priced.
    assert_eq!(
        p.models["smollm2"].price,
        Some(Price {
            input: 0.0,
            output: 0.0
        })
    );
    // Each starter data line is one JSON object.
    assert_eq!(STARTER_DATA.lines().count(), 18);
}

const BASE: &str = r#"
[models.small]
provider = "local"
model = "smollm2-135m"

[components.c]
prompt = "Q: {{ q }}"
dataset = { path = "d.jsonl" }
reference = "a"
output = { type = "text" }

[[components.c.candidates]]
model = "small"
"#;

#[test]
fn a_minimal_project_gets_defaults() {
    let p = parse(BASE).expect("valid");
    let c = &p.components["c"];
    assert_eq!(c.metrics, ["normalized_match"]);
    assert_eq!(c.candidates[0].name, "small/zero-shot");
    assert_eq!(c.candidates[0].max_tokens, 256);
    assert_eq!(p.seed, 42);
}

#[test]
fn an_unknown_key_is_refused_with_its_line() {
    let text = BASE.replace("reference = \"a\"", "reference = \"a\"\nrefrence = \"b\"");
    let e = err(&text);
    assert!(e.starts_with("proj/rightfit.toml:10:"), "{e}");
    assert!(e.contains("refrence"), "{e}");
}

#[test]
fn a_candidate_naming_an_unknown_model_says_which_exist() {
    let text = BASE.replace("model = \"small\"", "model = \"large\"");
    let e = err(&text);
    assert!(
        e.starts_with("proj/rightfit.toml:13: components.c.candidates[0].model"),
        "{e}"
    );
    assert!(
        e.contains("no model 'large'") && e.contains("defined: small"),
        "{e}"
    );
}

#[test]
fn a_literal_api_key_is_refused() {
    let text = format!(
        "{BASE}\n[models.gpt]\nprovider = \"openai\"\nmodel = \"gpt-4o\"\napi_key = \"sk-123\"\n"
    );
    let e = err(&text);
    assert!(
        e.contains("models.gpt.api_key") && e.contains("env:VARIABLE"),
        "{e}"
    );
    assert!(!e.contains("sk-123"), "the secret must not be echoed: {e}");
    let ok = text.replace("sk-123", "env:OPENAI_API_KEY");
    let p = parse(&ok).expect("env reference is fine");
    assert_eq!(
        p.models["gpt"].provider,
        ProviderConfig::Openai {
            model: "gpt-4o".into(),
            base_url: None,
            api_key: SecretRef::Env("OPENAI_API_KEY".into()),
        }
    );
}

#[test]
fn a_broken_template_is_refused_at_its_line() {
    let e = err(&BASE.replace("Q: {{ q }}", "Q: {{ q "));
    assert!(
        e.starts_with("proj/rightfit.toml:7: components.c.prompt"),
        "{e}"
    );
    assert!(e.contains("Jinja"), "{e}");
}

#[test]
fn metrics_must_exist_and_fit_the_output() {
    let e = err(&BASE.replace(
        "output = { type = \"text\" }",
        "output = { type = \"text\" }\nmetrics = [\"acuracy\"]",
    ));
    assert!(e.contains("unknown metric 'acuracy'"), "{e}");
    let e = err(&BASE.replace(
        "output = { type = \"text\" }",
        "output = { type = \"text\" }\nmetrics = [\"accuracy\"]",
    ));
    assert!(e.contains("does not fit"), "{e}");
    let p = parse(&BASE.replace(
        "output = { type = \"text\" }",
        "output = { type = \"text\" }\nmetrics = [\"rougeL:stem\", \"bleu\"]",
    ))
    .expect("valid");
    assert_eq!(p.components["c"].metrics, ["rougeL:stem", "bleu"]);
}

#[test]
fn strategies_are_checked_against_the_component() {
    let e = err(&BASE.replace(
        "model = \"small\"",
        "model = \"small\"\nstrategy = \"few-shot\"",
    ));
    assert!(e.contains("few_shot"), "{e}");
    let e = err(&BASE.replace(
        "model = \"small\"",
        "model = \"small\"\nstrategy = \"loglikelihood\"",
    ));
    assert!(e.contains("label"), "{e}");
    let e = err(&BASE.replace(
        "model = \"small\"",
        "model = \"small\"\nstrategy = \"magic\"",
    ));
    assert!(e.contains("unknown strategy 'magic'"), "{e}");
}

#[test]
fn bad_toml_reports_line_and_column() {
    let e = err("[models.x\nprovider = 1");
    assert!(e.starts_with("proj/rightfit.toml:1:"), "{e}");
}
