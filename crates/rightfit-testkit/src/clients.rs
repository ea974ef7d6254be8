//! The official SDK clients of the gateway tests (`crates/rightfit-gateway/tests/clients`), run
//! as child processes: the `openai` and `anthropic` Python SDKs and the `openai` npm package.
//! `RIGHTFIT_TEST_PYTHON`, `RIGHTFIT_TEST_NODE` and `RIGHTFIT_TEST_NODE_MODULES` name them
//! (`scripts/test-tools` prints the exports).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use rightfit_config::env as vars;
use serde_json::Value;

/// Which client script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// `openai_client.py`.
    OpenAiPython,
    /// `anthropic_client.py`.
    AnthropicPython,
    /// `openai_client.mjs`.
    OpenAiNode,
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| {
        format!("{name} is not set: run scripts/test (scripts/test-tools prepares the SDKs)")
    })
}

/// Runs a client against `base` (the gateway's root URL, without `/v1`) with `key` and `model`
/// (and `bad_key`, which must be refused), and returns its JSON lines by call name. Fails when
/// the script fails or any line says something unexpected happened. Blocks: call it from
/// `spawn_blocking` in async tests.
pub fn run(
    client: Client,
    base: &str,
    key: &str,
    model: &str,
    bad_key: Option<&str>,
) -> Result<BTreeMap<String, Value>, String> {
    run_skipping(client, base, key, model, bad_key, &[])
}

/// [`run`], leaving out the named calls (`json_object`: grammar-constrained decoding of a real
/// local model is too slow for a client call on a loaded 2-core machine).
pub fn run_skipping(
    client: Client,
    base: &str,
    key: &str,
    model: &str,
    bad_key: Option<&str>,
    skip: &[&str],
) -> Result<BTreeMap<String, Value>, String> {
    run_script(client, base, key, model, bad_key, skip, None)
}

/// Runs a client's tool-calling calls instead (`--tools`): `tools` (a whole answer with one
/// function, `get_weather(city)`, offered), `tools_stream` (the SDK's streaming helper, whose
/// final message the SDK rebuilt from the deltas) and `tool_result` (a second turn answering
/// the first call). See each script's docstring for the fields.
pub fn run_tools(
    client: Client,
    base: &str,
    key: &str,
    model: &str,
) -> Result<BTreeMap<String, Value>, String> {
    run_tools_forced(client, base, key, model, Forced::No)
}

/// How the first turn of [`run_tools_forced`] (whole and streamed) chooses a tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forced {
    /// As [`run_tools`]: `auto` whole, no `tool_choice` streamed.
    No,
    /// Some tool must be called: OpenAI's `"required"`, Anthropic's `{"type": "any"}`.
    Required,
    /// `get_weather` must be called, by name in each API's shape.
    Named,
}

/// [`run_tools`] with the first turn's call forced (`--tools=required`, `--tools=named`): what
/// a small local model needs to call a tool reliably. The second turn stays under `auto`.
pub fn run_tools_forced(
    client: Client,
    base: &str,
    key: &str,
    model: &str,
    forced: Forced,
) -> Result<BTreeMap<String, Value>, String> {
    let mode = match forced {
        Forced::No => "--tools",
        Forced::Required => "--tools=required",
        Forced::Named => "--tools=named",
    };
    run_script(client, base, key, model, None, &[], Some(mode))
}

fn run_script(
    client: Client,
    base: &str,
    key: &str,
    model: &str,
    bad_key: Option<&str>,
    skip: &[&str],
    tools: Option<&str>,
) -> Result<BTreeMap<String, Value>, String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../rightfit-gateway/tests/clients");
    let mut cmd = match client {
        Client::OpenAiPython | Client::AnthropicPython => {
            let mut c = Command::new(env(vars::TEST_PYTHON)?);
            // Keep the source tree free of __pycache__.
            c.env("PYTHONDONTWRITEBYTECODE", "1");
            c.arg(dir.join(if client == Client::OpenAiPython {
                "openai_client.py"
            } else {
                "anthropic_client.py"
            }));
            c
        }
        Client::OpenAiNode => {
            let mut c = Command::new(env(vars::TEST_NODE)?);
            c.env(vars::TEST_NODE_MODULES, env(vars::TEST_NODE_MODULES)?);
            c.arg(dir.join("openai_client.mjs"));
            c
        }
    };
    cmd.env(vars::CLIENT_SKIP, skip.join(","));
    if let Some(mode) = tools {
        cmd.arg(mode);
    }
    cmd.args([base, key, model]);
    if let Some(bad) = bad_key {
        cmd.arg(bad);
    }
    let output = cmd
        .output()
        .map_err(|e| format!("{client:?}: cannot run: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!("{client:?} failed:\n{stdout}\n{stderr}"));
    }
    let mut calls = BTreeMap::new();
    for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
        let value: Value =
            serde_json::from_str(line).map_err(|e| format!("{client:?}: {e}: {line}"))?;
        if let Some(why) = value.get("unexpected") {
            return Err(format!("{client:?}: {why}\n{value}\n{stderr}"));
        }
        let name = value["call"].as_str().unwrap_or_default().to_owned();
        calls.insert(name, value);
    }
    Ok(calls)
}
