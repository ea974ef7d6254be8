//! A row's reference read the component's way: a field (a label mapped and checked, texts, a
//! `tool_call` contract's functions and expected calls) or spans of a text gathered into slots;
//! and, for a `tool_call` contract that names one, the row's conversation.

use rightfit_config::project::{Component, OutputContract, Reference, ToolSource};
use serde_json::{Map, Value};

use super::error::PrepareError;
use crate::dataset::{FieldPath, Row};
use crate::scorers::label::LabelParser;
use crate::tool_call;

/// A field path from the config, or an error naming its key.
pub(super) fn path(key: &str, text: &str) -> Result<FieldPath, PrepareError> {
    FieldPath::parse(text).map_err(|e| PrepareError::Path {
        key: key.to_owned(),
        message: e.to_string(),
    })
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Maps a row's reference per the component's contract.
pub(super) struct ReferenceMapper {
    kind: MapperKind,
    output: OutputContract,
    labels: Option<LabelParser>,
    tools: Option<ToolsFrom>,
}

/// A `tool_call` contract's inputs: where the functions are, and the row's conversation.
struct ToolsFrom {
    functions: Functions,
    messages: Option<FieldPath>,
}

enum Functions {
    Field(FieldPath),
    Inline(Vec<Value>),
}

enum MapperKind {
    Field(FieldPath),
    Spans {
        spans: FieldPath,
        text: FieldPath,
        slot: FieldPath,
        start: FieldPath,
        end: FieldPath,
    },
}

impl ReferenceMapper {
    /// The mapper of a component: its reference paths, labels and tool sources parsed.
    pub(super) fn new(c: &Component) -> Result<Self, PrepareError> {
        let kind = match &c.reference {
            Reference::Field(f) => MapperKind::Field(path("reference", f)?),
            Reference::Spans {
                spans,
                text,
                slot,
                start,
                end,
            } => MapperKind::Spans {
                spans: path("reference.spans", spans)?,
                text: path("reference.text", text)?,
                slot: path("reference.slot", slot)?,
                start: path("reference.start", start)?,
                end: path("reference.end", end)?,
            },
        };
        let labels = match &c.output {
            OutputContract::Label { labels, .. } => Some(LabelParser::new(labels)),
            _ => None,
        };
        let tools = match &c.output {
            OutputContract::ToolCall { tools, messages } => Some(ToolsFrom {
                functions: match tools {
                    ToolSource::Field(f) => Functions::Field(path("output.tools", f)?),
                    ToolSource::Inline(list) => Functions::Inline(list.clone()),
                },
                messages: messages
                    .as_deref()
                    .map(|m| path("output.messages", m))
                    .transpose()?,
            }),
            _ => None,
        };
        Ok(Self {
            kind,
            output: c.output.clone(),
            labels,
            tools,
        })
    }

    /// A `tool_call` reference: the row's (or the config's) functions and the expected calls.
    fn tool_reference(
        &self,
        tools: &ToolsFrom,
        row: &Row,
        expected: &Value,
    ) -> Result<Value, String> {
        let functions = match &tools.functions {
            Functions::Inline(list) => list.clone(),
            Functions::Field(p) => {
                let v = p
                    .get(&row.fields)
                    .ok_or_else(|| format!("no field '{p}' (the functions offered)"))?;
                tool_call::functions(v).map_err(|e| format!("'{p}': {e}"))?
            }
        };
        tool_call::reference(functions, expected)
    }

    /// The row's conversation, when the contract reads one.
    pub(super) fn conversation(
        &self,
        row: &Row,
    ) -> Result<Option<Vec<rightfit_types::Message>>, String> {
        let Some(p) = self.tools.as_ref().and_then(|t| t.messages.as_ref()) else {
            return Ok(None);
        };
        let v = p
            .get(&row.fields)
            .ok_or_else(|| format!("no field '{p}' (the conversation)"))?;
        tool_call::messages::conversation(v)
            .map(Some)
            .map_err(|e| format!("'{p}': {e}"))
    }

    /// The row's reference, or why it has none usable.
    pub(super) fn map(&self, row: &Row) -> Result<Value, String> {
        match &self.kind {
            MapperKind::Field(p) => {
                let v = p
                    .get(&row.fields)
                    .ok_or_else(|| format!("no field '{p}' (the reference)"))?;
                match (&self.output, &self.labels) {
                    (OutputContract::Label { labels, map }, Some(parser)) => {
                        let raw = scalar_text(v)
                            .ok_or_else(|| format!("reference '{p}' is not a label: {v}"))?;
                        let name = map.get(&raw).cloned().unwrap_or(raw);
                        let i = parser.exact(&name).ok_or_else(|| {
                            format!(
                                "reference '{name}' is not one of the labels ({})",
                                labels.join(", ")
                            )
                        })?;
                        Ok(Value::String(labels[i].clone()))
                    }
                    (OutputContract::ToolCall { .. }, _) => match &self.tools {
                        Some(tools) => self
                            .tool_reference(tools, row, v)
                            .map_err(|e| format!("reference '{p}': {e}")),
                        None => Ok(v.clone()),
                    },
                    (OutputContract::Text { .. }, _) => match v {
                        Value::Array(items) => {
                            let texts: Option<Vec<Value>> = items
                                .iter()
                                .map(|i| scalar_text(i).map(Value::String))
                                .collect();
                            texts
                                .map(Value::Array)
                                .ok_or_else(|| format!("reference '{p}' must hold texts"))
                        }
                        other => scalar_text(other)
                            .map(Value::String)
                            .ok_or_else(|| format!("reference '{p}' must be text, not {other}")),
                    },
                    _ => Ok(v.clone()),
                }
            }
            MapperKind::Spans {
                spans,
                text,
                slot,
                start,
                end,
            } => {
                let source = text
                    .get(&row.fields)
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("no text field '{text}'"))?;
                let chars: Vec<char> = source.chars().collect();
                let mut out = Map::new();
                let list = match spans.get(&row.fields) {
                    None | Some(Value::Null) => return Ok(Value::Object(out)),
                    Some(Value::Array(list)) => list,
                    Some(other) => return Err(format!("'{spans}' must be a list, not {other}")),
                };
                for item in list {
                    let name = slot
                        .get(item)
                        .and_then(scalar_text)
                        .ok_or_else(|| format!("a span has no '{slot}'"))?;
                    let s = start.get(item).and_then(Value::as_u64).unwrap_or(0) as usize;
                    let e = end
                        .get(item)
                        .and_then(Value::as_u64)
                        .ok_or_else(|| format!("span '{name}' has no '{end}'"))?
                        as usize;
                    if s > e || e > chars.len() {
                        return Err(format!(
                            "span '{name}' {s}..{e} is outside the text ({} characters)",
                            chars.len()
                        ));
                    }
                    out.insert(name, Value::String(chars[s..e].iter().collect()));
                }
                Ok(Value::Object(out))
            }
        }
    }
}
