//! Tests of the Gemini codec against the shapes the Gemini API documents.

use rightfit_types::{Message, Sampling};

use super::*;

fn chat() -> ChatRequest {
    ChatRequest::chat(vec![
        Message::system("Be brief."),
        Message::user("Hi"),
        Message::assistant("Hello."),
        Message::system("Answer in French."),
        Message::user("How are you?"),
    ])
}

fn body(request: &ChatRequest) -> Value {
    Gemini
        .chat_body("gemini-2.5-flash", request, false)
        .unwrap()
}

fn body_err(request: &ChatRequest) -> String {
    Gemini
        .chat_body("gemini-2.5-flash", request, false)
        .unwrap_err()
}

#[test]
fn kind_url_and_headers() {
    assert_eq!(Gemini.kind(), "gemini");
    let base = "https://generativelanguage.googleapis.com/v1beta";
    assert_eq!(
        Gemini.chat_url(base, "gemini-1.5-flash", false),
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-1.5-flash:generateContent"
    );
    assert_eq!(
        Gemini.chat_url(base, "gemini-1.5-flash", true),
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-1.5-flash:streamGenerateContent?alt=sse"
    );
    assert_eq!(
        Gemini.chat_url(
            "https://generativelanguage.googleapis.com/v1/",
            "models/gemini-1.5-flash",
            false
        ),
        "https://generativelanguage.googleapis.com/v1/models/gemini-1.5-flash:generateContent"
    );
    assert_eq!(
        Gemini.chat_url(base, "tunedModels/my-model-7", false),
        format!("{base}/tunedModels/my-model-7:generateContent")
    );
    let key = Secret::new("AIza-123");
    assert_eq!(
        Gemini.headers(Some(&key)),
        vec![("x-goog-api-key", "AIza-123".to_owned())]
    );
    assert!(Gemini.headers(None).is_empty());
}

#[test]
fn body_of_a_plain_conversation() {
    let expected = json!({
        "contents": [
            {"role": "user", "parts": [{"text": "Hi"}]},
            {"role": "model", "parts": [{"text": "Hello."}]},
            {"role": "user", "parts": [{"text": "How are you?"}]},
        ],
        "systemInstruction": {"parts": [{"text": "Be brief.\n\nAnswer in French."}]},
        "generationConfig": {"temperature": 0.0},
    });
    assert_eq!(body(&chat()), expected);
    // Streaming changes the URL, not the body.
    assert_eq!(
        Gemini.chat_body("gemini-2.5-flash", &chat(), true).unwrap(),
        expected
    );
    let b = body(&ChatRequest::chat(vec![Message::user("Hi")]));
    assert!(b.get("systemInstruction").is_none(), "{b}");
}

#[test]
fn body_with_every_generation_option() {
    let mut request = chat()
        .with_max_tokens(256)
        .with_stop(["END"])
        .with_n(3)
        .with_sampling(Sampling {
            temperature: Some(0.7),
            top_p: Some(0.95),
            top_k: Some(40),
            seed: Some(1234),
        });
    request.ignore_eos = true;
    request.chat_template = Some("gemma".into());
    let config = body(&request)["generationConfig"].clone();
    assert_eq!(
        config,
        json!({
            "temperature": 0.7,
            "topP": 0.95,
            "topK": 40,
            "maxOutputTokens": 256,
            "stopSequences": ["END"],
            "candidateCount": 3,
            "seed": 1234,
        })
    );
    assert_eq!(config["temperature"].to_string(), "0.7");
}

#[test]
fn one_candidate_and_greedy_sampling() {
    for temperature in [None, Some(0.0)] {
        let request = chat().with_sampling(Sampling {
            temperature,
            ..Sampling::default()
        });
        assert_eq!(
            body(&request)["generationConfig"],
            json!({"temperature": 0.0})
        );
    }
}

#[test]
fn large_seeds_fold_into_int32() {
    let seed = |s: u64| {
        body(&chat().with_sampling(Sampling {
            seed: Some(s),
            ..Sampling::default()
        }))["generationConfig"]["seed"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(seed(7), 7);
    assert_eq!(seed(u64::MAX), i64::from(i32::MAX));
    assert_eq!(seed(1 << 31), 0);
    assert_eq!(seed(u64::MAX), seed(u64::MAX), "deterministic");
}

#[test]
fn json_output() {
    let config =
        body(&chat().with_response_format(ResponseFormat::JsonObject))["generationConfig"].clone();
    assert_eq!(config["responseMimeType"], json!("application/json"));
    assert!(config.get("responseJsonSchema").is_none());

    let schema = json!({
        "type": "object",
        "properties": {"answer": {"anyOf": [{"type": "integer"}, {"type": "null"}]}},
        "required": ["answer"],
        "additionalProperties": false,
    });
    let config = body(&chat().with_response_format(ResponseFormat::JsonSchema {
        name: "answer".into(),
        schema: schema.clone(),
        strict: true,
    }))["generationConfig"]
        .clone();
    assert_eq!(config["responseMimeType"], json!("application/json"));
    assert_eq!(
        config["responseJsonSchema"], schema,
        "passed through untouched"
    );
    assert!(config.get("responseSchema").is_none());
}

#[test]
fn logprobs_options() {
    let mut request = chat();
    request.logprobs = Some(0);
    let config = body(&request)["generationConfig"].clone();
    assert_eq!(config["responseLogprobs"], json!(true));
    assert!(config.get("logprobs").is_none());
    request.logprobs = Some(5);
    let config = body(&request)["generationConfig"].clone();
    assert_eq!(config["responseLogprobs"], json!(true));
    assert_eq!(config["logprobs"], json!(5));
    assert!(
        body(&chat())["generationConfig"]
            .get("responseLogprobs")
            .is_none()
    );
}

#[test]
fn requests_the_api_cannot_answer_are_refused() {
    let err = body_err(&ChatRequest::completion("Once upon a time"));
    assert!(err.contains("raw text completion"), "{err}");
    let err = body_err(&ChatRequest::chat(vec![Message::system("Rules only.")]));
    assert!(err.contains("no user or assistant message"), "{err}");
    let err = body_err(&chat().with_response_format(ResponseFormat::Grammar {
        gbnf: "root ::= \"a\"".into(),
    }));
    assert!(err.contains("GBNF"), "{err}");
    assert!(body_err(&chat().with_n(0)).contains("n = 0"));
}

fn candidate(text: &str, finish: &str) -> Value {
    json!({
        "content": {"parts": [{"text": text}], "role": "model"},
        "finishReason": finish,
        "avgLogprobs": -0.21,
        "safetyRatings": [],
    })
}

fn usage_metadata() -> Value {
    json!({
        "promptTokenCount": 12,
        "candidatesTokenCount": 30,
        "totalTokenCount": 52,
        "thoughtsTokenCount": 10,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 12}],
    })
}

#[test]
fn parses_a_response() {
    let parsed = Gemini
        .parse_chat(json!({
            "candidates": [candidate("Bonjour !", "STOP")],
            "usageMetadata": usage_metadata(),
            "modelVersion": "gemini-2.5-flash",
            "responseId": "mIAzaOm3CpqBm9IPpq2XoQk",
        }))
        .unwrap();
    assert_eq!(
        parsed,
        Parsed {
            id: Some("mIAzaOm3CpqBm9IPpq2XoQk".into()),
            choices: vec![Choice {
                tool_calls: Vec::new(),
                index: 0,
                text: "Bonjour !".into(),
                finish_reason: FinishReason::Stop,
                logprobs: None,
            }],
            usage: Some(Usage {
                prompt_tokens: 12,
                completion_tokens: 40,
                cached_prompt_tokens: 0,
            }),
        }
    );
}

#[test]
fn parts_join_and_thoughts_are_skipped() {
    let parsed = Gemini
        .parse_chat(json!({"candidates": [{
            "content": {"role": "model", "parts": [
                {"text": "Let me think about it.", "thought": true},
                {"text": "Part one, "},
                {"inlineData": {"mimeType": "image/png", "data": "iVBOR"}},
                {"text": "part two."},
            ]},
            "finishReason": "STOP",
        }]}))
        .unwrap();
    assert_eq!(parsed.choices[0].text, "Part one, part two.");
    assert_eq!(parsed.usage, None);
    assert_eq!(parsed.id, None);
}

#[test]
fn candidates_are_ordered_by_index() {
    // Index 0 is left out of protobuf JSON; its position stands in.
    let mut first = candidate("zero", "STOP");
    first.as_object_mut().unwrap().remove("index");
    let mut second = candidate("one", "MAX_TOKENS");
    second["index"] = json!(1);
    let mut third = candidate("two", "STOP");
    third["index"] = json!(2);
    let parsed = Gemini
        .parse_chat(json!({"candidates": [first, third, second]}))
        .unwrap();
    let got: Vec<_> = parsed
        .choices
        .iter()
        .map(|c| (c.index, c.text.as_str(), c.finish_reason))
        .collect();
    assert_eq!(
        got,
        vec![
            (0, "zero", FinishReason::Stop),
            (1, "one", FinishReason::Length),
            (2, "two", FinishReason::Stop),
        ]
    );
}

#[test]
fn finish_reasons() {
    for (reason, expected) in [
        ("STOP", FinishReason::Stop),
        ("MAX_TOKENS", FinishReason::Length),
        ("SAFETY", FinishReason::ContentFilter),
        ("RECITATION", FinishReason::ContentFilter),
        ("BLOCKLIST", FinishReason::ContentFilter),
        ("PROHIBITED_CONTENT", FinishReason::ContentFilter),
        ("SPII", FinishReason::ContentFilter),
        ("IMAGE_SAFETY", FinishReason::ContentFilter),
        ("OTHER", FinishReason::Stop),
        ("MALFORMED_FUNCTION_CALL", FinishReason::Stop),
        ("FINISH_REASON_UNSPECIFIED", FinishReason::Stop),
    ] {
        let parsed = Gemini
            .parse_chat(json!({"candidates": [candidate("x", reason)]}))
            .unwrap();
        assert_eq!(parsed.choices[0].finish_reason, expected, "{reason}");
    }
    // A candidate withheld for safety comes without content.
    let parsed = Gemini
        .parse_chat(json!({"candidates": [{"finishReason": "SAFETY", "index": 0}]}))
        .unwrap();
    assert_eq!(parsed.choices[0].text, "");
    assert_eq!(parsed.choices[0].finish_reason, FinishReason::ContentFilter);
    let parsed = Gemini
        .parse_chat(json!({"candidates": [{"content": {"role": "model"}}]}))
        .unwrap();
    assert_eq!(parsed.choices[0].finish_reason, FinishReason::Stop);
}

pub(super) fn logprobs_result() -> Value {
    json!({
        "topCandidates": [
            {"candidates": [
                {"token": "Bon", "tokenId": 1, "logProbability": -0.1},
                {"token": "Sal", "tokenId": 2, "logProbability": -2.5},
            ]},
            {"candidates": [{"token": "jour", "tokenId": 3}]},
        ],
        "chosenCandidates": [
            {"token": "Bon", "tokenId": 1, "logProbability": -0.1},
            {"token": "jour", "tokenId": 3},
        ],
        "logProbabilitySum": -0.1,
    })
}

pub(super) fn expected_logprobs() -> Vec<TokenLogprob> {
    vec![
        TokenLogprob {
            token: "Bon".into(),
            logprob: -0.1,
            top: vec![
                TopLogprob {
                    token: "Bon".into(),
                    logprob: -0.1,
                },
                TopLogprob {
                    token: "Sal".into(),
                    logprob: -2.5,
                },
            ],
        },
        // A log-probability of 0 is left out of protobuf JSON.
        TokenLogprob {
            token: "jour".into(),
            logprob: 0.0,
            top: vec![TopLogprob {
                token: "jour".into(),
                logprob: 0.0,
            }],
        },
    ]
}

#[test]
fn parses_logprobs() {
    let mut c = candidate("Bonjour", "STOP");
    c["logprobsResult"] = logprobs_result();
    let parsed = Gemini.parse_chat(json!({"candidates": [c]})).unwrap();
    assert_eq!(parsed.choices[0].logprobs, Some(expected_logprobs()));

    // Only the chosen tokens (logprobs: 0).
    let mut c = candidate("Hi", "STOP");
    c["logprobsResult"] = json!({"chosenCandidates": [{"token": "Hi", "logProbability": -0.5}]});
    let parsed = Gemini.parse_chat(json!({"candidates": [c]})).unwrap();
    assert_eq!(
        parsed.choices[0].logprobs,
        Some(vec![TokenLogprob {
            token: "Hi".into(),
            logprob: -0.5,
            top: Vec::new(),
        }])
    );
}

#[test]
fn usage_with_cache() {
    let parsed = Gemini
        .parse_chat(json!({
            "candidates": [candidate("ok", "STOP")],
            "usageMetadata": {"promptTokenCount": 5000, "cachedContentTokenCount": 4096,
                              "candidatesTokenCount": 3, "totalTokenCount": 5003},
        }))
        .unwrap();
    assert_eq!(
        parsed.usage,
        Some(Usage {
            prompt_tokens: 5000,
            completion_tokens: 3,
            cached_prompt_tokens: 4096,
        })
    );
}

#[test]
fn blocked_prompt_is_one_filtered_choice() {
    let parsed = Gemini
        .parse_chat(json!({
            "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": []},
            "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8},
        }))
        .unwrap();
    assert_eq!(
        parsed.choices,
        vec![Choice {
            tool_calls: Vec::new(),
            index: 0,
            text: String::new(),
            finish_reason: FinishReason::ContentFilter,
            logprobs: None,
        }]
    );
    assert_eq!(
        parsed.usage,
        Some(Usage {
            prompt_tokens: 8,
            completion_tokens: 0,
            cached_prompt_tokens: 0,
        })
    );
}

#[test]
fn malformed_responses_are_errors() {
    let err = Gemini.parse_chat(json!({})).unwrap_err();
    assert!(err.contains("no candidates"), "{err}");
    let err = Gemini
        .parse_chat(json!({"candidates": {"text": "x"}}))
        .unwrap_err();
    assert!(err.contains("GenerateContentResponse"), "{err}");
    let err = Gemini
        .parse_chat(json!({"candidates": [{"content": {"parts": [{"text": 5}]}}]}))
        .unwrap_err();
    assert!(err.contains("GenerateContentResponse"), "{err}");
    let mut a = candidate("a", "STOP");
    a["index"] = json!(0);
    let err = Gemini
        .parse_chat(json!({"candidates": [a.clone(), a]}))
        .unwrap_err();
    assert!(err.contains("index 0"), "{err}");
    let err = Gemini
        .parse_chat(json!({"error": {"code": 429, "message": "Quota exceeded",
                                     "status": "RESOURCE_EXHAUSTED"}}))
        .unwrap_err();
    assert!(err.contains("Quota exceeded"), "{err}");
    assert!(Gemini.parse_chat(json!("text")).is_err());
}

#[test]
fn error_bodies() {
    let expected = Some(ErrorBody {
        message: "models/gemini-x is not found for API version v1beta".into(),
        kind: Some("NOT_FOUND".into()),
    });
    let body = r#"{"error": {"code": 404, "message": "models/gemini-x is not found for API version v1beta", "status": "NOT_FOUND"}}"#;
    assert_eq!(Gemini.error_body(body.as_bytes()), expected);
    assert_eq!(Gemini.error_body(format!("[{body}]").as_bytes()), expected);
    assert_eq!(
        Gemini.error_body(br#"{"error": {"code": 500, "message": "Internal error"}}"#),
        Some(ErrorBody {
            message: "Internal error".into(),
            kind: None,
        })
    );
    assert_eq!(Gemini.error_body(b"<html>Bad Gateway</html>"), None);
    assert_eq!(Gemini.error_body(br#"{"error": "flat"}"#), None);
    assert_eq!(
        Gemini.error_body(format!("[{body}, {body}]").as_bytes()),
        None
    );
    assert_eq!(Gemini.error_body(b"[]"), None);
}

// ---- embeddings ----

#[test]
fn embeddings_go_to_batch_embed_contents() {
    assert_eq!(
        Gemini.embed_url(
            "https://generativelanguage.googleapis.com/v1beta",
            "gemini-embedding-001"
        ),
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-embedding-001:batchEmbedContents"
    );
    let body = Gemini.embed_body("gemini-embedding-001", &["a".into(), "b".into()]);
    assert_eq!(
        body,
        json!({"requests": [
            {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "a"}]}},
            {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "b"}]}}
        ]})
    );
}

#[test]
fn embeddings_are_read_in_order() {
    let body = json!({
        "embeddings": [{"values": [0.25, -1]}, {"values": [3, 4.5]}],
        "usageMetadata": {"promptTokenCount": 6, "totalTokenCount": 6}
    });
    let e = Gemini.parse_embeddings(body).unwrap();
    assert_eq!(e.vectors, vec![vec![0.25, -1.0], vec![3.0, 4.5]]);
    assert_eq!(e.prompt_tokens, Some(6));
    let e = Gemini
        .parse_embeddings(json!({"embeddings": [{"values": [1]}]}))
        .unwrap();
    assert_eq!(e.prompt_tokens, None);
}

#[test]
fn malformed_embeddings_say_what_is_wrong() {
    let cases = [
        (json!({"embedding": {"values": [1]}}), "no `embeddings`"),
        (
            json!({"embeddings": [{"value": [1]}]}),
            "embeddings[0] has no `values`",
        ),
        (
            json!({"embeddings": [{"values": [1, null]}]}),
            "embeddings[0].values[1]",
        ),
        (
            json!({"error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}}),
            "an error: bad",
        ),
    ];
    for (body, expected) in cases {
        let err = Gemini.parse_embeddings(body.clone()).unwrap_err();
        assert!(err.contains(expected), "{body}: {err}");
    }
}
