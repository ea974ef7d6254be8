//! OpenAI Chat Completions: the request (`POST /v1/chat/completions`), the answer
//! (`chat.completion`), the stream (`chat.completion.chunk` events ended by `data: [DONE]`) and
//! the model list (`GET /v1/models`).
//!
//! Shapes follow api.openai.com as `rightfit-testkit`'s OpenAI server reproduces them (the
//! official SDKs are tested against it).

use rightfit_config::project::limits::MAX_TOKENS;
use rightfit_types::{ChatRequest, ResponseFormat, Sampling};
use serde_json::Value;

use super::{Fields, GatewayRequest, invalid_type, invalid_value, missing, object, unsupported};
use crate::api::Api;
use crate::error::GatewayError;

mod render;
mod tools;

pub use render::{Stream, models, response};

/// Most choices one request may ask for (`n`).
pub const MAX_N: u32 = 8;
/// Most stop sequences one request may give (OpenAI's limit).
pub const MAX_STOP: usize = 4;
/// Most alternatives per token (`top_logprobs`, OpenAI's limit).
pub const MAX_TOP_LOGPROBS: u32 = 20;

/// Parses a Chat Completions request body.
///
/// System and developer messages, wherever they stand, are joined in order with a blank line
/// into one system message placed first (chat templates and Anthropic take one system prompt).
/// Unknown fields are accepted (SDKs add fields) and kept in `params`. Tools, tool turns and
/// image parts are parsed into the common types; audio (input parts and output) and the legacy
/// `functions`/`function_call` fields are refused with a 400 naming them.
pub fn parse(body: &[u8]) -> Result<GatewayRequest, GatewayError> {
    let map = object(body)?;
    let f = Fields::new(&map);
    let model = f.required_string("model")?.to_owned();
    let messages = tools::messages(f.get("messages"))?;
    let (tool_list, tool_choice, parallel_tool_calls) = tools::tools(&f)?;
    f.refuse(
        "audio",
        "audio output is not supported: this gateway serves text.",
    )?;
    if let Some(modalities) = f.get("modalities") {
        let text_only = modalities
            .as_array()
            .is_some_and(|m| m.iter().all(|x| x.as_str() == Some("text")));
        if !text_only {
            return Err(unsupported(
                "modalities",
                "only [\"text\"] is supported: this gateway serves text.",
            ));
        }
    }

    let n = f.integer("n", 1, MAX_N)?.unwrap_or(1);
    let sampling = Sampling {
        temperature: f.number("temperature", 0.0, 2.0)?,
        top_p: f.number("top_p", 0.0, 1.0)?,
        // Not OpenAI's, but vLLM and llama.cpp servers take it; 0 means "no limit".
        top_k: f.integer("top_k", 0, u32::MAX)?.filter(|&k| k > 0),
        seed: seed(&f)?,
    };
    // The bound config files have too (rightfit_config::project::limits).
    let max_tokens = match f.integer("max_completion_tokens", 1, MAX_TOKENS)? {
        Some(n) => Some(n),
        None => f.integer("max_tokens", 1, MAX_TOKENS)?,
    };
    let stop = stop(f.get("stop"))?;
    let logprobs = logprobs(&f)?;
    let response_format = match f.get("response_format") {
        Some(value) => response_format(value)?,
        None => ResponseFormat::Text,
    };
    let stream = f.bool("stream")?.unwrap_or(false);
    let include_usage = match f.get("stream_options") {
        None => false,
        Some(Value::Object(options)) => match options.get("include_usage") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(invalid_type(
                    "stream_options.include_usage",
                    "a boolean",
                    other,
                ));
            }
        },
        Some(other) => return Err(invalid_type("stream_options", "an object", other)),
    } && stream;
    let user = f.string("user")?.map(str::to_owned);

    let mut chat = ChatRequest::chat(messages.clone())
        .with_sampling(sampling)
        .with_stop(stop)
        .with_response_format(response_format)
        .with_n(n);
    chat.model.clone_from(&model);
    chat.max_tokens = max_tokens;
    chat.logprobs = logprobs;
    chat.tools = tool_list;
    chat.tool_choice = tool_choice;
    chat.parallel_tool_calls = parallel_tool_calls;

    let mut params = map;
    params.remove("messages");
    Ok(GatewayRequest {
        api: Api::OpenAi,
        model,
        chat,
        stream,
        include_usage,
        user,
        params: Value::Object(params),
        messages,
    })
}

/// `seed`: any 64-bit integer; negative seeds keep their bits (the same seed, the same draw).
fn seed(f: &Fields<'_>) -> Result<Option<u64>, GatewayError> {
    let Some(value) = f.get("seed") else {
        return Ok(None);
    };
    if let Some(n) = value.as_u64() {
        return Ok(Some(n));
    }
    match value.as_i64() {
        Some(n) => Ok(Some(n.cast_unsigned())),
        None => Err(invalid_type("seed", "an integer", value)),
    }
}

/// `stop`: a string or a list of at most [`MAX_STOP`] non-empty strings.
fn stop(value: Option<&Value>) -> Result<Vec<String>, GatewayError> {
    let list = match value {
        None => return Ok(Vec::new()),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => {
            if items.len() > MAX_STOP {
                return Err(invalid_value(
                    "stop",
                    &format!(
                        "'stop' takes at most {MAX_STOP} sequences, got {}.",
                        items.len()
                    ),
                ));
            }
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(s) => out.push(s.clone()),
                    other => return Err(invalid_type(&format!("stop[{i}]"), "a string", other)),
                }
            }
            out
        }
        Some(other) => {
            return Err(invalid_type(
                "stop",
                "a string or an array of strings",
                other,
            ));
        }
    };
    if list.iter().any(String::is_empty) {
        return Err(invalid_value(
            "stop",
            "Invalid value for 'stop': stop sequences must not be empty.",
        ));
    }
    Ok(list)
}

/// `logprobs` and `top_logprobs` as [`ChatRequest::logprobs`].
fn logprobs(f: &Fields<'_>) -> Result<Option<u32>, GatewayError> {
    let wanted = f.bool("logprobs")?.unwrap_or(false);
    let top = f.integer("top_logprobs", 0, MAX_TOP_LOGPROBS)?;
    match (wanted, top) {
        (true, top) => Ok(Some(top.unwrap_or(0))),
        (false, Some(_)) => Err(invalid_value(
            "top_logprobs",
            "'top_logprobs' needs 'logprobs' set to true.",
        )),
        (false, None) => Ok(None),
    }
}

fn response_format(value: &Value) -> Result<ResponseFormat, GatewayError> {
    let Value::Object(format) = value else {
        return Err(invalid_type("response_format", "an object", value));
    };
    match format.get("type") {
        Some(Value::String(kind)) => match kind.as_str() {
            "text" => Ok(ResponseFormat::Text),
            "json_object" => Ok(ResponseFormat::JsonObject),
            "json_schema" => json_schema(format.get("json_schema")),
            other => Err(invalid_value(
                "response_format.type",
                &format!(
                    "Invalid value for 'response_format.type': '{other}'. Supported values are: \
                     'text', 'json_object' and 'json_schema'."
                ),
            )),
        },
        Some(other) => Err(invalid_type("response_format.type", "a string", other)),
        None => Err(missing("response_format.type")),
    }
}

fn json_schema(value: Option<&Value>) -> Result<ResponseFormat, GatewayError> {
    const P: &str = "response_format.json_schema";
    let spec = match value {
        Some(Value::Object(spec)) => spec,
        Some(other) => return Err(invalid_type(P, "an object", other)),
        None => return Err(missing(P)),
    };
    let name = match spec.get("name") {
        Some(Value::String(name)) if !name.is_empty() => name.clone(),
        Some(Value::String(_)) | None => return Err(missing(&format!("{P}.name"))),
        Some(other) => return Err(invalid_type(&format!("{P}.name"), "a string", other)),
    };
    let schema = match spec.get("schema") {
        Some(schema @ Value::Object(_)) => schema.clone(),
        Some(other) => return Err(invalid_type(&format!("{P}.schema"), "an object", other)),
        None => return Err(missing(&format!("{P}.schema"))),
    };
    let strict = match spec.get("strict") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(invalid_type(&format!("{P}.strict"), "a boolean", other)),
    };
    Ok(ResponseFormat::JsonSchema {
        name,
        schema,
        strict,
    })
}

#[cfg(test)]
#[path = "openai/parse_tests.rs"]
mod parse_tests;

#[cfg(test)]
#[path = "openai/tools_tests.rs"]
mod tools_tests;
