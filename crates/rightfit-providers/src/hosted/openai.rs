//! OpenAI Chat Completions, and the OpenAI-compatible servers that imitate it.
//!
//! The same codec serves `api.openai.com` and the servers that copy its API (vLLM, Ollama's
//! `/v1`, llama.cpp's `llama-server`, TGI, LM Studio). Where they differ:
//!
//! | | OpenAI | compatible |
//! |---|---|---|
//! | token limit | `max_completion_tokens` | `max_tokens` (not every server knows the new name) |
//! | `top_k`, `ignore_eos`, GBNF `grammar` | rejected (`Err`) or left out | sent |
//! | `stop` | at most 4 | any number |
//! | response `id` | required | optional |
//! | stream without `[DONE]` | truncated | accepted once every choice has finished |
//! | tool call without `id` | protocol error | `call_<choice>_<n>` made up |

use rightfit_config::Secret;
use rightfit_types::{ChatRequest, Prompt, ResponseFormat};
use serde_json::{Map, Value, json};

use super::codec::{Codec, Decoder, EmbeddingCodec, ErrorBody, Parsed, json_number};

mod embed;
mod kind;
mod stream;
mod tools;
mod wire;

use stream::OpenAiDecoder;
use wire::{error_from_value, parse_choice, parse_usage, type_name};

/// Most stop sequences api.openai.com accepts.
const OPENAI_MAX_STOP: usize = 4;
/// Most alternatives per position api.openai.com returns (`top_logprobs`).
const OPENAI_MAX_TOP_LOGPROBS: u32 = 20;

/// The OpenAI protocol. `compatible` tolerates what OpenAI-compatible servers (vLLM, Ollama,
/// llama.cpp's server, TGI, LM Studio) leave out: usage, ids, the `[DONE]` marker.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OpenAi {
    pub compatible: bool,
}

impl Codec for OpenAi {
    fn kind(&self) -> &'static str {
        if self.compatible {
            "openai-compatible"
        } else {
            "openai"
        }
    }

    fn chat_url(&self, base_url: &str, _model: &str, _stream: bool) -> String {
        format!("{base_url}/chat/completions")
    }

    fn headers(&self, key: Option<&Secret>) -> Vec<(&'static str, String)> {
        // An empty key (a local server configured without one) would make `Bearer ` with
        // nothing after it, which some servers reject; send no header instead.
        match key {
            Some(key) if !key.expose().is_empty() => {
                vec![("Authorization", format!("Bearer {}", key.expose()))]
            }
            _ => Vec::new(),
        }
    }

    fn chat_body(&self, model: &str, request: &ChatRequest, stream: bool) -> Result<Value, String> {
        let messages = match &request.prompt {
            Prompt::Messages(messages) => messages,
            Prompt::Text(_) => {
                return Err(format!(
                    "the {} chat API needs messages, not raw text: send the prompt as a \
                     conversation (or use a provider that supports raw text completion)",
                    self.kind()
                ));
            }
        };
        let mut body = Map::new();
        body.insert("model".into(), json!(model));
        let messages: Vec<Value> = messages
            .iter()
            .enumerate()
            .map(|(at, m)| tools::message(m, at))
            .collect::<Result<_, _>>()?;
        body.insert("messages".into(), Value::Array(messages));
        tools::insert_tools(&mut body, request)?;

        let sampling = &request.sampling;
        match sampling.temperature {
            Some(t) if !sampling.is_greedy() => body.insert("temperature".into(), json_number(t)),
            _ => body.insert("temperature".into(), json!(0)),
        };
        if let Some(p) = sampling.top_p {
            body.insert("top_p".into(), json_number(p));
        }
        if let Some(seed) = sampling.seed {
            body.insert("seed".into(), json!(seed));
        }
        if let Some(k) = sampling.top_k {
            // api.openai.com rejects `top_k` as an unknown parameter; the sampling it asks for
            // cannot be had there, so it is left out rather than failing every request.
            if self.compatible {
                body.insert("top_k".into(), json!(k));
            }
        }
        if let Some(max) = request.max_tokens {
            let field = if self.compatible {
                "max_tokens"
            } else {
                "max_completion_tokens"
            };
            body.insert(field.into(), json!(max));
        }
        if !request.stop.is_empty() {
            if !self.compatible && request.stop.len() > OPENAI_MAX_STOP {
                return Err(format!(
                    "OpenAI accepts at most {OPENAI_MAX_STOP} stop sequences; this request has {}",
                    request.stop.len()
                ));
            }
            body.insert("stop".into(), json!(request.stop));
        }
        if request.n > 1 {
            body.insert("n".into(), json!(request.n));
        }
        match &request.response_format {
            ResponseFormat::Text => {}
            ResponseFormat::JsonObject => {
                body.insert("response_format".into(), json!({"type": "json_object"}));
            }
            ResponseFormat::JsonSchema {
                name,
                schema,
                strict,
            } => {
                let name = if name.is_empty() { "response" } else { name };
                body.insert(
                    "response_format".into(),
                    json!({
                        "type": "json_schema",
                        "json_schema": {"name": name, "schema": schema, "strict": strict},
                    }),
                );
            }
            ResponseFormat::Grammar { gbnf } => {
                if !self.compatible {
                    return Err(
                        "OpenAI does not take GBNF grammars: use a JSON schema response \
                                format, or an OpenAI-compatible server that supports `grammar` \
                                (llama.cpp's llama-server)"
                            .into(),
                    );
                }
                body.insert("grammar".into(), json!(gbnf));
            }
        }
        if let Some(k) = request.logprobs {
            if !self.compatible && k > OPENAI_MAX_TOP_LOGPROBS {
                return Err(format!(
                    "OpenAI returns at most {OPENAI_MAX_TOP_LOGPROBS} alternatives per token; \
                     this request asks for {k}"
                ));
            }
            body.insert("logprobs".into(), json!(true));
            if k > 0 {
                body.insert("top_logprobs".into(), json!(k));
            }
        }
        // OpenAI has no way to keep generating past the end of the turn; the request is still
        // answered, only shorter.
        if request.ignore_eos && self.compatible {
            body.insert("ignore_eos".into(), json!(true));
        }
        if stream {
            body.insert("stream".into(), json!(true));
            body.insert("stream_options".into(), json!({"include_usage": true}));
        }
        Ok(Value::Object(body))
    }

    fn parse_chat(&self, body: Value) -> Result<Parsed, String> {
        let Some(obj) = body.as_object() else {
            return Err(format!(
                "the response is {}, not a JSON object",
                type_name(&body)
            ));
        };
        let Some(choices) = obj.get("choices") else {
            if let Some(err) = error_from_value(&body) {
                return Err(format!("the response is an error: {}", err.message));
            }
            return Err("the response has no `choices`".into());
        };
        let Some(choices) = choices.as_array() else {
            return Err(format!(
                "`choices` is {}, expected an array",
                type_name(choices)
            ));
        };
        let id = match obj.get("id") {
            Some(Value::String(id)) => Some(id.clone()),
            _ if self.compatible => None,
            None | Some(Value::Null) => return Err("the response has no `id`".into()),
            Some(other) => return Err(format!("`id` is {}, expected a string", type_name(other))),
        };
        let mut parsed = Vec::with_capacity(choices.len());
        for (i, choice) in choices.iter().enumerate() {
            parsed.push(
                parse_choice(choice, self.compatible).map_err(|e| format!("choices[{i}]{e}"))?,
            );
        }
        if parsed.is_empty() {
            return Err("`choices` is empty".into());
        }
        parsed.sort_by_key(|c| c.index);
        if let Some(w) = parsed.windows(2).find(|w| w[0].index == w[1].index) {
            return Err(format!("choice index {} appears twice", w[0].index));
        }
        let usage = parse_usage(obj.get("usage")).map_err(|e| format!("usage{e}"))?;
        Ok(Parsed {
            id,
            choices: parsed,
            usage,
        })
    }

    fn decoder(&self, n: u32) -> Box<dyn Decoder> {
        Box::new(OpenAiDecoder::new(self.compatible, n))
    }

    fn error_body(&self, body: &[u8]) -> Option<ErrorBody> {
        error_from_value(&serde_json::from_slice(body).ok()?)
    }

    fn embeddings(&self) -> Result<&dyn EmbeddingCodec, &'static str> {
        Ok(self)
    }
}

#[cfg(test)]
mod tests;
