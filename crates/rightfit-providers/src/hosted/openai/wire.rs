//! Reading the JSON OpenAI and compatible servers send: choices, logprobs, usage, errors.
//!
//! Readers of nested values return `Err` as a suffix for a path (`.logprobs.content[0]: ...`), so
//! that the caller can put the path of the value in front.

use rightfit_types::{Choice, FinishReason, TokenLogprob, TopLogprob, Usage};
use serde_json::{Map, Value};

pub(super) use super::kind::type_name;
use super::tools::parse_calls;
use crate::hosted::codec::ErrorBody;

/// How much of an unreadable payload an error message quotes.
const EXCERPT_CHARS: usize = 120;

/// The start of a text, for messages (whole characters).
pub(super) fn excerpt(text: &str) -> String {
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

/// A count that must fit a `u32`. `Err` is a suffix for a path (`.prompt_tokens: ...`).
fn count(obj: &Map<String, Value>, field: &str) -> Result<u32, String> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(0),
        Some(v) => v
            .as_u64()
            .and_then(|x| u32::try_from(x).ok())
            .ok_or_else(|| format!(".{field}: expected a token count, got {v}")),
    }
}

/// `usage`: `None` when absent or null. Missing counts read as 0 (compatible servers leave
/// some out). `Err` is a suffix for a path.
pub(super) fn parse_usage(usage: Option<&Value>) -> Result<Option<Usage>, String> {
    let obj = match usage {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(obj)) => obj,
        Some(other) => return Err(format!(": expected an object, got {}", type_name(other))),
    };
    let cached_prompt_tokens = match obj.get("prompt_tokens_details") {
        Some(Value::Object(details)) => {
            count(details, "cached_tokens").map_err(|e| format!(".prompt_tokens_details{e}"))?
        }
        _ => 0,
    };
    Ok(Some(Usage {
        prompt_tokens: count(obj, "prompt_tokens")?,
        completion_tokens: count(obj, "completion_tokens")?,
        cached_prompt_tokens,
    }))
}

/// `finish_reason`: `None` while the choice goes on (null, absent, or an empty string).
pub(super) fn parse_finish(v: Option<&Value>) -> Result<Option<FinishReason>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(match s.as_str() {
            "" => None,
            "length" => Some(FinishReason::Length),
            "content_filter" => Some(FinishReason::ContentFilter),
            "tool_calls" | "function_call" => Some(FinishReason::ToolCalls),
            // `stop`, and reasons of other servers (`eos`, `stop_sequence`): the model ended
            // its turn.
            _ => Some(FinishReason::Stop),
        }),
        Some(other) => Err(format!(
            ".finish_reason: expected a string or null, got {}",
            type_name(other)
        )),
    }
}

/// `choices[].logprobs`: `None` when absent, null, or without `content`. `Err` is a suffix for
/// a path.
pub(super) fn parse_logprobs(v: Option<&Value>) -> Result<Option<Vec<TokenLogprob>>, String> {
    let content = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(obj)) => match obj.get("content") {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Array(content)) => content,
            Some(other) => {
                return Err(format!(
                    ".logprobs.content: expected an array, got {}",
                    type_name(other)
                ));
            }
        },
        Some(other) => {
            return Err(format!(
                ".logprobs: expected an object, got {}",
                type_name(other)
            ));
        }
    };
    let mut tokens = Vec::with_capacity(content.len());
    for (i, entry) in content.iter().enumerate() {
        let (token, logprob) =
            token_and_logprob(entry).map_err(|e| format!(".logprobs.content[{i}]{e}"))?;
        let top = match entry.get("top_logprobs") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(top)) => top
                .iter()
                .enumerate()
                .map(|(j, alt)| {
                    token_and_logprob(alt)
                        .map(|(token, logprob)| TopLogprob { token, logprob })
                        .map_err(|e| format!(".logprobs.content[{i}].top_logprobs[{j}]{e}"))
                })
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(format!(
                    ".logprobs.content[{i}].top_logprobs: expected an array, got {}",
                    type_name(other)
                ));
            }
        };
        tokens.push(TokenLogprob {
            token,
            logprob,
            top,
        });
    }
    Ok(Some(tokens))
}

/// `{token, logprob}`. `Err` is a suffix for a path.
fn token_and_logprob(v: &Value) -> Result<(String, f64), String> {
    let token = match v.get("token") {
        Some(Value::String(t)) => t.clone(),
        Some(other) => {
            return Err(format!(
                ".token: expected a string, got {}",
                type_name(other)
            ));
        }
        None => return Err(": no `token`".into()),
    };
    let logprob = match v.get("logprob") {
        Some(Value::Number(x)) => x.as_f64().unwrap_or(f64::NEG_INFINITY),
        Some(other) => {
            return Err(format!(
                ".logprob: expected a number, got {}",
                type_name(other)
            ));
        }
        None => return Err(": no `logprob`".into()),
    };
    Ok((token, logprob))
}

/// The index of a choice. `Err` is a suffix for a path.
pub(super) fn parse_index(choice: &Value) -> Result<u32, String> {
    match choice.get("index") {
        Some(v) => v
            .as_u64()
            .and_then(|x| u32::try_from(x).ok())
            .ok_or_else(|| format!(".index: expected a choice number, got {v}")),
        None => Err(": no `index`".into()),
    }
}

/// One choice of a whole response. `Err` is a suffix for a path.
pub(super) fn parse_choice(choice: &Value, compatible: bool) -> Result<Choice, String> {
    if !choice.is_object() {
        return Err(format!(": expected an object, got {}", type_name(choice)));
    }
    let index = parse_index(choice)?;
    let message = match choice.get("message") {
        Some(Value::Object(m)) => m,
        Some(other) => {
            return Err(format!(
                ".message: expected an object, got {}",
                type_name(other)
            ));
        }
        None => return Err(": no `message`".into()),
    };
    let text = match message.get("content") {
        Some(Value::String(s)) => s.clone(),
        // No text: a refusal, or a tool call.
        None | Some(Value::Null) => String::new(),
        Some(other) => {
            return Err(format!(
                ".message.content: expected a string or null, got {}",
                type_name(other)
            ));
        }
    };
    let finish = parse_finish(choice.get("finish_reason"))?.unwrap_or(FinishReason::Stop);
    let tool_calls = parse_calls(message, index, compatible)?;
    // Some compatible servers say `stop` after calling tools; the calls are what counts.
    let finish = if finish == FinishReason::Stop && !tool_calls.is_empty() {
        FinishReason::ToolCalls
    } else {
        finish
    };
    Ok(Choice {
        tool_calls,
        index,
        text,
        finish_reason: if refused(message.get("refusal")) {
            FinishReason::ContentFilter
        } else {
            finish
        },
        logprobs: parse_logprobs(choice.get("logprobs"))?,
    })
}

/// Whether a `refusal` field holds one.
pub(super) fn refused(refusal: Option<&Value>) -> bool {
    matches!(refusal, Some(Value::String(s)) if !s.is_empty())
}

/// An error in any shape OpenAI or a compatible server sends:
/// `{"error": {"message", "type", "param", "code"}}` (OpenAI; llama.cpp with a numeric code),
/// `{"error": "text"}`, `{"detail": "text"}` and `{"detail": [{"msg"}]}` (FastAPI, vLLM),
/// `{"message": "text", "type"?, "code"?}` (proxies, older vLLM).
pub(super) fn error_from_value(v: &Value) -> Option<ErrorBody> {
    let obj = v.as_object()?;
    if let Some(err) = obj.get("error") {
        return match err {
            Value::String(message) => Some(ErrorBody {
                message: message.clone(),
                kind: None,
            }),
            Value::Object(err) => error_fields(err),
            _ => None,
        };
    }
    match obj.get("detail") {
        Some(Value::String(message)) => {
            return Some(ErrorBody {
                message: message.clone(),
                kind: None,
            });
        }
        Some(Value::Array(items)) => {
            let messages: Vec<String> = items.iter().filter_map(detail_item).collect();
            if !messages.is_empty() {
                return Some(ErrorBody {
                    message: messages.join("; "),
                    kind: None,
                });
            }
        }
        _ => {}
    }
    error_fields(obj)
}

/// `{"message", "code"?, "type"?}`. The kind is a string `code` (OpenAI's most specific word,
/// such as `model_not_found`), else `type`, else a numeric `code`.
fn error_fields(err: &Map<String, Value>) -> Option<ErrorBody> {
    let message = err.get("message")?.as_str()?.to_owned();
    let kind = match (err.get("code"), err.get("type")) {
        (Some(Value::String(code)), _) if !code.is_empty() => Some(code.clone()),
        (_, Some(Value::String(kind))) if !kind.is_empty() => Some(kind.clone()),
        (Some(Value::Number(code)), _) => Some(code.to_string()),
        _ => None,
    };
    Some(ErrorBody { message, kind })
}

/// One FastAPI validation error: `{"loc": ["body", "messages"], "msg": "..."}`, read as
/// `body.messages: ...`.
fn detail_item(item: &Value) -> Option<String> {
    let msg = item.get("msg")?.as_str()?;
    let loc: Vec<String> = item
        .get("loc")
        .and_then(Value::as_array)
        .map(|loc| {
            loc.iter()
                .map(|part| match part {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    Some(if loc.is_empty() {
        msg.to_owned()
    } else {
        format!("{}: {msg}", loc.join("."))
    })
}
