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

fn with_models(models: &str) -> String {
    format!("{STARTER}\n{models}")
}

#[test]
fn hosted_models_take_catalogue_prices_and_hosted_settings() {
    let p = parse(&with_models(
        r#"
[models.gpt]
provider = "openai"
model = "gpt-4o-mini-2024-07-18"
api_key = "env:OPENAI_API_KEY"
requests_per_minute = 500
first_byte_timeout_s = 5
stream = false

[models.claude]
provider = "anthropic"
model = "claude-3-5-sonnet-latest"
api_key = "env:ANTHROPIC_API_KEY"
price = { input = 1.0, output = 2.0 }
api_version = "2023-06-01"

[models.mystery]
provider = "openai-compatible"
base_url = "http://localhost:8000/v1"
model = "my-model"
"#,
    ))
    .expect("valid");
    let gpt = &p.models["gpt"];
    assert_eq!(
        gpt.price,
        Some(Price {
            input: 0.15,
            output: 0.6
        })
    );
    assert!(matches!(gpt.price_source, PriceSource::Catalogue(_)));
    assert_eq!(gpt.requests_per_minute, Some(500));
    assert_eq!(gpt.first_byte_timeout_s, Some(5.0));
    assert!(!gpt.stream);
    assert_eq!(gpt.retry_budget_s, 120.0 * 4.0 + 60.0);
    assert_eq!(p.models["claude"].price_source, PriceSource::Config);
    assert_eq!(p.models["mystery"].price, None);
    assert_eq!(p.models["mystery"].price_source, PriceSource::Unknown);
}

#[test]
fn settings_for_the_other_kind_of_model_are_refused() {
    let e = err(&with_models(
        "[models.x]\nprovider = \"local\"\nmodel = \"smollm2-135m\"\nrequests_per_minute = 10\n",
    ));
    assert!(e.contains("models.x.requests_per_minute"), "{e}");
    assert!(e.contains("local models"), "{e}");
    let e = err(&with_models(
        "[models.x]\nprovider = \"openai\"\nmodel = \"gpt-4o\"\napi_key = \"env:K\"\nparallel = 4\n",
    ));
    assert!(e.contains("models.x.parallel: only local models"), "{e}");
    let e = err(&with_models(
        "[models.x]\nprovider = \"gemini\"\nmodel = \"gemini-2.5-pro\"\napi_key = \"env:K\"\napi_version = \"v2\"\n",
    ));
    assert!(e.contains("v1beta or v1"), "{e}");
}

#[test]
fn local_models_priced_by_hardware_time() {
    let p = parse(&with_models(
        "[models.x]\nprovider = \"local\"\nmodel = \"smollm2-135m\"\nparallel = 4\ncost_per_hour = 3.6\n",
    ))
    .expect("valid");
    let m = &p.models["x"];
    assert_eq!(m.price_source, PriceSource::Hardware);
    // 3.6 $/h = 0.001 $/s; a 2 s request sharing the engine with 3 others: 0.0005 $.
    let cost = m.request_cost(100, 10, 2000.0).expect("priced");
    assert!((cost - 0.0005).abs() < 1e-12, "{cost}");
    // Hosted models: tokens × price, latency does not matter.
    let gpt = ModelConfig::from_spec("gpt-4o", None, None)
        .expect("spec")
        .expect("hosted");
    let cost = gpt.request_cost(1_000_000, 100_000, 99.0).expect("priced");
    assert!((cost - 3.5).abs() < 1e-9, "{cost}");
    assert!(
        ModelConfig::from_spec("smollm2-135m", None, None)
            .expect("spec")
            .is_none()
    );
}

#[test]
fn constraints_merge_project_defaults_with_the_component_s_own() {
    let text = format!(
        "[constraints]\nmin_quality = 0.8\nmax_p95_latency_ms = 900\noffline = true\n{BASE}\n\
         [components.c.constraints]\nmin_quality_of_best = 0.95\nmax_p95_latency_ms = 500\n"
    );
    let p = parse(&text).expect("valid");
    assert_eq!(p.constraints.min_quality, Some(0.8));
    let c = &p.component("c").expect("component").constraints;
    // The component's relative floor replaces the project's absolute one.
    assert_eq!(c.min_quality, None);
    assert_eq!(c.min_quality_of_best, Some(0.95));
    assert_eq!(c.max_p95_latency_ms, Some(500.0));
    assert_eq!(c.offline, Some(true));
    // Without its own table a component takes the project's.
    let p = parse(&format!("[constraints]\nprefer = \"latency\"\n{BASE}")).expect("valid");
    assert_eq!(
        p.component("c")
            .expect("component")
            .constraints
            .prefer
            .as_deref(),
        Some("latency")
    );
}

#[test]
fn bad_constraints_are_refused_with_key_and_line() {
    let e = err(&format!(
        "{BASE}\n[components.c.constraints]\nmin_quality = 80\n"
    ));
    assert!(
        e.contains("rightfit.toml:15: components.c.constraints.min_quality"),
        "{e}"
    );
    assert!(e.contains("fraction between 0 and 1"), "{e}");
    let e = err(&format!("[constraints]\nmax_monthly_usd = 100\n{BASE}"));
    assert!(
        e.contains("constraints.max_monthly_usd") && e.contains("requests_per_month"),
        "{e}"
    );
    let e = err(&format!("[constraints]\nprefer = \"cheap\"\n{BASE}"));
    assert!(e.contains("one of quality, cost, latency"), "{e}");
    let e = err(&format!("[constraints]\nmax_memory = 4\n{BASE}"));
    assert!(e.contains("unknown field `max_memory`"), "{e}");
}

const LABELS: &str = r#"
[models.small]
provider = "local"
model = "smollm2-135m"

[models.big]
provider = "openai-compatible"
base_url = "http://localhost:1/v1"
model = "big"

[components.c]
prompt = "Q: {{ q }}"
dataset = { path = "d.jsonl" }
reference = "a"
output = { type = "label", labels = ["yes", "no"] }
few_shot = { k = 2 }
"#;

fn labels(candidates: &str) -> Result<Project, ConfigError> {
    parse(&format!("{LABELS}\n{candidates}"))
}

#[test]
fn strategies_compose_and_get_names_that_say_what_they_do() {
    let p = labels(
        r#"
[[components.c.candidates]]
model = "small"
strategy = "self-consistency"
reason = true
k = 3
select = "similar"
embedder = "big"

[[components.c.candidates]]
model = "small"
strategy = "chain-of-thought"
answer_prefix = "Final:"

[[components.c.candidates]]
model = "small"
strategy = "reflection"
critic = "big"
rounds = 2

[[components.c.candidates]]
model = "small"
strategy = "loglikelihood"
k = 4

[[components.c.candidates]]
model = "big"

[[components.c.candidates]]
strategy = "cascade"
stages = ["small/loglikelihood+few-shot-4", "big/zero-shot"]
threshold = 0.4
"#,
    )
    .expect("valid");
    let c = &p.components["c"];
    let names: Vec<&str> = c.candidates.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "small/self-consistency-5+cot+few-shot-similar-3",
            "small/chain-of-thought",
            "small/reflection-2-by-big",
            "small/loglikelihood+few-shot-4",
            "big/zero-shot",
            "cascade:small/loglikelihood+few-shot-4>big/zero-shot",
        ]
    );
    let sc = &c.candidates[0];
    assert_eq!(sc.temperature, Some(0.7), "self-consistency samples");
    assert!(sc.reason);
    assert_eq!(sc.max_tokens, 16 + 256, "room to reason");
    assert_eq!(sc.models(), ["small", "big"]);
    assert_eq!(c.candidates[1].answer_prefix, "Final:");
    let Strategy::Cascade(cascade) = &c.candidates[5].strategy else {
        panic!("a cascade")
    };
    assert_eq!(cascade.thresholds, [0.4]);
    assert_eq!(cascade.confidence, ConfidenceSource::Model);
    assert_eq!(c.candidates[3].normalize, rightfit_types::LabelNorm::None);
    assert_eq!(c.candidates[5].model, "small", "the first stage's model");
    // The similarity pool (default 64) is drawn, not just k.
    assert_eq!(c.shots_wanted(), 64);
}

#[test]
fn strategy_keys_are_checked_with_their_place() {
    let cases: &[(&str, &str)] = &[
        (
            "model = \"small\"\nsamples = 3",
            "samples applies to strategy self-consistency",
        ),
        (
            "model = \"small\"\nstrategy = \"self-consistency\"\nsamples = 1",
            "samples ≥ 2",
        ),
        (
            "model = \"small\"\nstrategy = \"self-consistency\"\ntemperature = 0.0",
            "temperature > 0",
        ),
        (
            "model = \"small\"\nstrategy = \"reflection\"\nrounds = 0",
            "rounds ≥ 1",
        ),
        (
            "model = \"small\"\nstrategy = \"reflection\"\ncritic = \"nope\"",
            "no model 'nope'",
        ),
        ("model = \"small\"\nk = 2", "k applies to strategy"),
        (
            "model = \"small\"\nstrategy = \"few-shot\"\nselect = \"best\"",
            "unknown select 'best'",
        ),
        (
            "model = \"small\"\nstrategy = \"chain-of-thought\"\nconstrained = true",
            "no room to reason",
        ),
        (
            "strategy = \"cascade\"\nstages = [\"small/zero-shot\"]\nthreshold = 0.5",
            "two or more",
        ),
        (
            "strategy = \"cascade\"\nstages = [\"small/zero-shot\", \"ghost\"]\nthreshold = 0.5",
            "no candidate 'ghost'",
        ),
        (
            "strategy = \"cascade\"\nstages = [\"small/zero-shot\", \"big/zero-shot\"]",
            "needs threshold",
        ),
        (
            "strategy = \"cascade\"\nstages = [\"small/zero-shot\", \"big/zero-shot\"]\nthreshold = 1.5",
            "within 0..=1",
        ),
        (
            "strategy = \"cascade\"\nstages = [\"small/zero-shot\", \"big/zero-shot\"]\nthresholds = [0.1, 0.2]",
            "need 1 thresholds",
        ),
        (
            "strategy = \"cascade\"\nstages = [\"small/zero-shot\", \"big/zero-shot\"]\nthreshold = 0.5\nconfidence = \"verifier\"",
            "go together",
        ),
        (
            "model = \"small\"\nstrategy = \"cascade\"\nstages = [\"small/zero-shot\", \"big/zero-shot\"]\nthreshold = 0.5",
            "no model of its own",
        ),
        (
            "strategy = \"cascade\"\nstages = [\"small/zero-shot\", \"big/zero-shot\"]\nthreshold = 0.5\nconfidence = \"tokens\"",
            "expected model, validator, verifier, token-mean, token-min, field-mean or field-min",
        ),
        (
            "model = \"small\"\nconfidence = \"validator\"",
            "unknown confidence 'validator' for a single call",
        ),
        (
            "model = \"small\"\nstrategy = \"self-consistency\"\nconfidence = \"token-mean\"",
            "confidence applies to strategy cascade, or to a single-call strategy",
        ),
        (
            "model = \"small\"\nnormalize = \"byte\"",
            "normalize applies to strategy = \"loglikelihood\"",
        ),
        (
            "model = \"small\"\nstrategy = \"loglikelihood\"\nnormalize = \"chars\"",
            "unknown normalize 'chars'",
        ),
    ];
    let base = "[[components.c.candidates]]\nmodel = \"small\"\n\n[[components.c.candidates]]\nmodel = \"big\"\n\n";
    for (candidate, wanted) in cases {
        let e = labels(&format!("{base}[[components.c.candidates]]\n{candidate}\n"))
            .expect_err(candidate)
            .to_string();
        assert!(e.contains(wanted), "{candidate}: {e}");
        assert!(e.contains("components.c.candidates[2]"), "{candidate}: {e}");
        assert!(e.starts_with("proj/rightfit.toml:"), "{e}");
    }
    let e = parse(&format!(
        "{}\nbaseline = \"nobody\"\n[[components.c.candidates]]\nmodel = \"small\"\n",
        LABELS
    ))
    .expect_err("unknown baseline")
    .to_string();
    assert!(e.contains("no candidate 'nobody'"), "{e}");
}

#[test]
fn components_named_checks_each_name_and_defaults_to_all() {
    let mut p = parse(BASE).expect("valid");
    let other = p.components["c"].clone();
    p.components.insert("b".into(), other);
    assert_eq!(p.components_named(&[]).expect("all"), ["b", "c"]);
    assert_eq!(p.components_named(&["c".into()]).expect("one"), ["c"]);
    let e = p
        .components_named(&["c".into(), "nope".into()])
        .expect_err("unknown");
    assert!(
        e.starts_with("no component 'nope' in proj/rightfit.toml (components: b, c)"),
        "{e}"
    );
    assert_eq!(p.model("small").expect("known").name, "small");
    let e = p.model("big").expect_err("unknown");
    assert_eq!(e, "no model named 'big' (models: small)");
}

#[test]
fn token_confidences_and_label_normalisation_are_read() {
    let p = labels(
        r#"
[[components.c.candidates]]
model = "small"
strategy = "loglikelihood"
normalize = "byte"

[[components.c.candidates]]
model = "big"
confidence = "field-mean"

[[components.c.candidates]]
name = "by-tokens"
strategy = "cascade"
stages = ["small/loglikelihood", "big/zero-shot"]
threshold = 0.4
confidence = "field-min"
"#,
    )
    .expect("valid");
    let c = &p.components["c"];
    assert_eq!(c.candidates[0].normalize, rightfit_types::LabelNorm::Byte);
    assert_eq!(c.candidates[0].token_confidence, None);
    assert_eq!(
        c.candidates[1].token_confidence,
        Some(ConfidenceSource::FieldMean)
    );
    let Strategy::Cascade(cascade) = &c.candidates[2].strategy else {
        panic!("a cascade")
    };
    assert_eq!(cascade.confidence, ConfidenceSource::FieldMin);
    assert!(cascade.confidence.needs_logprobs());
    assert!(!ConfidenceSource::Verifier.needs_logprobs());
    for (name, source) in [
        ("token-mean", ConfidenceSource::TokenMean),
        ("token-min", ConfidenceSource::TokenMin),
        ("field-mean", ConfidenceSource::FieldMean),
    ] {
        let p = labels(&format!(
            "[[components.c.candidates]]\nmodel = \"small\"\n\n[[components.c.candidates]]\nmodel = \"big\"\n\n\
             [[components.c.candidates]]\nstrategy = \"cascade\"\nstages = [\"small/zero-shot\", \"big/zero-shot\"]\nthreshold = 0.5\nconfidence = \"{name}\"\n"
        ))
        .expect(name);
        let Strategy::Cascade(cascade) = &p.components["c"].candidates[2].strategy else {
            panic!("a cascade")
        };
        assert_eq!(cascade.confidence, source, "{name}");
    }
}

#[test]
fn a_postgres_store_is_kept_as_written_and_a_file_is_resolved() {
    let with =
        |store: &str| STARTER.replacen("[project]", &format!("[project]\nstore = \"{store}\""), 1);
    let url = "postgres://rightfit@db:5432/rightfit?sslmode=require";
    assert_eq!(parse(&with(url)).expect("url").store, Path::new(url));
    let url = "postgresql://db/rf";
    assert_eq!(parse(&with(url)).expect("url").store, Path::new(url));
    let p = parse(&with("data/runs.db")).expect("file");
    assert_eq!(p.store, Path::new("proj/data/runs.db"));
    assert!(is_database_url("postgres://x/y") && !is_database_url("proj/postgres.db"));
}
