//! A student's training rows as files other trainers read, for teams that fine-tune elsewhere:
//! OpenAI's fine-tuning chat format, or plain prompt/completion pairs. Each row is what the
//! component's prompt renders and the answer a student would learn.
//!
//! A `tool_call` component's rows are written in OpenAI's function-calling fine-tuning format
//! ([`tools`]): the conversation in OpenAI's message shape, the functions offered as `tools`,
//! and the assistant turn as `tool_calls`.

mod tools;

use std::io::Write;

use rightfit_eval::example::{Example, answer_text};
use rightfit_eval::prompt::Templates;
use rightfit_types::Message;
use serde_json::json;

use crate::data::{TrainingSet, input_text};
use crate::error::{DistillError, Result};

/// The file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// `{"messages": [system, user, assistant]}` per line (OpenAI fine-tuning); for a
    /// `tool_call` component `{"messages": [..., {"role": "assistant", "tool_calls": [...]}],
    /// "tools": [...]}`.
    OpenAi,
    /// `{"prompt": ..., "completion": ...}` per line; the prompt is the system prompt (if any),
    /// a blank line and the user prompt. Not for `tool_call` components (a pair has nowhere to
    /// put the functions offered).
    PromptCompletion,
}

/// Writes the training rows, then the validation rows, one JSON object per line; returns how
/// many lines were written. `tool_call` names the component when its contract is `tool_call`
/// (its rows are written with their functions and calls).
///
/// # Errors
/// A row's prompt does not render, writing fails, or a `tool_call` component is asked for
/// prompt/completion pairs.
pub fn write(
    out: &mut dyn Write,
    templates: &Templates,
    set: &TrainingSet,
    format: ExportFormat,
    tool_call: Option<&str>,
) -> Result<usize> {
    if let (Some(component), ExportFormat::PromptCompletion) = (tool_call, format) {
        return Err(DistillError::Settings(format!(
            "component '{component}' answers with tool calls: prompt/completion pairs cannot carry the functions offered — export the OpenAI format"
        )));
    }
    let mut n = 0;
    for row in set.train.iter().chain(&set.validation) {
        let line = match tool_call {
            Some(_) => tools::line(templates, row)?,
            None => line(templates, row, format)?,
        };
        writeln!(out, "{line}").map_err(|e| DistillError::Data(format!("writing: {e}")))?;
        n += 1;
    }
    out.flush()
        .map_err(|e| DistillError::Data(format!("writing: {e}")))?;
    Ok(n)
}

fn line(templates: &Templates, row: &Example, format: ExportFormat) -> Result<serde_json::Value> {
    let answer = answer_text(&row.reference);
    Ok(match format {
        ExportFormat::OpenAi => {
            let mut messages = templates
                .messages(&[], row)
                .map_err(|e| DistillError::Data(format!("row {}: {e}", row.id)))?;
            messages.push(Message::assistant(answer));
            json!({ "messages": messages })
        }
        ExportFormat::PromptCompletion => {
            json!({ "prompt": input_text(templates, row), "completion": answer })
        }
    })
}
