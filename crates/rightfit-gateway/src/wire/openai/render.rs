//! OpenAI answers: `chat.completion` bodies, `chat.completion.chunk` frames, model lists.

use bytes::Bytes;
use rightfit_types::{ChatResponse, FinishReason, TokenLogprob, ToolCall, Usage};
use serde::Serialize;
use serde_json::{Value, json};

use crate::error::GatewayError;
use crate::wire::sse;

/// The `chat.completion` body for a whole answer.
///
/// A choice with tool calls has `message.tool_calls` (`type: "function"`, the arguments as the
/// model wrote them) and `content: null` when the model said nothing besides.
/// `id` is the gateway's (`chatcmpl-...`), `model` the name the client asked for, `created` Unix
/// seconds. Each choice's `logprobs` is `{"content": [...], "refusal": null}` when the provider
/// gave log-probabilities, else `null`.
pub fn response(id: &str, model: &str, created: u64, resp: &ChatResponse) -> Value {
    let choices: Vec<Value> = resp
        .choices
        .iter()
        .map(|choice| {
            let logprobs = choice.logprobs.as_deref().map(LogprobsOut::new);
            let mut message = json!({"role": "assistant", "content": choice.text, "refusal": null});
            if !choice.tool_calls.is_empty() {
                if choice.text.is_empty() {
                    message["content"] = Value::Null;
                }
                message["tool_calls"] = choice
                    .tool_calls
                    .iter()
                    .map(ToolCall::openai_json)
                    .collect();
            }
            json!({
                "index": choice.index,
                "message": message,
                "logprobs": logprobs,
                "finish_reason": choice.finish_reason.as_str(),
            })
        })
        .collect();
    json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": choices,
        "usage": UsageOut::new(&resp.usage),
    })
}

/// The `GET /v1/models` body for `(id, owned_by)` pairs. `created` is 0: served names have no
/// creation date.
pub fn models(list: &[(String, String)]) -> Value {
    let data: Vec<Value> = list
        .iter()
        .map(|(id, owner)| json!({"id": id, "object": "model", "created": 0, "owned_by": owner}))
        .collect();
    json!({"object": "list", "data": data})
}

/// The frames of one streamed answer, each a complete `data: {...}\n\n` event.
///
/// Send `first` for each choice, then `delta`s (or `delta_with_logprobs`), `finish` for each
/// choice, `usage` (which is `None` unless the client set `stream_options.include_usage`), and
/// `done`. On a failure after the stream has begun, send `error` and close the stream without
/// `done`, as OpenAI does; the SDKs raise it as an `APIError`.
#[derive(Debug, Clone)]
pub struct Stream {
    /// `chatcmpl-...`, the same in every chunk.
    pub id: String,
    /// The name the client asked for.
    pub model: String,
    /// Unix seconds, the same in every chunk.
    pub created: u64,
    /// Whether every chunk carries `"usage": null` and a last chunk the totals.
    pub include_usage: bool,
}

impl Stream {
    /// The frames for one answer.
    pub fn new(
        id: impl Into<String>,
        model: impl Into<String>,
        created: u64,
        include_usage: bool,
    ) -> Self {
        Self {
            id: id.into(),
            model: model.into(),
            created,
            include_usage,
        }
    }

    /// The first chunk of a choice: `{"role": "assistant", "content": ""}`.
    pub fn first(&self, index: u32) -> Bytes {
        self.choice(index, Delta::first(), None, None)
    }

    /// More text for a choice.
    pub fn delta(&self, index: u32, text: &str) -> Bytes {
        self.choice(index, Delta::text(text), None, None)
    }

    /// More text for a choice, with the log-probabilities of its tokens (one chunk, as OpenAI
    /// sends them).
    pub fn delta_with_logprobs(&self, index: u32, text: &str, tokens: &[TokenLogprob]) -> Bytes {
        self.choice(
            index,
            Delta::text(text),
            Some(LogprobsOut::new(tokens)),
            None,
        )
    }

    /// Part of a tool call: the call's first chunk carries `id`, `type` and the function's
    /// `name` (with whatever arguments came with them), later ones only more `arguments`.
    pub fn tool_call(
        &self,
        index: u32,
        call: u32,
        id: Option<&str>,
        name: Option<&str>,
        arguments: &str,
    ) -> Bytes {
        let delta = Delta {
            tool_calls: Some([CallDelta {
                index: call,
                id,
                r#type: id.map(|_| "function"),
                function: FunctionDelta { name, arguments },
            }]),
            ..Delta::default()
        };
        self.choice(index, delta, None, None)
    }

    /// Log-probabilities alone (an empty delta), for providers that report them apart from
    /// the text; the SDKs' accumulators append them to the choice.
    pub fn logprobs(&self, index: u32, tokens: &[TokenLogprob]) -> Bytes {
        self.choice(
            index,
            Delta::default(),
            Some(LogprobsOut::new(tokens)),
            None,
        )
    }

    /// The last chunk of a choice: an empty delta with its `finish_reason`.
    pub fn finish(&self, index: u32, reason: FinishReason) -> Bytes {
        self.choice(index, Delta::default(), None, Some(reason.as_str()))
    }

    /// The totals chunk (`"choices": []`), or `None` when the client did not ask for it.
    pub fn usage(&self, usage: &Usage) -> Option<Bytes> {
        self.include_usage
            .then(|| self.chunk(&[], Some(Some(UsageOut::new(usage)))))
    }

    /// `data: [DONE]`, the end of the stream.
    pub fn done(&self) -> Bytes {
        Bytes::from_static(b"data: [DONE]\n\n")
    }

    /// `data: {"error": {...}}`: a failure after the stream began.
    pub fn error(&self, error: &GatewayError) -> Bytes {
        sse(None, &error.openai_body())
    }

    fn choice(
        &self,
        index: u32,
        delta: Delta<'_>,
        logprobs: Option<LogprobsOut<'_>>,
        finish_reason: Option<&'static str>,
    ) -> Bytes {
        let choice = ChunkChoice {
            index,
            delta,
            logprobs,
            finish_reason,
        };
        // Every chunk carries `"usage": null` when the totals come at the end, as OpenAI's do.
        let usage = self.include_usage.then_some(None);
        self.chunk(std::slice::from_ref(&choice), usage)
    }

    fn chunk(&self, choices: &[ChunkChoice<'_>], usage: Option<Option<UsageOut>>) -> Bytes {
        let chunk = Chunk {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.created,
            model: &self.model,
            choices,
            usage,
        };
        sse(None, &chunk)
    }
}

#[derive(Serialize)]
struct Chunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: &'a [ChunkChoice<'a>],
    /// Absent, `null`, or the totals.
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Option<UsageOut>>,
}

#[derive(Serialize)]
struct ChunkChoice<'a> {
    index: u32,
    delta: Delta<'a>,
    logprobs: Option<LogprobsOut<'a>>,
    finish_reason: Option<&'static str>,
}

#[derive(Serialize, Default)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[CallDelta<'a>; 1]>,
}

/// `{"index", "id", "type": "function", "function": {"name", "arguments"}}`, the first three
/// fields and `name` on a call's first chunk only.
#[derive(Serialize)]
struct CallDelta<'a> {
    index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    r#type: Option<&'static str>,
    function: FunctionDelta<'a>,
}

#[derive(Serialize)]
struct FunctionDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    arguments: &'a str,
}

impl<'a> Delta<'a> {
    fn first() -> Self {
        Self {
            role: Some("assistant"),
            content: Some(""),
            tool_calls: None,
        }
    }

    fn text(text: &'a str) -> Self {
        Self {
            role: None,
            content: Some(text),
            tool_calls: None,
        }
    }
}

/// `{"content": [...], "refusal": null}`.
#[derive(Serialize)]
struct LogprobsOut<'a> {
    content: Vec<TokenOut<'a>>,
    refusal: Option<()>,
}

impl<'a> LogprobsOut<'a> {
    fn new(tokens: &'a [TokenLogprob]) -> Self {
        let content = tokens
            .iter()
            .map(|t| TokenOut {
                token: &t.token,
                logprob: t.logprob,
                bytes: t.token.as_bytes(),
                top_logprobs: t
                    .top
                    .iter()
                    .map(|top| TopOut {
                        token: &top.token,
                        logprob: top.logprob,
                        bytes: top.token.as_bytes(),
                    })
                    .collect(),
            })
            .collect();
        Self {
            content,
            refusal: None,
        }
    }
}

#[derive(Serialize)]
struct TokenOut<'a> {
    token: &'a str,
    logprob: f64,
    bytes: &'a [u8],
    top_logprobs: Vec<TopOut<'a>>,
}

#[derive(Serialize)]
struct TopOut<'a> {
    token: &'a str,
    logprob: f64,
    bytes: &'a [u8],
}

#[derive(Serialize)]
struct UsageOut {
    prompt_tokens: u32,
    completion_tokens: u32,
    total_tokens: u32,
    prompt_tokens_details: CachedTokens,
}

#[derive(Serialize)]
struct CachedTokens {
    cached_tokens: u32,
}

impl UsageOut {
    fn new(usage: &Usage) -> Self {
        Self {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            total_tokens: usage.prompt_tokens.saturating_add(usage.completion_tokens),
            prompt_tokens_details: CachedTokens {
                cached_tokens: usage.cached_prompt_tokens,
            },
        }
    }
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
