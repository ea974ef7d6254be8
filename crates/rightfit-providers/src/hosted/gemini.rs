//! Google Gemini API (`generateContent`, `streamGenerateContent?alt=sse`).
//!
//! Decisions worth knowing:
//! - A JSON Schema goes in `generationConfig.responseJsonSchema`, the newer field that takes
//!   plain JSON Schema (`$ref`, `anyOf`, `additionalProperties`, ...), rather than
//!   `responseSchema`, which takes an OpenAPI subset and would need the schema translated.
//! - Gemini's `seed` is an int32; larger seeds are folded into its range (it is a hint).
//! - The stream has no end marker: every `data:` is a whole response chunk. The stream is
//!   complete when each of the `n` candidates has had a `finishReason`.
//! - Tools go as `functionDeclarations` whose `parameters` are reduced to Gemini's OpenAPI
//!   schema subset (see `gemini_tools.rs`); `functionCall` parts come back whole (streamed
//!   too) without ids, so calls are numbered `call_<candidate>_<n>`.
//! - Parts marked `thought: true` are the model's reasoning, not its answer, and are skipped;
//!   their tokens (`thoughtsTokenCount`) still count as completion tokens.

use rightfit_config::Secret;
use rightfit_types::{
    ChatRequest, Choice, FinishReason, Prompt, ResponseFormat, TokenLogprob, ToolCall, TopLogprob,
    Usage,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::codec::{
    Codec, Decoder, Embedded, EmbeddingCodec, ErrorBody, Parsed, float_vector, json_number,
    split_system,
};

/// The Gemini protocol.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gemini;

impl Codec for Gemini {
    fn kind(&self) -> &'static str {
        "gemini"
    }

    fn chat_url(&self, base_url: &str, model: &str, stream: bool) -> String {
        let base = base_url.trim_end_matches('/');
        let name = resource_name(model);
        if stream {
            format!("{base}/{name}:streamGenerateContent?alt=sse")
        } else {
            format!("{base}/{name}:generateContent")
        }
    }

    fn headers(&self, key: Option<&Secret>) -> Vec<(&'static str, String)> {
        key.map(|k| ("x-goog-api-key", k.expose().to_owned()))
            .into_iter()
            .collect()
    }

    fn chat_body(
        &self,
        _model: &str,
        request: &ChatRequest,
        _stream: bool,
    ) -> Result<Value, String> {
        let Prompt::Messages(messages) = &request.prompt else {
            return Err(
                "the Gemini API has no raw text completion; send the prompt as messages".into(),
            );
        };
        if request.n == 0 {
            return Err("n = 0: ask for at least one choice".into());
        }
        let (system, turns) = split_system(messages);
        let contents = tools::contents(&turns)?;
        if contents.is_empty() {
            return Err(
                "the conversation has no user or assistant message; Gemini needs at \
                        least one (system messages go to `systemInstruction`)"
                    .into(),
            );
        }

        let mut config = Map::new();
        let sampling = &request.sampling;
        let temperature = match sampling.temperature {
            Some(t) if !sampling.is_greedy() => json_number(t),
            _ => json_number(0.0),
        };
        config.insert("temperature".into(), temperature);
        if let Some(top_p) = sampling.top_p {
            config.insert("topP".into(), json_number(top_p));
        }
        if let Some(top_k) = sampling.top_k {
            config.insert("topK".into(), top_k.into());
        }
        if let Some(max) = request.max_tokens {
            config.insert("maxOutputTokens".into(), max.into());
        }
        if !request.stop.is_empty() {
            config.insert("stopSequences".into(), request.stop.clone().into());
        }
        if request.n > 1 {
            config.insert("candidateCount".into(), request.n.into());
        }
        if let Some(seed) = sampling.seed {
            // int32 on the wire; the fold keeps equal seeds equal.
            config.insert("seed".into(), (seed & 0x7fff_ffff).into());
        }
        match &request.response_format {
            ResponseFormat::Text => {}
            ResponseFormat::JsonObject => {
                config.insert("responseMimeType".into(), "application/json".into());
            }
            ResponseFormat::JsonSchema { schema, .. } => {
                config.insert("responseMimeType".into(), "application/json".into());
                config.insert("responseJsonSchema".into(), schema.clone());
            }
            ResponseFormat::Grammar { .. } => {
                return Err(
                    "GBNF grammars work with the embedded engine only; Gemini can \
                            constrain output by a JSON Schema (response_format json_schema)"
                        .into(),
                );
            }
        }
        if let Some(k) = request.logprobs {
            config.insert("responseLogprobs".into(), true.into());
            if k > 0 {
                config.insert("logprobs".into(), k.into());
            }
        }

        let mut body = Map::new();
        body.insert("contents".into(), contents.into());
        if let Some(system) = system {
            body.insert(
                "systemInstruction".into(),
                json!({ "parts": [{ "text": system }] }),
            );
        }
        body.insert("generationConfig".into(), Value::Object(config));
        tools::insert_tools(&mut body, request)?;
        Ok(Value::Object(body))
    }

    fn parse_chat(&self, body: Value) -> Result<Parsed, String> {
        if let Some(error) = error_of(&body) {
            return Err(format!(
                "the response is an error, not an answer: {}",
                error.message
            ));
        }
        let response: WireResponse = serde_json::from_value(body)
            .map_err(|e| format!("not a Gemini GenerateContentResponse: {e}"))?;
        let mut choices = Vec::with_capacity(response.candidates.len());
        for (position, candidate) in response.candidates.into_iter().enumerate() {
            let index = candidate.index(position);
            if choices.iter().any(|c: &Choice| c.index == index) {
                return Err(format!("two candidates have index {index}"));
            }
            let tool_calls = candidate.calls(index, 0)?;
            let finish = candidate
                .finish_reason
                .as_deref()
                .and_then(finish_reason)
                .unwrap_or(FinishReason::Stop);
            choices.push(Choice {
                index,
                text: candidate.text(),
                finish_reason: with_calls(finish, !tool_calls.is_empty()),
                tool_calls,
                logprobs: candidate.logprobs_result.map(LogprobsResult::tokens),
            });
        }
        if choices.is_empty() {
            let blocked = response
                .prompt_feedback
                .is_some_and(|f| f.block_reason.is_some());
            if !blocked {
                return Err("no candidates, and no promptFeedback.blockReason saying why".into());
            }
            // The prompt was blocked: the answer is empty and withheld.
            choices.push(Choice {
                tool_calls: Vec::new(),
                index: 0,
                text: String::new(),
                finish_reason: FinishReason::ContentFilter,
                logprobs: None,
            });
        }
        choices.sort_by_key(|c| c.index);
        Ok(Parsed {
            id: response.response_id,
            choices,
            usage: response.usage_metadata.map(WireUsage::to_usage),
        })
    }

    fn decoder(&self, n: u32) -> Box<dyn Decoder> {
        Box::new(GeminiDecoder::new(n))
    }

    fn error_body(&self, body: &[u8]) -> Option<ErrorBody> {
        let value: Value = serde_json::from_slice(body).ok()?;
        match &value {
            // Gemini sometimes wraps the error object in an array.
            Value::Array(items) if items.len() == 1 => error_of(&items[0]),
            _ => error_of(&value),
        }
    }

    fn embeddings(&self) -> Result<&dyn EmbeddingCodec, &'static str> {
        Ok(self)
    }
}

/// Most requests `batchEmbedContents` takes in one batch.
const MAX_EMBED_BATCH: usize = 100;

/// `models/{model}:batchEmbedContents`: one `EmbedContentRequest` per text, each naming the
/// model again (the API refuses a batch whose models differ from the URL's).
impl EmbeddingCodec for Gemini {
    fn embed_url(&self, base_url: &str, model: &str) -> String {
        let base = base_url.trim_end_matches('/');
        format!("{base}/{}:batchEmbedContents", resource_name(model))
    }

    fn embed_body(&self, model: &str, inputs: &[String]) -> Value {
        let name = resource_name(model);
        let requests: Vec<Value> = inputs
            .iter()
            .map(|text| json!({"model": name, "content": {"parts": [{"text": text}]}}))
            .collect();
        json!({ "requests": requests })
    }

    fn parse_embeddings(&self, body: Value) -> Result<Embedded, String> {
        if let Some(error) = error_of(&body) {
            return Err(format!("the response is an error: {}", error.message));
        }
        let Some(Value::Array(items)) = body.get("embeddings") else {
            return Err("the response has no `embeddings` array".into());
        };
        let vectors = items
            .iter()
            .enumerate()
            .map(|(i, item)| match item.get("values") {
                Some(values) => {
                    float_vector(values).map_err(|e| format!("embeddings[{i}].values{e}"))
                }
                None => Err(format!("embeddings[{i}] has no `values`")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let prompt_tokens = body
            .pointer("/usageMetadata/promptTokenCount")
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok());
        Ok(Embedded {
            vectors,
            prompt_tokens,
        })
    }

    fn max_inputs(&self) -> usize {
        MAX_EMBED_BATCH
    }
}

/// The model's resource name: `models/x`; `models/x` and `tunedModels/x` already are one.
fn resource_name(model: &str) -> String {
    if model.contains('/') {
        model.to_owned()
    } else {
        format!("models/{model}")
    }
}

/// The rightfit spelling of a `finishReason`; `None` for the unset value. Reasons this code
/// does not know (tool-call failures, `OTHER`, ones added later) count as a normal stop.
fn finish_reason(reason: &str) -> Option<FinishReason> {
    Some(match reason {
        "FINISH_REASON_UNSPECIFIED" => return None,
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            FinishReason::ContentFilter
        }
        _ => FinishReason::Stop,
    })
}

/// Gemini ends a turn that called functions with `STOP`; rightfit says `ToolCalls`.
fn with_calls(reason: FinishReason, called: bool) -> FinishReason {
    if called && reason == FinishReason::Stop {
        FinishReason::ToolCalls
    } else {
        reason
    }
}

/// The message and status of an `{"error": {"code", "message", "status"}}` value.
fn error_of(value: &Value) -> Option<ErrorBody> {
    let error = value.get("error")?;
    let message = error.get("message")?.as_str()?.to_owned();
    let kind = error
        .get("status")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Some(ErrorBody { message, kind })
}

/// A `GenerateContentResponse` (whole, or one streamed chunk), as far as rightfit reads it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireResponse {
    #[serde(default)]
    candidates: Vec<WireCandidate>,
    prompt_feedback: Option<PromptFeedback>,
    usage_metadata: Option<WireUsage>,
    response_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptFeedback {
    block_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireCandidate {
    /// Absent for index 0 (protobuf JSON leaves out zero values), so the position stands in.
    index: Option<u32>,
    content: Option<WireContent>,
    finish_reason: Option<String>,
    logprobs_result: Option<LogprobsResult>,
}

impl WireCandidate {
    fn index(&self, position: usize) -> u32 {
        self.index
            .unwrap_or_else(|| u32::try_from(position).unwrap_or(u32::MAX))
    }

    /// The answer text: text parts that are not thoughts, in order.
    fn text(&self) -> String {
        self.content
            .iter()
            .flat_map(|c| &c.parts)
            .filter(|p| !p.thought)
            .filter_map(|p| p.text.as_deref())
            .collect()
    }

    /// The function calls, in order, numbered from `first` (the calls the candidate made in
    /// earlier stream chunks). `Err` says what is malformed.
    fn calls(&self, index: u32, first: usize) -> Result<Vec<ToolCall>, String> {
        self.content
            .iter()
            .flat_map(|c| &c.parts)
            .filter_map(|p| p.function_call.as_ref())
            .enumerate()
            .map(|(n, call)| call.to_call(index, first + n))
            .collect()
    }
}

#[derive(Debug, Deserialize)]
struct WireContent {
    #[serde(default)]
    parts: Vec<WirePart>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WirePart {
    text: Option<String>,
    #[serde(default)]
    thought: bool,
    function_call: Option<tools::WireFunctionCall>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogprobsResult {
    #[serde(default)]
    chosen_candidates: Vec<LogprobCandidate>,
    /// One entry per position, like `chosen_candidates`.
    #[serde(default)]
    top_candidates: Vec<TopCandidates>,
}

impl LogprobsResult {
    fn tokens(self) -> Vec<TokenLogprob> {
        let mut tops = self.top_candidates.into_iter();
        self.chosen_candidates
            .into_iter()
            .map(|chosen| TokenLogprob {
                token: chosen.token,
                logprob: chosen.log_probability,
                top: tops
                    .next()
                    .map(|t| {
                        t.candidates
                            .into_iter()
                            .map(|c| TopLogprob {
                                token: c.token,
                                logprob: c.log_probability,
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect()
    }
}

#[derive(Debug, Deserialize)]
struct TopCandidates {
    #[serde(default)]
    candidates: Vec<LogprobCandidate>,
}

/// A token and its log-probability; either is left out when it is the zero value.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogprobCandidate {
    #[serde(default)]
    token: String,
    #[serde(default)]
    log_probability: f64,
}

/// `usageMetadata`. `promptTokenCount` includes the cached tokens.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct WireUsage {
    prompt_token_count: u32,
    candidates_token_count: u32,
    cached_content_token_count: u32,
    thoughts_token_count: u32,
}

impl WireUsage {
    fn to_usage(self) -> Usage {
        Usage {
            prompt_tokens: self.prompt_token_count,
            completion_tokens: self.candidates_token_count + self.thoughts_token_count,
            cached_prompt_tokens: self.cached_content_token_count,
        }
    }
}

#[path = "gemini_stream.rs"]
mod stream;
#[path = "gemini_tools.rs"]
mod tools;

use stream::GeminiDecoder;

#[cfg(test)]
#[path = "gemini_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "gemini_stream_tests.rs"]
mod stream_tests;
