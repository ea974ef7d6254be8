//! `POST {base}/embeddings`, for OpenAI and the compatible servers that copy it (vLLM, Ollama,
//! llama.cpp's server, TEI, Voyage AI, ...).
//!
//! The request names `encoding_format: "float"` even though it is OpenAI's default: the official
//! SDKs ask for base64 unless told otherwise, so servers that follow them may default to it too.
//! Items are put in order by their `index` (the API does not promise the order of `data`); a
//! compatible server that leaves `index` out is taken to answer in input order.

use serde_json::{Value, json};

use super::OpenAi;
use super::wire::{parse_usage, type_name};
use crate::hosted::codec::{Embedded, EmbeddingCodec, float_vector};

/// Most inputs api.openai.com takes in one request.
const MAX_INPUTS: usize = 2048;

impl EmbeddingCodec for OpenAi {
    fn embed_url(&self, base_url: &str, _model: &str) -> String {
        format!("{base_url}/embeddings")
    }

    fn embed_body(&self, model: &str, inputs: &[String]) -> Value {
        json!({"model": model, "input": inputs, "encoding_format": "float"})
    }

    fn parse_embeddings(&self, body: Value) -> Result<Embedded, String> {
        let Some(data) = body.get("data") else {
            return Err(match &body {
                Value::Object(_) => "the response has no `data`".to_owned(),
                other => format!("the response is {}, not a JSON object", type_name(other)),
            });
        };
        let Value::Array(items) = data else {
            return Err(format!("`data` is {}, expected an array", type_name(data)));
        };
        let mut indexed = Vec::with_capacity(items.len());
        for (position, item) in items.iter().enumerate() {
            let index = match item.get("index") {
                None | Some(Value::Null) if self.compatible => position,
                None | Some(Value::Null) => return Err(format!("data[{position}] has no `index`")),
                Some(v) => v
                    .as_u64()
                    .and_then(|i| usize::try_from(i).ok())
                    .ok_or_else(|| {
                        format!("data[{position}].index: expected an integer, got {v}")
                    })?,
            };
            let vector = item
                .get("embedding")
                .ok_or_else(|| format!("data[{position}] has no `embedding`"))
                .and_then(|v| {
                    float_vector(v).map_err(|e| format!("data[{position}].embedding{e}"))
                })?;
            indexed.push((index, vector));
        }
        indexed.sort_by_key(|(index, _)| *index);
        for (expected, (index, _)) in indexed.iter().enumerate() {
            if *index != expected {
                return Err(format!(
                    "the indexes of `data` are not 0..{}: {index} where {expected} was expected",
                    indexed.len()
                ));
            }
        }
        let usage = parse_usage(body.get("usage")).map_err(|e| format!("usage{e}"))?;
        Ok(Embedded {
            vectors: indexed.into_iter().map(|(_, v)| v).collect(),
            prompt_tokens: usage.map(|u| u.prompt_tokens),
        })
    }

    fn max_inputs(&self) -> usize {
        MAX_INPUTS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPENAI: OpenAi = OpenAi { compatible: false };
    const COMPAT: OpenAi = OpenAi { compatible: true };

    #[test]
    fn the_request_asks_for_floats() {
        assert_eq!(
            OPENAI.embed_url("https://api.openai.com/v1", "text-embedding-3-small"),
            "https://api.openai.com/v1/embeddings"
        );
        let body = OPENAI.embed_body("text-embedding-3-small", &["a".into(), "b".into()]);
        assert_eq!(
            body,
            json!({"model": "text-embedding-3-small", "input": ["a", "b"], "encoding_format": "float"})
        );
    }

    #[test]
    fn vectors_are_put_in_index_order() {
        // The API reference's shape, with the items out of order.
        let body = json!({
            "object": "list",
            "data": [
                {"object": "embedding", "index": 1, "embedding": [0.5, -0.25]},
                {"object": "embedding", "index": 0, "embedding": [1, 0.0023064255]}
            ],
            "model": "text-embedding-3-small",
            "usage": {"prompt_tokens": 8, "total_tokens": 8}
        });
        let e = OPENAI.parse_embeddings(body).unwrap();
        assert_eq!(
            e.vectors,
            vec![vec![1.0, 0.002_306_425_5], vec![0.5, -0.25]]
        );
        assert_eq!(e.prompt_tokens, Some(8));
    }

    #[test]
    fn compatible_servers_may_leave_out_index_and_usage() {
        let body = json!({"data": [{"embedding": [1.0]}, {"embedding": [2.0]}]});
        let e = COMPAT.parse_embeddings(body.clone()).unwrap();
        assert_eq!(e.vectors, vec![vec![1.0], vec![2.0]]);
        assert_eq!(e.prompt_tokens, None);
        let err = OPENAI.parse_embeddings(body).unwrap_err();
        assert!(err.contains("data[0] has no `index`"), "{err}");
    }

    #[test]
    fn malformed_answers_say_what_is_wrong() {
        let cases = [
            (json!([1, 2]), "not a JSON object"),
            (json!({"object": "list"}), "no `data`"),
            (json!({"data": {}}), "`data` is an object"),
            (
                json!({"data": [{"index": 0, "embedding": "AACAPw=="}]}),
                "base64",
            ),
            (
                json!({"data": [{"index": 0, "embedding": [1, "x"]}]}),
                "data[0].embedding[1]",
            ),
            (
                json!({"data": [{"index": 0, "embedding": [1]}, {"index": 0, "embedding": [2]}]}),
                "not 0..2",
            ),
            (json!({"data": [{"index": 0}]}), "no `embedding`"),
        ];
        for (body, expected) in cases {
            let err = OPENAI.parse_embeddings(body.clone()).unwrap_err();
            assert!(err.contains(expected), "{body}: {err}");
        }
    }
}
