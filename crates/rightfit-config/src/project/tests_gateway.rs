//! `[gateway]` and `[components.NAME.serve]`.

use std::path::{Path, PathBuf};

use super::*;

fn parse(text: &str) -> Result<Project, ConfigError> {
    Project::parse(Path::new("proj/rightfit.toml"), text)
}

/// 1-based line of the first line containing `needle`, found independently of the parser.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("'{needle}' is not in the text"))
}

/// A component with three candidates: `small/zero-shot`, `big/zero-shot`, `small/chain-of-thought`.
const APP: &str = r#"
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
output = { type = "text" }

[[components.c.candidates]]
model = "small"

[[components.c.candidates]]
model = "big"

[[components.c.candidates]]
model = "small"
strategy = "chain-of-thought"
"#;

const NAMES: &str = "small/zero-shot, big/zero-shot, small/chain-of-thought";

fn with_serve(serve: &str) -> String {
    format!("{APP}\n[components.c.serve]\n{serve}\n")
}

fn with_gateway(gateway: &str) -> String {
    format!("[gateway]\n{gateway}\n{APP}")
}

/// `text` is refused at the line holding `at`, naming `key`, and the message holds `wanted`.
fn refused(text: &str, at: &str, key: &str, wanted: &str) {
    let e = parse(text).expect_err(text).to_string();
    let prefix = format!("proj/rightfit.toml:{}: {key}: ", line_of(text, at));
    assert!(e.starts_with(&prefix), "expected '{prefix}...', got: {e}");
    assert!(e.contains(wanted), "expected '{wanted}' in: {e}");
}

#[test]
fn without_the_tables_the_gateway_and_serving_take_their_defaults() {
    let p = parse(APP).expect("valid");
    let g = &p.gateway;
    assert_eq!(g.listen, "127.0.0.1:8787".parse().expect("an address"));
    assert_eq!(g.auth, GatewayAuth::Keys);
    assert_eq!(g.body_limit_bytes, 4096 * 1024);
    assert_eq!(g.request_timeout_s, 120.0);
    assert!(g.log_inputs);
    assert!(g.redact_fields.is_empty() && g.redact_patterns.is_empty());
    assert_eq!((g.flush_ms, g.batch), (200, 256));
    assert_eq!((g.durability, &g.journal), (Durability::Process, &None));
    assert_eq!(*g, GatewayConfig::default());
    // The journal sits beside the store unless named; "none" keeps none.
    let store = Path::new("proj/.rightfit/runs.db");
    let beside = Some(PathBuf::from("proj/.rightfit/runs.db.journal"));
    assert_eq!(g.journal_dir(store), beside);
    let named = GatewayConfig {
        journal: Some("/var/lib/j".into()),
        ..GatewayConfig::default()
    };
    assert_eq!(named.journal_dir(store), Some(PathBuf::from("/var/lib/j")));
    let none = GatewayConfig {
        durability: Durability::None,
        ..named
    };
    assert_eq!(none.journal_dir(store), None);

    let c = &p.components["c"];
    assert_eq!(c.serve, None);
    let expected = ServePolicy {
        route: Route::Pinned("small/zero-shot".into()),
        sticky: Sticky::User,
        shadow: vec![],
        shadow_rate: 1.0,
        fallback: vec![],
        timeout_s: None,
    };
    assert_eq!(c.serving(), expected, "the first candidate");

    let text = APP.replace(
        "output = { type = \"text\" }",
        "output = { type = \"text\" }\nbaseline = \"big/zero-shot\"",
    );
    let p = parse(&text).expect("valid");
    assert_eq!(
        p.components["c"].serving().route,
        Route::Pinned("big/zero-shot".into()),
        "the baseline when set"
    );
    // An empty table is the defaults too.
    assert_eq!(
        parse(&with_gateway("")).expect("valid").gateway,
        GatewayConfig::default()
    );
}

#[test]
fn a_full_gateway_and_serve_table_are_read() {
    let text = with_gateway(
        r#"listen = "0.0.0.0:9000"
auth = "none"
body_limit_kb = 64
request_timeout_s = 45.5
log_inputs = false
redact_fields = ["user", "metadata"]
redact_patterns = ['\b\d{13,19}\b', '[\w.+-]+@[\w-]+\.[\w.]+']
flush_ms = 50
batch = 32
durability = "power"
journal = "../logs/journal"
header_timeout_s = 5.5
max_connections_per_client = 8
"#,
    ) + r#"
[components.c.serve]
split = { "small/zero-shot" = 90, "big/zero-shot" = 10 }
sticky = "header:X-Session-Id"
shadow = ["small/chain-of-thought"]
shadow_rate = 0.25
fallback = ["big/zero-shot", "small/chain-of-thought"]
timeout_s = 30
"#;
    let p = parse(&text).expect("valid");
    assert_eq!(
        p.gateway,
        GatewayConfig {
            listen: "0.0.0.0:9000".parse().expect("an address"),
            auth: GatewayAuth::None,
            body_limit_bytes: 64 * 1024,
            request_timeout_s: 45.5,
            log_inputs: false,
            redact_fields: vec!["user".into(), "metadata".into()],
            redact_patterns: vec![r"\b\d{13,19}\b".into(), r"[\w.+-]+@[\w-]+\.[\w.]+".into()],
            flush_ms: 50,
            batch: 32,
            durability: Durability::Power,
            journal: Some("logs/journal".into()),
            header_timeout_s: 5.5,
            max_connections_per_client: 8,
        }
    );
    let c = &p.components["c"];
    let expected = ServePolicy {
        // Sorted by name, not in the file's order.
        route: Route::Split(vec![
            ("big/zero-shot".into(), 10),
            ("small/zero-shot".into(), 90),
        ]),
        sticky: Sticky::Header("x-session-id".into()),
        shadow: vec!["small/chain-of-thought".into()],
        shadow_rate: 0.25,
        fallback: vec!["big/zero-shot".into(), "small/chain-of-thought".into()],
        timeout_s: Some(30.0),
    };
    assert_eq!(c.serve.as_ref(), Some(&expected));
    assert_eq!(c.serving(), expected);

    let p = parse(&with_serve(
        "candidate = \"big/zero-shot\"\nsticky = \"none\"",
    ))
    .expect("valid");
    let s = p.components["c"].serving();
    assert_eq!(s.route, Route::Pinned("big/zero-shot".into()));
    assert_eq!(s.sticky, Sticky::None);
    assert_eq!(s.timeout_s, None);
}

#[test]
fn the_serve_table_stays_out_of_the_serialized_component() {
    // Runs hash the serialized component to refuse resuming a changed configuration; serving
    // changes nothing evaluated, so it must not change that hash.
    let plain = parse(APP).expect("valid");
    let served = parse(&with_serve("candidate = \"big/zero-shot\"")).expect("valid");
    assert!(served.components["c"].serve.is_some());
    let json = |p: &Project| serde_json::to_value(&p.components["c"]).expect("serializes");
    assert_eq!(json(&plain), json(&served));
}

#[test]
fn serve_routes_are_refused_with_key_and_line() {
    let key = |k: &str| format!("components.c.serve.{k}");
    let text = with_serve("candidate = \"big/zero-shot\"\nsplit = { \"big/zero-shot\" = 1 }");
    refused(&text, "split = ", &key("split"), "not both");
    let text = with_serve("sticky = \"user\"");
    refused(
        &text,
        "[components.c.serve]",
        &key("candidate"),
        "candidate = \"NAME\" (pinned) or split",
    );
    let text = with_serve("candidate = \"gpt/zero-shot\"");
    refused(
        &text,
        "candidate = ",
        &key("candidate"),
        &format!("no candidate 'gpt/zero-shot' in this component (candidates: {NAMES})"),
    );
    let text = with_serve("split = { \"big/zero-shot\" = 1, \"ghost\" = 1 }");
    refused(&text, "split = ", &key("split"), "no candidate 'ghost'");
    let text = with_serve("split = { \"big/zero-shot\" = 0 }");
    refused(&text, "split = ", &key("split"), "weight 0");
    let text = with_serve("\n\nsplit = { \"big/zero-shot\" = -3 }");
    refused(&text, "split = ", &key("split"), "weight -3");
    let text = with_serve("split = { \"big/zero-shot\" = 5_000_000_000 }");
    refused(&text, "split = ", &key("split"), "whole numbers from 1");
    let text = with_serve("split = {}");
    refused(&text, "split = ", &key("split"), "an empty split");
    let e = parse(&with_serve("split = { \"big/zero-shot\" = 0.5 }"))
        .expect_err("a fractional weight")
        .to_string();
    assert!(e.starts_with("proj/rightfit.toml:"), "{e}");
}

#[test]
fn serve_options_are_refused_with_key_and_line() {
    let key = |k: &str| format!("components.c.serve.{k}");
    let pinned = "candidate = \"small/zero-shot\"\n";
    let cases: &[(&str, &str, &str, &str)] = &[
        ("shadow = [\"ghost\"]", "shadow", "shadow", NAMES),
        (
            "shadow = [\"small/zero-shot\"]",
            "shadow",
            "shadow",
            "cannot shadow itself",
        ),
        (
            "shadow = [\"big/zero-shot\", \"big/zero-shot\"]",
            "shadow",
            "shadow",
            "listed twice",
        ),
        ("fallback = [\"ghost\"]", "fallback", "fallback", NAMES),
        (
            "fallback = [\"big/zero-shot\", \"big/zero-shot\"]",
            "fallback",
            "fallback",
            "listed twice",
        ),
        (
            "shadow = [\"big/zero-shot\"]\nshadow_rate = 0",
            "shadow_rate",
            "shadow_rate",
            "above 0 and at most 1",
        ),
        (
            "shadow = [\"big/zero-shot\"]\nshadow_rate = 1.5",
            "shadow_rate",
            "shadow_rate",
            "above 0 and at most 1",
        ),
        (
            "shadow = [\"big/zero-shot\"]\nshadow_rate = nan",
            "shadow_rate",
            "shadow_rate",
            "above 0 and at most 1",
        ),
        (
            "shadow_rate = 0.5",
            "shadow_rate",
            "shadow_rate",
            "without shadow",
        ),
        ("timeout_s = 0", "timeout_s", "timeout_s", "positive number"),
        (
            "timeout_s = -2.5",
            "timeout_s",
            "timeout_s",
            "positive number",
        ),
        (
            "timeout_s = inf",
            "timeout_s",
            "timeout_s",
            "positive number",
        ),
        ("sticky = \"cookie\"", "sticky", "sticky", "header:NAME"),
        (
            "sticky = \"header:\"",
            "sticky",
            "sticky",
            "valid HTTP header",
        ),
        (
            "sticky = \"header:x session\"",
            "sticky",
            "sticky",
            "valid HTTP header",
        ),
    ];
    for (lines, at, k, wanted) in cases {
        let text = with_serve(&format!("{pinned}{lines}"));
        refused(&text, &format!("{at} ="), &key(k), wanted);
    }
    // A split target cannot shadow itself either.
    let text = with_serve(
        "split = { \"big/zero-shot\" = 1, \"small/zero-shot\" = 1 }\nshadow = [\"small/chain-of-thought\", \"small/zero-shot\"]",
    );
    refused(&text, "shadow =", &key("shadow"), "'small/zero-shot'");
    // Unknown keys are refused at their line.
    let text = with_serve(&format!("{pinned}shadow_rates = 0.5"));
    let e = parse(&text).expect_err("unknown key").to_string();
    let line = line_of(&text, "shadow_rates");
    assert!(
        e.starts_with(&format!("proj/rightfit.toml:{line}:")),
        "line {line}: {e}"
    );
    assert!(e.contains("unknown field `shadow_rates`"), "{e}");
}

#[test]
fn gateway_keys_are_refused_with_key_and_line() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "listen = \"localhost:8787\"",
            "gateway.listen",
            "'localhost:8787' is not an address",
        ),
        ("listen = \"127.0.0.1\"", "gateway.listen", "IP:PORT"),
        ("auth = \"token\"", "gateway.auth", "\"keys\" or \"none\""),
        (
            "body_limit_kb = 0",
            "gateway.body_limit_kb",
            "at least 1 KiB",
        ),
        ("body_limit_kb = -1", "gateway.body_limit_kb", "not -1"),
        (
            "request_timeout_s = 0",
            "gateway.request_timeout_s",
            "positive number of seconds",
        ),
        (
            "request_timeout_s = inf",
            "gateway.request_timeout_s",
            "positive number of seconds",
        ),
        ("flush_ms = 0", "gateway.flush_ms", "at least 1 millisecond"),
        ("batch = 0", "gateway.batch", "at least 1 record"),
        (
            "durability = \"disk\"",
            "gateway.durability",
            "unknown durability 'disk'",
        ),
        ("journal = \" \"", "gateway.journal", "an empty path"),
        (
            "header_timeout_s = 0",
            "gateway.header_timeout_s",
            "more than 0",
        ),
        (
            "header_timeout_s = 3601",
            "gateway.header_timeout_s",
            "at most 3600",
        ),
        (
            "max_connections_per_client = 0",
            "gateway.max_connections_per_client",
            "at least 1 connection",
        ),
        (
            "max_connections_per_client = 65537",
            "gateway.max_connections_per_client",
            "between 1 and 65536",
        ),
        (
            "redact_fields = [\"user\", \" \"]",
            "gateway.redact_fields[1]",
            "empty field name",
        ),
        (
            "redact_patterns = ['\\d+', '(unclosed']",
            "gateway.redact_patterns[1]",
            "'(unclosed' is not a valid regular expression",
        ),
    ];
    for (line, key, wanted) in cases {
        let text = with_gateway(&format!("\n{line}"));
        let at = line.split(" =").next().unwrap_or(line);
        refused(&text, &format!("{at} ="), key, wanted);
    }
    // The regex crate's own explanation is shown.
    let e = parse(&with_gateway("redact_patterns = ['(unclosed']"))
        .expect_err("bad regex")
        .to_string();
    assert!(e.contains("unclosed group"), "{e}");
    let text = with_gateway("\nlisten_on = \"0.0.0.0:1\"");
    let e = parse(&text).expect_err("unknown key").to_string();
    let line = line_of(&text, "listen_on");
    assert!(
        e.starts_with(&format!("proj/rightfit.toml:{line}:"))
            && e.contains("unknown field `listen_on`"),
        "line {line}: {e}"
    );
}
