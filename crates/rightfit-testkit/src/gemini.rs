//! Google Gemini: `POST /{v1,v1beta}/models/{model}:generateContent` and
//! `:streamGenerateContent` (SSE with `?alt=sse`, else a JSON array written piece by piece),
//! `GET /{v1,v1beta}/models`.
//!
//! Shapes follow generativelanguage.googleapis.com: `GenerateContentResponse` bodies and stream
//! chunks (`data: …` events separated by `\r\n\r\n`, no end marker; the last chunk carries
//! `finishReason` and the full `usageMetadata`), errors as `{"error": {"code", "message",
//! "status"}}`. Like the real service, a wrong key gets 400 `INVALID_ARGUMENT` ("API key not
//! valid") and a missing key 403 `PERMISSION_DENIED`, not 401.

use axum::body::Body;
use bytes::Bytes;
use http::{Method, Response};
use serde_json::{Value, json};

use crate::embeddings;
use crate::error_bodies::gemini::{error, error_body, json_response, scripted_error};
use crate::respond::{self, Accepted, Generation, StreamPlan, Writing};
use crate::script::{Finish, Reply};
use crate::shared::{Req, Shared};

mod tools;

/// One accepted generateContent request.
#[derive(Debug)]
pub(crate) struct Call {
    response_id: String,
    model: String,
    stream: bool,
    /// `alt=sse` framing; otherwise the stream is one JSON array.
    sse: bool,
    candidates: usize,
}

/// Checks a request as Gemini does (path, key, body, model).
pub(crate) fn prepare(
    shared: &Shared,
    req: &Req,
) -> Result<Accepted<Call, embeddings::GeminiEmbed>, Response<Body>> {
    let route = Route::parse(&req.method, &req.path);
    let Some(route) = route else {
        let message = format!(
            "The requested URL {} was not found on this server.",
            req.path
        );
        return Err(error(404, &message, None));
    };
    if let Some(expected) = shared.config.api_key.as_deref() {
        match req
            .header("x-goog-api-key")
            .or_else(|| req.query_param("key"))
        {
            Some(key) if key == expected => {}
            Some(_) => {
                let details = json!([{
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                    "metadata": {"service": "generativelanguage.googleapis.com"}
                }]);
                return Err(error(
                    400,
                    "API key not valid. Please pass a valid API key.",
                    Some(details),
                ));
            }
            None => {
                return Err(error(
                    403,
                    "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
                    None,
                ));
            }
        }
    }
    let (version, model, stream) = match route {
        Route::List => return Err(models(shared, None)),
        Route::Get(model) => return Err(models(shared, Some(model))),
        Route::Embed {
            version,
            model,
            batch,
        } => {
            let body = json_body(req)?;
            return embeddings::gemini(shared, body, version, model, batch).map(Accepted::Embed);
        }
        Route::Generate {
            version,
            model,
            stream,
        } => (version, model, stream),
    };
    let body = json_body(req)?;
    match body.get("contents") {
        None => {
            return Err(error(
                400,
                "* GenerateContentRequest.contents: contents is not specified\n",
                None,
            ));
        }
        Some(Value::Array(_)) => {}
        Some(_) => {
            return Err(error(
                400,
                "Invalid JSON payload received. Invalid value at 'contents': expected a list of Content.",
                None,
            ));
        }
    }
    tools::check(body).map_err(|message| error(400, &message, None))?;
    if !shared.knows_model(model) {
        let message = format!(
            "models/{model} is not found for API version {version}, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods."
        );
        return Err(error(404, &message, None));
    }
    let candidates = body
        .pointer("/generationConfig/candidateCount")
        .and_then(Value::as_u64)
        .unwrap_or(1)
        .clamp(1, 8) as usize;
    Ok(Accepted::Generate(Call {
        response_id: format!("testkit{:012}", shared.next_id()),
        model: model.to_owned(),
        stream,
        sse: req.query_param("alt") == Some("sse"),
        candidates,
    }))
}

/// The body as a JSON object, or the 400 Gemini answers.
fn json_body(req: &Req) -> Result<&Value, Response<Body>> {
    req.json
        .as_ref()
        .filter(|b| b.is_object())
        .ok_or_else(|| error(400, "Invalid JSON payload received.", None))
}

/// What a Gemini path asks for.
enum Route<'a> {
    List,
    Get(&'a str),
    Generate {
        version: &'a str,
        model: &'a str,
        stream: bool,
    },
    /// `:embedContent` (one text) or `:batchEmbedContents`.
    Embed {
        version: &'a str,
        model: &'a str,
        batch: bool,
    },
}

impl<'a> Route<'a> {
    fn parse(method: &Method, path: &'a str) -> Option<Self> {
        let rest = path.strip_prefix('/')?;
        let (version, rest) = rest.split_once('/')?;
        if version != "v1" && version != "v1beta" {
            return None;
        }
        if rest == "models" {
            return (method == Method::GET).then_some(Route::List);
        }
        let name = rest.strip_prefix("models/")?;
        match name.rsplit_once(':') {
            Some((model, "generateContent")) if method == Method::POST => Some(Route::Generate {
                version,
                model,
                stream: false,
            }),
            Some((model, "streamGenerateContent")) if method == Method::POST => {
                Some(Route::Generate {
                    version,
                    model,
                    stream: true,
                })
            }
            Some((model, "embedContent")) if method == Method::POST => Some(Route::Embed {
                version,
                model,
                batch: false,
            }),
            Some((model, "batchEmbedContents")) if method == Method::POST => Some(Route::Embed {
                version,
                model,
                batch: true,
            }),
            None if method == Method::GET => Some(Route::Get(name)),
            _ => None,
        }
    }
}

fn models(shared: &Shared, one: Option<&str>) -> Response<Body> {
    let entry = |id: &str| {
        json!({
            "name": format!("models/{id}"),
            "version": "001",
            "displayName": id,
            "inputTokenLimit": 1_048_576,
            "outputTokenLimit": 8192,
            "supportedGenerationMethods": ["generateContent", "countTokens"]
        })
    };
    if let Some(id) = one {
        if !shared.knows_model(id) {
            return error(404, &format!("models/{id} is not found"), None);
        }
        return json_response(200, &entry(id));
    }
    let names: Vec<&str> = if shared.config.models.is_empty() {
        vec!["gemini-2.0-flash"]
    } else {
        shared.config.models.iter().map(String::as_str).collect()
    };
    let data: Vec<Value> = names.into_iter().map(entry).collect();
    json_response(200, &json!({"models": data}))
}

fn finish_reason(finish: Finish) -> &'static str {
    match finish {
        Finish::Stop => "STOP",
        Finish::Length => "MAX_TOKENS",
    }
}

impl Call {
    fn usage(&self, reply: &Reply) -> Value {
        let completion = reply
            .completion_tokens
            .saturating_mul(self.candidates as u32);
        json!({
            "promptTokenCount": reply.prompt_tokens,
            "candidatesTokenCount": completion,
            "totalTokenCount": reply.prompt_tokens.saturating_add(completion),
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": reply.prompt_tokens}]
        })
    }

    /// A response (or chunk) whose candidates all hold `text`; `finish` marks the last, which
    /// also carries the reply's function calls (Gemini sends them whole).
    fn response(&self, reply: &Reply, text: &str, finish: bool) -> Value {
        let mut parts = Vec::new();
        if !text.is_empty() || reply.tool_calls.is_empty() {
            parts.push(json!({"text": text}));
        }
        if finish {
            parts.extend(tools::call_parts(&reply.tool_calls));
        }
        let candidates: Vec<Value> = (0..self.candidates)
            .map(|index| {
                let mut candidate = json!({
                    "content": {"parts": parts, "role": "model"},
                    "index": index
                });
                if finish && let Value::Object(map) = &mut candidate {
                    map.insert(
                        "finishReason".to_owned(),
                        json!(finish_reason(reply.finish)),
                    );
                }
                candidate
            })
            .collect();
        // Chunks before the last carry the prompt count only, as Gemini's do.
        let usage = if finish {
            self.usage(reply)
        } else {
            json!({"promptTokenCount": reply.prompt_tokens, "totalTokenCount": reply.prompt_tokens})
        };
        json!({
            "candidates": candidates,
            "usageMetadata": usage,
            "modelVersion": self.model,
            "responseId": self.response_id
        })
    }

    /// One stream item after `sent` others: an SSE event, or an element of the JSON array.
    fn item(&self, value: &Value, sent: usize) -> Bytes {
        let json = respond::to_string(value);
        if self.sse {
            respond::sse_event(None, &json, "\r\n")
        } else {
            let prefix = if sent == 0 { "[" } else { ",\r\n" };
            Bytes::from(format!("{prefix}{json}"))
        }
    }
}

impl Generation for Call {
    fn streaming(&self) -> bool {
        self.stream
    }

    fn body(&self, reply: &Reply) -> Vec<u8> {
        respond::to_vec(&self.response(reply, &reply.text, true))
    }

    fn cut_body_at(&self, body: &[u8], reply: &Reply, deltas: usize) -> usize {
        let prefix: String = reply.deltas().into_iter().take(deltas).collect();
        respond::cut_after_text(body, "text", &prefix)
    }

    fn stream(&self, reply: &Reply) -> StreamPlan {
        let pieces = reply.deltas();
        let deltas: Vec<Bytes> = pieces
            .iter()
            .enumerate()
            .map(|(i, piece)| self.item(&self.response(reply, piece, false), i))
            .collect();
        let last = pieces.last().map(String::as_str).unwrap_or("");
        let mut final_item = self
            .item(&self.response(reply, last, true), pieces.len() - 1)
            .to_vec();
        if !self.sse {
            final_item.extend_from_slice(b"]");
        }
        StreamPlan {
            head: Vec::new(),
            deltas,
            tail: vec![Bytes::from(final_item)],
            last_delta_in_tail: true,
        }
    }

    fn stream_error(&self, sent: usize) -> Bytes {
        let body = error_body(
            500,
            "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
            None,
        );
        let mut item = self.item(&body, sent).to_vec();
        if !self.sse {
            item.extend_from_slice(b"]");
        }
        Bytes::from(item)
    }

    fn malformed_event(&self, _sent: usize) -> Bytes {
        if self.sse {
            respond::sse_event(
                None,
                r#"{"candidates": [{"content": {"parts": [{"text": "unterminated"#,
                "\r\n",
            )
        } else {
            Bytes::from_static(br#"[{"candidates": [{"content": {"parts": [{"text": "unterminated"#)
        }
    }

    fn error(&self, status: u16) -> Response<Body> {
        scripted_error(status, &self.model)
    }

    fn stream_content_type(&self) -> &'static str {
        if self.sse {
            "text/event-stream"
        } else {
            "application/json; charset=UTF-8"
        }
    }

    fn writing(&self) -> Writing {
        Writing::default()
    }

    fn decorate(&self, _response: &mut Response<Body>) {}
}
