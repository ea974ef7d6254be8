//! Embeddings: OpenAI's `POST /v1/embeddings` and Gemini's `models/{model}:embedContent` and
//! `:batchEmbedContents`.
//!
//! A vector is a deterministic function of its text ([`embedding`]): equal texts get equal
//! vectors, different texts (almost surely) different ones, so a test can tell whether order
//! was kept without a model. The vectors are not unit length, so a client that promises unit
//! vectors has to scale them itself. They take script steps like chat requests do (faults
//! included); a `Reply` step answers normally, its text unused.
//!
//! OpenAI shapes: `{"object": "list", "data": [{"object": "embedding", "index", "embedding"}],
//! "model", "usage": {"prompt_tokens", "total_tokens"}}`, with `embedding` a base64 string of
//! little-endian `f32`s when `encoding_format` is `base64` (what the official SDKs ask for by
//! default). Gemini shapes: `{"embeddings": [{"values"}]}`, or `{"embedding": {"values"}}` for
//! `embedContent`.

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderValue, Response};
use serde_json::{Value, json};

use crate::error_bodies::{gemini, openai};
use crate::respond::{Generation, StreamPlan, Writing};
use crate::script::Reply;
use crate::shared::Shared;

/// Most inputs one OpenAI embeddings request may carry.
const OPENAI_MAX_INPUTS: usize = 2048;
/// Most requests one Gemini batch may carry.
const GEMINI_MAX_BATCH: usize = 100;

/// The vector the test servers return for `text`: `dimensions` numbers in [-1, 1), drawn from
/// a generator seeded with a hash of the text (FNV-1a, then SplitMix64).
pub fn embedding(text: &str, dimensions: usize) -> Vec<f32> {
    let mut state = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    (0..dimensions)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            // 24 random bits: exact in an f32.
            (z >> 40) as f32 / (1u32 << 23) as f32 - 1.0
        })
        .collect()
}

/// Standard base64 (with padding) of the vector's little-endian `f32` bytes, as OpenAI sends
/// `encoding_format: "base64"`.
fn base64_f32(vector: &[f32]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * k)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Tokens a text counts as: its words, at least one.
fn tokens(text: &str) -> usize {
    text.split_whitespace().count().max(1)
}

/// One accepted OpenAI embeddings request.
#[derive(Debug)]
pub(crate) struct OpenAiEmbed {
    model: String,
    /// Each input's text (token arrays as their JSON) and token count.
    inputs: Vec<(String, usize)>,
    dimensions: usize,
    base64: bool,
    no_usage: bool,
    request_id: String,
}

/// Checks an embeddings body as OpenAI does (`input`, `encoding_format`, `dimensions`, model).
pub(crate) fn openai(
    shared: &Shared,
    body: &Value,
    model: &str,
) -> Result<OpenAiEmbed, Response<Body>> {
    let invalid = |message: &str, param: Option<&str>| {
        openai::error(400, message, "invalid_request_error", param, None)
    };
    let bad_input = || {
        invalid(
            "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
            None,
        )
    };
    let is_tokens = |v: &Value| {
        v.as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_u64))
    };
    let inputs: Vec<(String, usize)> = match body.get("input") {
        None | Some(Value::Null) => return Err(invalid("'input' is a required property", None)),
        Some(Value::String(s)) if !s.is_empty() => vec![(s.clone(), tokens(s))],
        Some(tokens_in) if is_tokens(tokens_in) => {
            let n = tokens_in.as_array().map_or(1, Vec::len);
            vec![(tokens_in.to_string(), n)]
        }
        Some(Value::Array(items)) if !items.is_empty() && items.len() <= OPENAI_MAX_INPUTS => {
            let mut inputs = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(s) if !s.is_empty() => inputs.push((s.clone(), tokens(s))),
                    t if is_tokens(t) => {
                        inputs.push((t.to_string(), t.as_array().map_or(1, Vec::len)))
                    }
                    _ => return Err(bad_input()),
                }
            }
            inputs
        }
        Some(_) => return Err(bad_input()),
    };
    let base64 = match body.get("encoding_format") {
        None | Some(Value::Null) => false,
        Some(Value::String(f)) if f == "float" => false,
        Some(Value::String(f)) if f == "base64" => true,
        Some(other) => {
            let message = format!("{other} is not one of ['float', 'base64'] - 'encoding_format'");
            return Err(invalid(&message, Some("encoding_format")));
        }
    };
    let dimensions = match body.get("dimensions") {
        None | Some(Value::Null) => shared.config.embedding_dimensions,
        Some(d) => match d.as_u64().and_then(|d| usize::try_from(d).ok()) {
            Some(d @ 1..) => d,
            _ => {
                let message =
                    format!("Invalid value for 'dimensions' = {d}. Must be a positive integer.");
                return Err(invalid(&message, Some("dimensions")));
            }
        },
    };
    openai::check_model(shared, model)?;
    Ok(OpenAiEmbed {
        model: model.to_owned(),
        inputs,
        dimensions,
        base64,
        no_usage: shared.config.quirks.no_usage,
        request_id: format!("req_testkit{:012}", shared.next_id()),
    })
}

impl Generation for OpenAiEmbed {
    fn streaming(&self) -> bool {
        false
    }

    fn body(&self, _reply: &Reply) -> Vec<u8> {
        let data: Vec<Value> = self
            .inputs
            .iter()
            .enumerate()
            .map(|(index, (text, _))| {
                let vector = embedding(text, self.dimensions);
                let encoded = if self.base64 {
                    json!(base64_f32(&vector))
                } else {
                    json!(vector)
                };
                json!({"object": "embedding", "index": index, "embedding": encoded})
            })
            .collect();
        let prompt: usize = self.inputs.iter().map(|(_, n)| n).sum();
        let mut body = json!({"object": "list", "data": data, "model": self.model});
        if !self.no_usage
            && let Value::Object(map) = &mut body
        {
            map.insert(
                "usage".to_owned(),
                json!({"prompt_tokens": prompt, "total_tokens": prompt}),
            );
        }
        crate::respond::to_vec(&body)
    }

    fn cut_body_at(&self, body: &[u8], _reply: &Reply, _deltas: usize) -> usize {
        body.len() / 2
    }

    fn stream(&self, _reply: &Reply) -> StreamPlan {
        StreamPlan::default()
    }

    fn stream_error(&self, _sent: usize) -> Bytes {
        Bytes::new()
    }

    fn malformed_event(&self, _sent: usize) -> Bytes {
        Bytes::new()
    }

    fn error(&self, status: u16) -> Response<Body> {
        let mut response = openai::scripted_error(status, &self.model);
        self.decorate(&mut response);
        response
    }

    fn stream_content_type(&self) -> &'static str {
        "application/json"
    }

    fn writing(&self) -> Writing {
        Writing::default()
    }

    fn decorate(&self, response: &mut Response<Body>) {
        if let Ok(value) = HeaderValue::from_str(&self.request_id) {
            response.headers_mut().insert("x-request-id", value);
        }
    }
}

/// One accepted Gemini embedding request.
#[derive(Debug)]
pub(crate) struct GeminiEmbed {
    model: String,
    /// Each content's text and the dimensions asked for it.
    inputs: Vec<(String, usize)>,
    batch: bool,
}

/// Checks an `embedContent` or `batchEmbedContents` body as Gemini does.
pub(crate) fn gemini(
    shared: &Shared,
    body: &Value,
    version: &str,
    model: &str,
    batch: bool,
) -> Result<GeminiEmbed, Response<Body>> {
    let invalid = |message: String| gemini::error(400, &message, None);
    let name = format!("models/{model}");
    let one = |request: &Value, at: &str| -> Result<(String, usize), Response<Body>> {
        let parts = request.pointer("/content/parts").and_then(Value::as_array);
        let Some(parts) = parts.filter(|p| !p.is_empty()) else {
            return Err(invalid(format!(
                "* {at}.content: content is not specified\n"
            )));
        };
        let mut text = String::new();
        for part in parts {
            match part.get("text").and_then(Value::as_str) {
                Some(t) => text.push_str(t),
                None => {
                    return Err(invalid(format!(
                        "* {at}.content.parts: only text parts can be embedded here\n"
                    )));
                }
            }
        }
        let dimensions = match request.get("outputDimensionality") {
            None | Some(Value::Null) => shared.config.embedding_dimensions,
            Some(d) => d
                .as_u64()
                .and_then(|d| usize::try_from(d).ok())
                .filter(|d| *d > 0)
                .ok_or_else(|| {
                    invalid(format!("* {at}.output_dimensionality: must be positive\n"))
                })?,
        };
        Ok((text, dimensions))
    };
    let inputs = if batch {
        let Some(requests) = body.get("requests").and_then(Value::as_array) else {
            return Err(invalid(
                "* BatchEmbedContentsRequest.requests: requests is not specified\n".to_owned(),
            ));
        };
        if requests.is_empty() || requests.len() > GEMINI_MAX_BATCH {
            return Err(invalid(format!(
                "* BatchEmbedContentsRequest.requests: at most {GEMINI_MAX_BATCH} requests can be in one batch, and at least one\n"
            )));
        }
        let mut inputs = Vec::with_capacity(requests.len());
        for (i, request) in requests.iter().enumerate() {
            let at = format!("BatchEmbedContentsRequest.requests[{i}]");
            if request.get("model").and_then(Value::as_str) != Some(name.as_str()) {
                return Err(invalid(format!(
                    "* {at}.model: the model of each request must be the model of the URL, {name}\n"
                )));
            }
            inputs.push(one(request, &at)?);
        }
        inputs
    } else {
        vec![one(body, "EmbedContentRequest")?]
    };
    if !shared.knows_model(model) {
        let method = if batch {
            "batchEmbedContents"
        } else {
            "embedContent"
        };
        let message = format!(
            "models/{model} is not found for API version {version}, or is not supported for {method}. Call ListModels to see the list of available models and their supported methods."
        );
        return Err(gemini::error(404, &message, None));
    }
    Ok(GeminiEmbed {
        model: model.to_owned(),
        inputs,
        batch,
    })
}

impl Generation for GeminiEmbed {
    fn streaming(&self) -> bool {
        false
    }

    fn body(&self, _reply: &Reply) -> Vec<u8> {
        let values: Vec<Value> = self
            .inputs
            .iter()
            .map(|(text, dimensions)| json!({"values": embedding(text, *dimensions)}))
            .collect();
        let body = if self.batch {
            json!({ "embeddings": values })
        } else {
            json!({ "embedding": values.into_iter().next() })
        };
        crate::respond::to_vec(&body)
    }

    fn cut_body_at(&self, body: &[u8], _reply: &Reply, _deltas: usize) -> usize {
        body.len() / 2
    }

    fn stream(&self, _reply: &Reply) -> StreamPlan {
        StreamPlan::default()
    }

    fn stream_error(&self, _sent: usize) -> Bytes {
        Bytes::new()
    }

    fn malformed_event(&self, _sent: usize) -> Bytes {
        Bytes::new()
    }

    fn error(&self, status: u16) -> Response<Body> {
        gemini::scripted_error(status, &self.model)
    }

    fn stream_content_type(&self) -> &'static str {
        "application/json; charset=UTF-8"
    }

    fn writing(&self) -> Writing {
        Writing::default()
    }

    fn decorate(&self, _response: &mut Response<Body>) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_depend_on_the_text_alone() {
        assert_eq!(embedding("hello", 8), embedding("hello", 8));
        assert_ne!(embedding("hello", 8), embedding("hello!", 8));
        assert_eq!(embedding("hello", 8).len(), 8);
        assert_eq!(embedding("hello", 4), embedding("hello", 8)[..4]);
        assert!(embedding("x", 64).iter().all(|v| (-1.0..1.0).contains(v)));
    }

    #[test]
    fn base64_is_little_endian_f32() {
        // 1.0f32 = 00 00 80 3f; -2.0f32 = 00 00 00 c0.
        assert_eq!(base64_f32(&[1.0]), "AACAPw==");
        assert_eq!(base64_f32(&[1.0, -2.0]), "AACAPwAAAMA=");
        assert_eq!(base64_f32(&[]), "");
    }
}
