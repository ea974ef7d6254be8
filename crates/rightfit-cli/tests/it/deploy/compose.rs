//! What the deployment files say, read as Docker would: `deploy/compose.yaml` (YAML, with
//! Compose's variable interpolation from `deploy/.env.example`) and the runtime stage of the
//! `Dockerfile` (working directory, environment, entrypoint, exposed port, health check).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::stderr;

pub(super) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub(super) fn deploy() -> PathBuf {
    repo().join("deploy")
}

/// `deploy/compose.yaml`'s services, every string interpolated with `deploy/.env.example`.
pub(super) fn services() -> serde_json::Map<String, Value> {
    let vars = env_file(&deploy().join(".env.example"));
    let compose = interpolate_all(&yaml(&deploy().join("compose.yaml")), &vars);
    compose["services"]
        .as_object()
        .unwrap_or_else(|| panic!("no services in {compose}"))
        .clone()
}

/// A YAML file as JSON, read by PyYAML in the test Python (`RIGHTFIT_TEST_PYTHON`; PyYAML comes
/// with the pinned `gguf` package). `safe_load` resolves the compose file's `<<` merge keys.
fn yaml(path: &Path) -> Value {
    let var = rightfit_config::env::TEST_PYTHON;
    let python = std::env::var(var)
        .unwrap_or_else(|_| panic!("{var} is not set: run scripts/test (scripts/test-tools)"));
    let o = Command::new(&python)
        .args([
            "-c",
            "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)",
        ])
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("{python}: {e}"));
    assert!(o.status.success(), "{}: {}", path.display(), stderr(&o));
    serde_json::from_slice(&o.stdout).expect("YAML as JSON")
}

/// `KEY=VALUE` lines of an env file (comments and blank lines skipped).
fn env_file(path: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).expect("env file");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l
                .split_once('=')
                .unwrap_or_else(|| panic!("{l:?}: not KEY=VALUE"));
            (k.trim().to_owned(), v.trim().to_owned())
        })
        .collect()
}

/// Compose's variable interpolation: `$$`, `$NAME`, `${NAME}`, and `${NAME:-default}`,
/// `${NAME-default}`, `${NAME:?error}`, `${NAME?error}`, `${NAME:+alt}`, `${NAME+alt}`. A
/// required variable that is missing panics with the compose file's own message.
fn interpolate(text: &str, vars: &BTreeMap<String, String>) -> String {
    let name_end = |s: &str| {
        s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len())
    };
    let required = |name: &str, message: &str| -> ! {
        panic!("{name} is required by the compose file: {message}")
    };
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body
                .find('}')
                .unwrap_or_else(|| panic!("{text:?}: unclosed ${{"));
            let (name, op) = body[..end].split_at(name_end(&body[..end]));
            let value = vars.get(name).map(String::as_str);
            let non_empty = value.filter(|v| !v.is_empty());
            out.push_str(match op {
                "" => value.unwrap_or(""),
                _ if op.starts_with(":-") => non_empty.unwrap_or(&op[2..]),
                _ if op.starts_with(":?") => non_empty.unwrap_or_else(|| required(name, &op[2..])),
                _ if op.starts_with(":+") => non_empty.map_or("", |_| &op[2..]),
                _ if op.starts_with('-') => value.unwrap_or(&op[1..]),
                _ if op.starts_with('?') => value.unwrap_or_else(|| required(name, &op[1..])),
                _ if op.starts_with('+') => value.map_or("", |_| &op[1..]),
                _ => panic!("{text:?}: unknown interpolation {op:?}"),
            });
            rest = &body[end + 1..];
        } else {
            let n = name_end(after);
            if n == 0 {
                out.push('$');
            } else {
                out.push_str(vars.get(&after[..n]).map_or("", String::as_str));
            }
            rest = &after[n..];
        }
    }
    out.push_str(rest);
    out
}

/// Every string in `v` interpolated.
fn interpolate_all(v: &Value, vars: &BTreeMap<String, String>) -> Value {
    match v {
        Value::String(s) => Value::String(interpolate(s, vars)),
        Value::Array(a) => Value::Array(a.iter().map(|x| interpolate_all(x, vars)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), interpolate_all(x, vars)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A list of strings (a list, or a scalar split at spaces as Compose splits a string command).
pub(super) fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a.iter().flat_map(strings).collect(),
        Value::String(s) => s.split_whitespace().map(str::to_owned).collect(),
        Value::Number(n) => vec![n.to_string()],
        Value::Null => Vec::new(),
        other => panic!("expected strings, found {other}"),
    }
}

/// A service's `environment`, written as a map or as a list of `KEY=VALUE`.
pub(super) fn environment(service: &Value) -> BTreeMap<String, String> {
    match &service["environment"] {
        Value::Object(o) => o
            .iter()
            .map(|(k, v)| {
                let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                (k.clone(), v)
            })
            .collect(),
        Value::Array(a) => a
            .iter()
            .filter_map(|e| e.as_str()?.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// The value after `flag` in an argument list.
pub(super) fn arg_after<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let i = args.iter().position(|a| a == flag)?;
    args.get(i + 1).map(String::as_str)
}

/// What the runtime stage of the Dockerfile gives a container.
#[derive(Debug, Default)]
pub(super) struct Image {
    pub(super) workdir: String,
    pub(super) env: BTreeMap<String, String>,
    pub(super) entrypoint: Vec<String>,
    pub(super) expose: Vec<String>,
    /// The `HEALTHCHECK` command.
    pub(super) healthcheck: Vec<String>,
    /// Files copied from the build context: destination → source.
    pub(super) copies: BTreeMap<String, String>,
}

/// The `Dockerfile`'s last stage.
pub(super) fn image() -> Image {
    let text = std::fs::read_to_string(repo().join("Dockerfile")).expect("Dockerfile");
    let joined = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("\\\n", " ");
    let runtime = joined.rsplit_once("\nFROM ").expect("a second stage").1;
    let mut image = Image::default();
    let json_list =
        |s: &str| -> Vec<String> { serde_json::from_str(s.trim()).expect("a JSON list") };
    for line in runtime.lines().map(str::trim) {
        let (instruction, rest) = line.split_once(' ').unwrap_or((line, ""));
        match instruction {
            "WORKDIR" => image.workdir = rest.trim().to_owned(),
            "ENV" => {
                let (k, v) = rest.split_once('=').expect("ENV KEY=VALUE");
                image.env.insert(k.trim().to_owned(), v.trim().to_owned());
            }
            "ENTRYPOINT" => image.entrypoint = json_list(rest),
            "EXPOSE" => image.expose = rest.split_whitespace().map(str::to_owned).collect(),
            "HEALTHCHECK" => {
                let (_, cmd) = rest.split_once(" CMD ").expect("HEALTHCHECK ... CMD [...]");
                image.healthcheck = json_list(cmd);
            }
            "COPY" if !rest.contains("--from=") => {
                let words: Vec<&str> = rest
                    .split_whitespace()
                    .filter(|w| !w.starts_with("--"))
                    .collect();
                if let [from, to] = words[..] {
                    image.copies.insert(to.to_owned(), from.to_owned());
                }
            }
            _ => {}
        }
    }
    image
}

#[test]
fn interpolation_follows_compose() {
    let vars = BTreeMap::from([
        ("SET".to_owned(), "v".to_owned()),
        ("EMPTY".to_owned(), String::new()),
    ]);
    let cases = [
        ("a ${SET} $SET $$SET", "a v v $SET"),
        ("${EMPTY:-d} ${EMPTY-d} ${UNSET-d} ${SET:-d}", "d  d v"),
        (
            "${SET:+alt} ${EMPTY:+alt} ${EMPTY+alt} ${UNSET+alt}",
            "alt  alt ",
        ),
        ("${SET:?why} ${EMPTY?why}", "v "),
        (
            "postgres://u@postgres:5432/db",
            "postgres://u@postgres:5432/db",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(interpolate(text, &vars), expected, "{text}");
    }
    let missing = std::panic::catch_unwind(|| interpolate("${EMPTY:?set it}", &vars));
    assert!(missing.is_err());
}
