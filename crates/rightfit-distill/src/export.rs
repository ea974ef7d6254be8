//! A student's training rows as files other trainers read, for teams that fine-tune elsewhere:
//! OpenAI's fine-tuning chat format, or plain prompt/completion pairs. Each row is what the
//! component's prompt renders and the answer a student would learn.

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
    /// `{"messages": [system, user, assistant]}` per line (OpenAI fine-tuning).
    OpenAi,
    /// `{"prompt": ..., "completion": ...}` per line; the prompt is the system prompt (if any),
    /// a blank line and the user prompt.
    PromptCompletion,
}

/// Writes the training rows, then the validation rows, one JSON object per line; returns how
/// many lines were written.
pub fn write(
    out: &mut dyn Write,
    templates: &Templates,
    set: &TrainingSet,
    format: ExportFormat,
) -> Result<usize> {
    let mut n = 0;
    for row in set.train.iter().chain(&set.validation) {
        let line = line(templates, row, format)?;
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
