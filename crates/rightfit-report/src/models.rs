//! The models this machine knows of, and one model file's header (`rightfit models`).

use std::path::Path;

use rightfit_types::models::{ModelFileInfo, ModelListing};
use serde_json::json;

use crate::fmt::{bytes as size, count, table};

/// The listing as JSON, one object per model.
pub fn models_json(models: &[ModelListing]) -> serde_json::Value {
    let rows: Vec<_> = models
        .iter()
        .map(|m| {
            let e = m.catalog.as_ref();
            json!({
                "name": m.name,
                "present": m.present,
                "path": m.path,
                "size": m.size,
                "catalog": e.is_some(),
                "adapter_on": m.base,
                "architecture": e.map(|e| &e.architecture),
                "parameters": e.map(|e| &e.parameters),
                "quantization": e.map(|e| &e.quantization),
                "sha256": e.map(|e| &e.sha256),
                "sources": e.map(|e| &e.sources),
            })
        })
        .collect();
    serde_json::Value::Array(rows)
}

/// The listing as a table, and where the models directory is.
pub fn models_terminal(models: &[ModelListing], dir: &Path) -> String {
    let mut t = table(&["name", "status", "size", "params", "quant", "arch", "about"]);
    for m in models {
        let status = if m.present { "downloaded" } else { "-" };
        match &m.catalog {
            Some(e) => t.add_row(vec![
                m.name.clone(),
                status.to_owned(),
                size(m.size),
                e.parameters.clone(),
                e.quantization.clone(),
                e.architecture.clone(),
                e.description.clone(),
            ]),
            None => t.add_row(vec![
                m.name.clone(),
                if m.present { "added" } else { "missing file" }.to_owned(),
                size(m.size),
                String::new(),
                String::new(),
                String::new(),
                match &m.base {
                    Some(base) => format!("LoRA adapter on {base}: {}", m.path.display()),
                    None => m.path.display().to_string(),
                },
            ]),
        };
    }
    format!("{t}\nmodels directory: {}\n", dir.display())
}

/// A model file's header as JSON.
pub fn model_info_json(i: &ModelFileInfo) -> serde_json::Value {
    json!({
        "name": i.name,
        "path": i.path,
        "file_size": i.file_size,
        "gguf_version": i.gguf_version,
        "general_name": i.general_name,
        "architecture": i.architecture,
        "parameters": i.parameters,
        "quantization": i.quantization,
        "context_length": i.context_length,
        "chat_template_embedded": i.chat_template_len.is_some(),
        "chat_template_fallback": i.chat_template_fallback,
        "tensors": i.tensors,
        "tensor_types": i.tensor_types,
        "metadata_keys": i.metadata_keys,
    })
}

/// A model file's header as a two-column table.
pub fn model_info_terminal(i: &ModelFileInfo) -> String {
    let mut t = table(&["field", "value"]);
    let rows: Vec<(&str, String)> = vec![
        ("name", i.name.clone()),
        ("file", i.path.display().to_string()),
        (
            "file size",
            format!("{} ({} bytes)", size(i.file_size), i.file_size),
        ),
        ("model", i.general_name.as_deref().unwrap_or("-").to_owned()),
        (
            "architecture",
            i.architecture.as_deref().unwrap_or("unknown").to_owned(),
        ),
        (
            "parameters",
            format!("{} ({})", count(i.parameters), i.parameters),
        ),
        ("quantization", i.quantization.clone()),
        (
            "context length",
            i.context_length
                .map_or_else(|| "unknown".to_owned(), |c| c.to_string()),
        ),
        (
            "chat template",
            match (i.chat_template_len, &i.chat_template_fallback) {
                (Some(len), _) => format!("embedded ({len} chars)"),
                (None, Some(f)) => format!("none embedded; rightfit uses built-in '{f}'"),
                (None, None) => "none embedded (use --template NAME, or completion)".to_owned(),
            },
        ),
        (
            "tensors",
            format!(
                "{} ({})",
                i.tensors,
                i.tensor_types
                    .iter()
                    .map(|(k, v)| format!("{v} {k}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        ("gguf version", i.gguf_version.to_string()),
    ];
    for (k, v) in rows {
        t.add_row(vec![k.to_owned(), v]);
    }
    format!("{t}\n")
}
