//! OpenAI Chat Completions: `POST /v1/chat/completions` (whole or streamed), `GET /v1/models`,
//! and `POST /v1/embeddings` (in [`crate::embeddings`]).
//!
//! Shapes follow api.openai.com: `chat.completion` bodies, `chat.completion.chunk` SSE events
//! ended by `data: [DONE]`, usage in a last chunk with `"choices": []` when
//! `stream_options.include_usage` is set, and errors as
//! `{"error": {"message", "type", "param", "code"}}`.

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderValue, Method, Response};
use serde_json::{Value, json};

use crate::embeddings;
use crate::error_bodies::openai::{check_model, error, json_ok, scripted_error};
use crate::respond::{self, Accepted, Generation, StreamPlan, Writing, sse_event};
use crate::script::{Finish, Quirks, Reply};
use crate::shared::{Req, Shared};

mod tools;

/// One accepted chat completion request.
#[derive(Debug)]
pub(crate) struct Call {
    id: String,
    request_id: String,
    created: u64,
    model: String,
    stream: bool,
    n: usize,
    logprobs: bool,
    top_logprobs: usize,
    include_usage: bool,
    quirks: Quirks,
}

/// Checks a request as OpenAI does (path, key, body, model); errors and listings are answered
/// here, a valid chat completion or embeddings request is accepted.
pub(crate) fn prepare(
    shared: &Shared,
    req: &Req,
) -> Result<Accepted<Call, embeddings::OpenAiEmbed>, Response<Body>> {
    let path = req.path.as_str();
    let is_chat = req.method == Method::POST && path == "/v1/chat/completions";
    let is_embed = req.method == Method::POST && path == "/v1/embeddings";
    let is_models =
        req.method == Method::GET && (path == "/v1/models" || path.starts_with("/v1/models/"));
    if !is_chat && !is_embed && !is_models {
        let message = format!("Invalid URL ({} {})", req.method, path);
        return Err(error(404, &message, "invalid_request_error", None, None));
    }
    check_key(shared, req)?;
    if is_models {
        return Err(models(shared, path));
    }
    let (body, model) = body_and_model(req)?;
    if is_embed {
        return embeddings::openai(shared, body, model).map(Accepted::Embed);
    }
    chat(shared, body, model).map(Accepted::Generate)
}

/// The JSON body and its `model`, or the 400 OpenAI answers without them.
fn body_and_model(req: &Req) -> Result<(&Value, &str), Response<Body>> {
    let Some(body) = req.json.as_ref() else {
        return Err(error(
            400,
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)",
            "invalid_request_error",
            None,
            None,
        ));
    };
    let Some(model) = body.get("model").and_then(Value::as_str) else {
        return Err(error(
            400,
            "you must provide a model parameter",
            "invalid_request_error",
            None,
            None,
        ));
    };
    Ok((body, model))
}

/// Checks a chat completion body.
fn chat(shared: &Shared, body: &Value, model: &str) -> Result<Call, Response<Body>> {
    match body.get("messages") {
        None => {
            return Err(error(
                400,
                "Missing required parameter: 'messages'.",
                "invalid_request_error",
                Some("messages"),
                Some("missing_required_parameter"),
            ));
        }
        Some(Value::Array(_)) => {}
        Some(other) => {
            let message = format!(
                "Invalid type for 'messages': expected an array of objects, but got {} instead.",
                json_kind(other)
            );
            return Err(error(
                400,
                &message,
                "invalid_request_error",
                Some("messages"),
                Some("invalid_type"),
            ));
        }
    }
    let n = match body.get("n") {
        None | Some(Value::Null) => 1,
        Some(value) => match value.as_u64() {
            Some(n @ 1..=128) => n as usize,
            _ => {
                let message =
                    format!("{value} is not valid for 'n': it must be an integer from 1 to 128.");
                return Err(error(
                    400,
                    &message,
                    "invalid_request_error",
                    Some("n"),
                    Some("invalid_value"),
                ));
            }
        },
    };
    tools::check(body)?;
    check_model(shared, model)?;

    let number = shared.next_id();
    Ok(Call {
        id: format!("chatcmpl-testkit{number:012}"),
        request_id: format!("req_testkit{number:012}"),
        created: rightfit_config::time::unix_now(),
        model: model.to_owned(),
        stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
        n,
        logprobs: body
            .get("logprobs")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        top_logprobs: body
            .get("top_logprobs")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            .min(20) as usize,
        include_usage: body
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        quirks: shared.config.quirks,
    })
}

fn check_key(shared: &Shared, req: &Req) -> Result<(), Response<Body>> {
    let Some(expected) = shared.config.api_key.as_deref() else {
        return Ok(());
    };
    let sent = req
        .header("authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|k| !k.is_empty());
    match sent {
        Some(key) if key == expected => Ok(()),
        Some(key) => {
            let message = format!(
                "Incorrect API key provided: {}. You can find your API key at https://platform.openai.com/account/api-keys.",
                mask_key(key)
            );
            Err(error(
                401,
                &message,
                "invalid_request_error",
                None,
                Some("invalid_api_key"),
            ))
        }
        None => Err(error(
            401,
            "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            None,
            None,
        )),
    }
}

/// Masks a key the way OpenAI's 401 message does: the first 8 and last 4 characters around
/// stars; short keys are echoed whole.
pub(crate) fn mask_key(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 12 {
        return key.to_owned();
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 12))
}

fn models(shared: &Shared, path: &str) -> Response<Body> {
    let names: Vec<&str> = if shared.config.models.is_empty() {
        vec!["gpt-4o-mini"]
    } else {
        shared.config.models.iter().map(String::as_str).collect()
    };
    let entry = |id: &str| json!({"id": id, "object": "model", "created": 1_700_000_000, "owned_by": "rightfit-testkit"});
    if let Some(id) = path.strip_prefix("/v1/models/") {
        if !shared.knows_model(id) {
            let message = format!("The model '{id}' does not exist");
            return error(
                404,
                &message,
                "invalid_request_error",
                Some("model"),
                Some("model_not_found"),
            );
        }
        return json_ok(&entry(id));
    }
    let data: Vec<Value> = names.into_iter().map(entry).collect();
    json_ok(&json!({"object": "list", "data": data}))
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn finish_reason(reply: &Reply) -> &'static str {
    match reply.finish {
        Finish::Length => "length",
        Finish::Stop if !reply.tool_calls.is_empty() => "tool_calls",
        Finish::Stop => "stop",
    }
}

impl Call {
    fn nl(&self) -> &'static str {
        if self.quirks.crlf { "\r\n" } else { "\n" }
    }

    fn wants_logprobs(&self, reply: &Reply) -> bool {
        self.logprobs && !reply.logprobs.is_empty()
    }

    fn token(&self, token: &str, logprob: f64) -> Value {
        let top: Vec<Value> = (0..self.top_logprobs)
            .map(|rank| json!({"token": token, "logprob": logprob - rank as f64, "bytes": token.as_bytes()}))
            .collect();
        json!({"token": token, "logprob": logprob, "bytes": token.as_bytes(), "top_logprobs": top})
    }

    fn logprobs_of(&self, tokens: &[(String, f64)]) -> Value {
        let content: Vec<Value> = tokens.iter().map(|(t, p)| self.token(t, *p)).collect();
        json!({"content": content, "refusal": null})
    }

    fn usage(&self, reply: &Reply) -> Value {
        let completion = reply.completion_tokens.saturating_mul(self.n as u32);
        json!({
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": reply.prompt_tokens.saturating_add(completion),
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0
            }
        })
    }

    /// One `chat.completion.chunk` event.
    fn chunk(&self, choices: Value, usage: Option<Value>) -> Bytes {
        let mut chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "service_tier": "default",
            "system_fingerprint": "fp_testkit",
            "choices": choices,
        });
        if let Value::Object(map) = &mut chunk {
            if self.quirks.no_ids {
                map.remove("id");
            }
            if self.include_usage && !self.quirks.no_usage {
                map.insert("usage".to_owned(), usage.unwrap_or(Value::Null));
            }
        }
        sse_event(None, &respond::to_string(&chunk), self.nl())
    }

    /// The same choice delta for each of the `n` choices, as one entry.
    fn per_choice(&self, choice: impl Fn(usize) -> Value) -> Bytes {
        let mut out = Vec::new();
        for index in 0..self.n {
            out.extend_from_slice(&self.chunk(json!([choice(index)]), None));
        }
        Bytes::from(out)
    }

    /// The streamed pieces and, when asked for, the tokens each carries.
    fn pieces(&self, reply: &Reply) -> Vec<(String, Value)> {
        if !self.wants_logprobs(reply) {
            return reply
                .deltas()
                .into_iter()
                .map(|piece| (piece, Value::Null))
                .collect();
        }
        let tokens = &reply.logprobs;
        let groups = reply.chunks.clamp(1, tokens.len());
        (0..groups)
            .map(|g| {
                let group = &tokens[g * tokens.len() / groups..(g + 1) * tokens.len() / groups];
                let text: String = group.iter().map(|(t, _)| t.as_str()).collect();
                (text, self.logprobs_of(group))
            })
            .collect()
    }
}

impl Generation for Call {
    fn streaming(&self) -> bool {
        self.stream
    }

    fn body(&self, reply: &Reply) -> Vec<u8> {
        let logprobs = if self.wants_logprobs(reply) {
            self.logprobs_of(&reply.logprobs)
        } else {
            Value::Null
        };
        let mut message =
            json!({"role": "assistant", "content": reply.text, "refusal": null, "annotations": []});
        if !reply.tool_calls.is_empty()
            && let Value::Object(map) = &mut message
        {
            if reply.text.is_empty() {
                map.insert("content".to_owned(), Value::Null);
            }
            map.insert(
                "tool_calls".to_owned(),
                tools::message_calls(&reply.tool_calls),
            );
        }
        let choices: Vec<Value> = (0..self.n)
            .map(|index| {
                json!({
                    "index": index,
                    "message": message,
                    "logprobs": logprobs,
                    "finish_reason": finish_reason(reply),
                })
            })
            .collect();
        let mut body = json!({
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": choices,
            "usage": self.usage(reply),
            "service_tier": "default",
            "system_fingerprint": "fp_testkit",
        });
        if let Value::Object(map) = &mut body {
            if self.quirks.no_ids {
                map.remove("id");
            }
            if self.quirks.no_usage {
                map.remove("usage");
            }
        }
        respond::to_vec(&body)
    }

    fn cut_body_at(&self, body: &[u8], reply: &Reply, deltas: usize) -> usize {
        let prefix: String = reply.deltas().into_iter().take(deltas).collect();
        respond::cut_after_text(body, "content", &prefix)
    }

    fn stream(&self, reply: &Reply) -> StreamPlan {
        let head = vec![self.per_choice(|index| {
            json!({"index": index, "delta": {"role": "assistant", "content": "", "refusal": null}, "logprobs": null, "finish_reason": null})
        })];
        // A reply that only calls tools streams no text.
        let pieces = if reply.text.is_empty() && !reply.tool_calls.is_empty() {
            Vec::new()
        } else {
            self.pieces(reply)
        };
        let mut deltas: Vec<Bytes> = pieces
            .into_iter()
            .map(|(piece, logprobs)| {
                self.per_choice(|index| {
                    json!({"index": index, "delta": {"content": piece}, "logprobs": logprobs, "finish_reason": null})
                })
            })
            .collect();
        for delta in tools::call_deltas(&reply.tool_calls, reply.chunks) {
            deltas.push(self.per_choice(|index| {
                json!({"index": index, "delta": delta, "logprobs": null, "finish_reason": null})
            }));
        }
        let mut tail = vec![self.per_choice(|index| {
            json!({"index": index, "delta": {}, "logprobs": null, "finish_reason": finish_reason(reply)})
        })];
        if self.include_usage && !self.quirks.no_usage {
            tail.push(self.chunk(json!([]), Some(self.usage(reply))));
        }
        if !self.quirks.no_done {
            tail.push(sse_event(None, "[DONE]", self.nl()));
        }
        StreamPlan {
            head,
            deltas,
            tail,
            last_delta_in_tail: false,
        }
    }

    fn stream_error(&self, _sent: usize) -> Bytes {
        let error = json!({"error": {
            "message": "The server had an error while processing your request. Sorry about that!",
            "type": "server_error",
            "param": null,
            "code": null
        }});
        sse_event(None, &respond::to_string(&error), self.nl())
    }

    fn malformed_event(&self, _sent: usize) -> Bytes {
        sse_event(
            None,
            r#"{"id": "chatcmpl-broken", "choices": [{"delta": {"content": "unterminated"#,
            self.nl(),
        )
    }

    fn error(&self, status: u16) -> Response<Body> {
        let mut response = scripted_error(status, &self.model);
        self.decorate(&mut response);
        response
    }

    fn stream_content_type(&self) -> &'static str {
        "text/event-stream; charset=utf-8"
    }

    fn writing(&self) -> Writing {
        Writing {
            keep_alives: self.quirks.keep_alives,
            crlf: self.quirks.crlf,
            split: self.quirks.split_writes,
        }
    }

    fn decorate(&self, response: &mut Response<Body>) {
        if let Ok(value) = HeaderValue::from_str(&self.request_id) {
            response.headers_mut().insert("x-request-id", value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::mask_key;

    #[test]
    fn keys_are_masked_like_openai_does() {
        assert_eq!(mask_key("sk-proj-abcdefgh1234"), "sk-proj-********1234");
        assert_eq!(mask_key("short-key"), "short-key");
    }
}
