//! Anthropic Messages: `POST /v1/messages` (whole or streamed), `GET /v1/models`.
//!
//! Shapes follow api.anthropic.com: `x-api-key` (or `Authorization: Bearer`) and
//! `anthropic-version` headers, a `message`
//! body with content blocks, named SSE events (`message_start` … `message_stop`, whose JSON
//! `type` equals the event name), and errors as
//! `{"type": "error", "error": {"type", "message"}, "request_id"}`.

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderValue, Method, Response};
use serde_json::{Value, json};

use crate::respond::{self, Generation, StreamPlan, Writing, sse_event};
use crate::script::{Finish, Reply};
use crate::shared::{Req, Shared};

mod tools;

/// One accepted messages request.
#[derive(Debug)]
pub(crate) struct Call {
    id: String,
    tool_id: String,
    request_id: String,
    model: String,
    stream: bool,
    /// The tool the request forced with `tool_choice`; the reply text is its input.
    tool: Option<String>,
}

/// Checks a request as Anthropic does (path, key, version header, body, model).
pub(crate) fn prepare(shared: &Shared, req: &Req) -> Result<Call, Response<Body>> {
    let path = req.path.as_str();
    let is_messages = req.method == Method::POST && path == "/v1/messages";
    let is_models =
        req.method == Method::GET && (path == "/v1/models" || path.starts_with("/v1/models/"));
    if !is_messages && !is_models {
        return Err(error(404, "not_found_error", "Not Found", None));
    }
    if let Some(expected) = shared.config.api_key.as_deref() {
        // The `anthropic` Python SDK 2.x sends the key as `Authorization: Bearer`; the API
        // takes either.
        let bearer = req
            .header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "));
        match req.header("x-api-key").or(bearer) {
            Some(key) if key == expected => {}
            Some(_) => {
                return Err(error(
                    401,
                    "authentication_error",
                    "invalid x-api-key",
                    None,
                ));
            }
            None => {
                return Err(error(
                    401,
                    "authentication_error",
                    "x-api-key header is required",
                    None,
                ));
            }
        }
    }
    if req.header("anthropic-version").is_none() {
        return Err(error(
            400,
            "invalid_request_error",
            "anthropic-version: header is required",
            None,
        ));
    }
    if is_models {
        return Err(models(shared, path));
    }
    let Some(body) = req.json.as_ref().filter(|b| b.is_object()) else {
        return Err(error(
            400,
            "invalid_request_error",
            "There was an error parsing the body: it is not a JSON object.",
            None,
        ));
    };
    let invalid = |message: &str| error(400, "invalid_request_error", message, None);
    let Some(model) = body.get("model").and_then(Value::as_str) else {
        return Err(invalid("model: Field required"));
    };
    match body.get("messages") {
        None => return Err(invalid("messages: Field required")),
        Some(Value::Array(_)) => {}
        Some(_) => return Err(invalid("messages: Input should be a valid list")),
    }
    match body.get("max_tokens") {
        None => return Err(invalid("max_tokens: Field required")),
        Some(v) if v.as_u64().is_some_and(|n| n >= 1) => {}
        Some(_) => {
            return Err(invalid(
                "max_tokens: Input should be a valid integer greater than or equal to 1",
            ));
        }
    }
    tools::check(body).map_err(|message| invalid(&message))?;
    if !shared.knows_model(model) {
        return Err(error(
            404,
            "not_found_error",
            &format!("model: {model}"),
            None,
        ));
    }

    let number = shared.next_id();
    Ok(Call {
        id: format!("msg_testkit{number:012}"),
        tool_id: format!("toolu_testkit{number:012}"),
        request_id: format!("req_testkit{number:012}"),
        model: model.to_owned(),
        stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
        tool: forced_tool(body),
    })
}

/// The tool `tool_choice` forces: `{"type": "tool", "name"}`, or the first tool for
/// `{"type": "any"}`.
fn forced_tool(body: &Value) -> Option<String> {
    let tools = body.get("tools")?.as_array()?;
    let choice = body.get("tool_choice")?;
    match choice.get("type")?.as_str()? {
        "tool" => choice.get("name")?.as_str().map(str::to_owned),
        "any" => tools.first()?.get("name")?.as_str().map(str::to_owned),
        _ => None,
    }
}

fn models(shared: &Shared, path: &str) -> Response<Body> {
    let entry = |id: &str| json!({"type": "model", "id": id, "display_name": id, "created_at": "2025-01-01T00:00:00Z"});
    if let Some(id) = path.strip_prefix("/v1/models/") {
        if !shared.knows_model(id) {
            return error(404, "not_found_error", &format!("model: {id}"), None);
        }
        return json_response(200, &entry(id));
    }
    let names: Vec<&str> = if shared.config.models.is_empty() {
        vec!["claude-3-5-haiku-latest"]
    } else {
        shared.config.models.iter().map(String::as_str).collect()
    };
    let data: Vec<Value> = names.iter().map(|id| entry(id)).collect();
    json_response(
        200,
        &json!({"data": data, "has_more": false, "first_id": names.first(), "last_id": names.last()}),
    )
}

fn json_response(status: u16, value: &Value) -> Response<Body> {
    let mut response = Response::new(Body::from(respond::to_vec(value)));
    *response.status_mut() = respond::status(status);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn error(status: u16, kind: &str, message: &str, request_id: Option<&str>) -> Response<Body> {
    let request_id = request_id.unwrap_or("req_testkit");
    json_response(
        status,
        &json!({"type": "error", "error": {"type": kind, "message": message}, "request_id": request_id}),
    )
}

impl Call {
    fn stop_reason(&self, reply: &Reply) -> &'static str {
        let calls = self.tool.is_some() || !reply.tool_calls.is_empty();
        match (reply.finish, calls) {
            (Finish::Length, _) => "max_tokens",
            (Finish::Stop, true) => "tool_use",
            (Finish::Stop, false) => "end_turn",
        }
    }

    /// Whether the text goes out as the forced tool's input (JSON output), not as text: when
    /// `tool_choice` forced a tool and the reply scripts no calls of its own.
    fn forced<'a>(&'a self, reply: &Reply) -> Option<&'a str> {
        self.tool.as_deref().filter(|_| reply.tool_calls.is_empty())
    }

    /// The content blocks the reply streams: text (unless the reply only calls tools), then
    /// one `tool_use` per scripted call.
    fn has_text_block(&self, reply: &Reply) -> bool {
        self.forced(reply).is_some() || !reply.text.is_empty() || reply.tool_calls.is_empty()
    }

    fn usage(reply: &Reply, output_tokens: u32) -> Value {
        json!({
            "input_tokens": reply.prompt_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": output_tokens
        })
    }

    fn event(name: &str, data: &Value) -> Bytes {
        sse_event(Some(name), &respond::to_string(data), "\n")
    }
}

impl Generation for Call {
    fn streaming(&self) -> bool {
        self.stream
    }

    fn body(&self, reply: &Reply) -> Vec<u8> {
        let block = match self.forced(reply) {
            // Tool input is always an object; a reply that is not one gives `{}`.
            Some(name) => {
                let input = serde_json::from_str::<Value>(&reply.text)
                    .ok()
                    .filter(Value::is_object)
                    .unwrap_or_else(|| json!({}));
                json!({"type": "tool_use", "id": self.tool_id, "name": name, "input": input})
            }
            None => json!({"type": "text", "text": reply.text}),
        };
        let mut content = Vec::with_capacity(reply.tool_calls.len() + 1);
        if self.has_text_block(reply) {
            content.push(block);
        }
        content.extend(reply.tool_calls.iter().map(tools::tool_use));
        respond::to_vec(&json!({
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": content,
            "stop_reason": self.stop_reason(reply),
            "stop_sequence": null,
            "usage": Self::usage(reply, reply.completion_tokens),
        }))
    }

    fn cut_body_at(&self, body: &[u8], reply: &Reply, deltas: usize) -> usize {
        let prefix: String = reply.deltas().into_iter().take(deltas).collect();
        respond::cut_after_text(body, "text", &prefix)
    }

    fn stream(&self, reply: &Reply) -> StreamPlan {
        let message = json!({
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": null,
            "stop_sequence": null,
            "usage": Self::usage(reply, 1),
        });
        let start = |index: usize, block: &Value| {
            Self::event(
                "content_block_start",
                &json!({"type": "content_block_start", "index": index, "content_block": block}),
            )
        };
        let delta = |index: usize, delta: Value| {
            Self::event(
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": index, "delta": delta}),
            )
        };
        let stop = |index: usize| {
            Self::event(
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": index}),
            )
        };
        let mut head = vec![Self::event(
            "message_start",
            &json!({"type": "message_start", "message": message}),
        )];
        let mut deltas: Vec<Bytes> = Vec::new();
        // The index of the next block.
        let mut blocks = 0;
        if self.has_text_block(reply) {
            let block = match self.forced(reply) {
                Some(name) => {
                    json!({"type": "tool_use", "id": self.tool_id, "name": name, "input": {}})
                }
                None => json!({"type": "text", "text": ""}),
            };
            head.push(start(0, &block));
            head.push(Self::event("ping", &json!({"type": "ping"})));
            for piece in reply.deltas() {
                deltas.push(if self.forced(reply).is_some() {
                    delta(
                        0,
                        json!({"type": "input_json_delta", "partial_json": piece}),
                    )
                } else {
                    delta(0, json!({"type": "text_delta", "text": piece}))
                });
            }
            blocks = 1;
        } else {
            head.push(Self::event("ping", &json!({"type": "ping"})));
        }
        for call in &reply.tool_calls {
            let index = blocks;
            let block = json!({"type": "tool_use", "id": call.id, "name": call.name, "input": {}});
            // The previous block ends where this one begins, in the same entry.
            let mut opening = Vec::new();
            if index > 0 {
                opening.extend_from_slice(&stop(index - 1));
            }
            opening.extend_from_slice(&start(index, &block));
            deltas.push(Bytes::from(opening));
            for piece in call.pieces(reply.chunks) {
                if !piece.is_empty() {
                    deltas.push(delta(
                        index,
                        json!({"type": "input_json_delta", "partial_json": piece}),
                    ));
                }
            }
            blocks += 1;
        }
        let mut tail = Vec::new();
        if blocks > 0 {
            tail.push(stop(blocks - 1));
        }
        tail.push(Self::event(
            "message_delta",
            &json!({
                "type": "message_delta",
                "delta": {"stop_reason": self.stop_reason(reply), "stop_sequence": null},
                "usage": {"output_tokens": reply.completion_tokens}
            }),
        ));
        tail.push(Self::event(
            "message_stop",
            &json!({"type": "message_stop"}),
        ));
        StreamPlan {
            head,
            deltas,
            tail,
            last_delta_in_tail: false,
        }
    }

    fn stream_error(&self, _sent: usize) -> Bytes {
        Self::event(
            "error",
            &json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        )
    }

    fn malformed_event(&self, _sent: usize) -> Bytes {
        sse_event(
            Some("content_block_delta"),
            r#"{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "unterminated"#,
            "\n",
        )
    }

    fn error(&self, status: u16) -> Response<Body> {
        let (kind, message) = match status {
            400 => (
                "invalid_request_error",
                "Invalid request (scripted by the test server).",
            ),
            401 => ("authentication_error", "invalid x-api-key"),
            403 => (
                "permission_error",
                "Your API key does not have permission to use the specified resource.",
            ),
            404 => (
                "not_found_error",
                "Not found (scripted by the test server).",
            ),
            413 => (
                "request_too_large",
                "Request exceeds the maximum allowed number of bytes.",
            ),
            429 => (
                "rate_limit_error",
                "Number of requests has exceeded your per-minute rate limit.",
            ),
            529 => ("overloaded_error", "Overloaded"),
            s if s >= 500 => ("api_error", "Internal server error"),
            _ => (
                "invalid_request_error",
                "Request failed (scripted by the test server).",
            ),
        };
        let mut response = error(status, kind, message, Some(&self.request_id));
        self.decorate(&mut response);
        response
    }

    fn stream_content_type(&self) -> &'static str {
        "text/event-stream; charset=utf-8"
    }

    fn writing(&self) -> Writing {
        Writing::default()
    }

    fn decorate(&self, response: &mut Response<Body>) {
        if let Ok(value) = HeaderValue::from_str(&self.request_id) {
            response.headers_mut().insert("request-id", value);
        }
    }
}
