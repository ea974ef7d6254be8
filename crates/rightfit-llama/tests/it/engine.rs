//! Behaviour of the engine on SmolLM2-135M.

use futures::executor::block_on;
use rightfit_llama::EngineOptions;
use rightfit_providers::Provider;
use rightfit_types::{
    ChatRequest, EmbeddingRequest, FinishReason, LoglikelihoodRequest, Message, ResponseFormat,
    Sampling, StreamEvent,
};

use crate::support::{complete, load, options, provider};

fn chat(q: &str) -> ChatRequest {
    ChatRequest::chat(vec![Message::user(q)]).with_max_tokens(24)
}

const QUESTIONS: &[&str] = &[
    "What is the capital of France?",
    "Write a haiku about the sea.",
    "List three prime numbers.",
    "Why is the sky blue?",
    "Translate 'good morning' into Spanish.",
    "What is 12 times 12?",
];

#[test]
fn greedy_output_is_identical_across_runs_smollm2() {
    let a = load(options(4));
    let first = complete(&a, chat(QUESTIONS[0]));
    assert!(!first.text().trim().is_empty(), "{first:?}");
    let again = complete(&a, chat(QUESTIONS[0]));
    assert_eq!(first.text(), again.text());
    drop(a);
    let b = load(options(4));
    assert_eq!(complete(&b, chat(QUESTIONS[0])).text(), first.text());
}

/// Batch-invariant mode: the same prompts give the same greedy outputs whether each runs alone
/// on a one-sequence engine or all of them share the decode steps of an eight-sequence engine.
#[test]
fn prompts_decoded_together_match_separate_runs_smollm2() {
    let invariant = |parallel| EngineOptions {
        batch_invariant: true,
        ..options(parallel)
    };
    let long = format!(
        "Here is some context. {} Now answer briefly: what colour is grass?",
        "The weather was mild and the fields were green. ".repeat(8)
    );
    let mut prompts: Vec<String> = QUESTIONS.iter().map(|q| (*q).to_owned()).collect();
    prompts.push(long);
    prompts.push("Name two planets.".to_owned());
    let solo = load(EngineOptions {
        prefix_cache: false,
        ..invariant(1)
    });
    let separate: Vec<String> = prompts
        .iter()
        .map(|q| complete(&solo, chat(q)).text().to_owned())
        .collect();
    drop(solo);
    let batched = load(invariant(8));
    let p = provider(&batched);
    let together = block_on(futures::future::join_all(
        prompts.iter().map(|q| p.complete(chat(q))),
    ));
    for (i, r) in together.into_iter().enumerate() {
        assert_eq!(
            r.expect("ok").text(),
            separate[i],
            "prompt {i}: {}",
            prompts[i]
        );
    }
    let stats = block_on(batched.stats()).expect("stats");
    // Fewer decode calls than generated tokens proves sequences shared decode steps.
    assert!(stats.decode_calls < stats.generated_tokens, "{stats:?}");
}

#[test]
fn prefix_reuse_changes_no_output_smollm2() {
    let shots = "Classify the sentiment as positive or negative.\n\
        Review: I loved every minute. Sentiment: positive\n\
        Review: Dull and far too long. Sentiment: negative\n\
        Review: The cast was wonderful. Sentiment: positive\n";
    let reviews = [
        "A masterpiece.",
        "I walked out.",
        "Not bad at all.",
        "Terrible sound.",
    ];
    let req = |r: &str| {
        ChatRequest::completion(format!("{shots}Review: {r} Sentiment:")).with_max_tokens(3)
    };
    let cold = load(EngineOptions {
        prefix_cache: false,
        batch_invariant: true,
        ..options(2)
    });
    let expected: Vec<String> = reviews
        .iter()
        .map(|r| complete(&cold, req(r)).text().to_owned())
        .collect();
    drop(cold);
    let warm = load(EngineOptions {
        batch_invariant: true,
        ..options(2)
    });
    for (i, r) in reviews.iter().enumerate() {
        let resp = complete(&warm, req(r));
        assert_eq!(resp.text(), expected[i], "review {i}");
        if i > 0 {
            assert!(
                resp.usage.cached_prompt_tokens > 40,
                "the few-shot prefix should come from the cache: {:?}",
                resp.usage
            );
            assert!(resp.timings.prompt_tokens_evaluated < resp.usage.prompt_tokens / 2);
        }
    }
}

#[test]
fn identical_choices_share_the_prompt_smollm2() {
    let e = load(options(4));
    let r = complete(&e, chat(QUESTIONS[1]).with_n(3));
    assert_eq!(r.choices.len(), 3);
    assert!(
        r.choices.iter().all(|c| c.text == r.choices[0].text),
        "greedy choices agree: {r:?}"
    );
    assert_eq!(
        r.usage.completion_tokens % 3,
        0,
        "each choice generated the same tokens"
    );
    // The prompt was computed once and shared, except the last token of each extra choice.
    let prompt = r.usage.prompt_tokens;
    assert!(
        r.timings.prompt_tokens_evaluated <= prompt + 2,
        "{:?} {prompt}",
        r.timings
    );
}

#[test]
fn seeded_sampling_is_reproducible_smollm2() {
    let e = load(options(4));
    let sampled = |seed| {
        chat("Tell me a short story about a dragon.")
            .with_max_tokens(40)
            .with_sampling(Sampling {
                temperature: Some(1.2),
                top_p: Some(0.95),
                top_k: Some(100),
                seed: Some(seed),
            })
    };
    let a = complete(&e, sampled(7));
    let b = complete(&e, sampled(7));
    assert_eq!(a.text(), b.text());
    let c = complete(&e, sampled(8));
    assert_ne!(
        a.text(),
        c.text(),
        "different seeds should sample differently"
    );
    let greedy = complete(
        &e,
        chat("Tell me a short story about a dragon.").with_max_tokens(40),
    );
    assert_ne!(a.text(), greedy.text());
}

#[test]
fn stop_sequences_and_token_limits_smollm2() {
    let e = load(options(2));
    let counting = || ChatRequest::completion("1, 2, 3, 4, 5,");
    let r = complete(&e, counting().with_max_tokens(30).with_stop([" 8"]));
    assert_eq!(r.choices[0].finish_reason, FinishReason::Stop, "{r:?}");
    assert!(
        r.text().contains('7') && !r.text().contains('8'),
        "{:?}",
        r.text()
    );
    let r = complete(&e, counting().with_max_tokens(5));
    assert_eq!(r.choices[0].finish_reason, FinishReason::Length);
    assert_eq!(r.usage.completion_tokens, 5);
    assert_eq!(r.timings.generated_tokens, 5);
}

#[test]
fn timings_and_usage_are_consistent_smollm2() {
    let e = load(options(2));
    let r = complete(&e, chat(QUESTIONS[3]));
    let t = r.timings;
    assert!(
        t.queue_ms >= 0.0 && t.queue_ms <= t.ttft_ms && t.ttft_ms <= t.total_ms,
        "{t:?}"
    );
    assert!(
        r.usage.prompt_tokens > 5 && r.usage.completion_tokens > 0,
        "{:?}",
        r.usage
    );
    assert_eq!(
        t.prompt_tokens_evaluated,
        r.usage.prompt_tokens - r.usage.cached_prompt_tokens
    );
    let stats = block_on(e.stats()).expect("stats");
    assert!(stats.model_bytes > 50 << 20 && stats.memory.peak_rss_bytes >= stats.memory.rss_bytes);
    assert!(e.info().context_rss_bytes > 0, "{:?}", e.info());
}

#[test]
fn loglikelihood_prefers_the_true_capital_smollm2() {
    let e = load(options(4));
    let p = provider(&e);
    let r = block_on(p.loglikelihood(LoglikelihoodRequest {
        model: String::new(),
        context: "The capital of France is".into(),
        continuations: vec![
            " Paris".into(),
            " Berlin".into(),
            " a city in Germany".into(),
        ],
        normalize: Default::default(),
    }))
    .expect("scores");
    assert_eq!(r.scores.len(), 3);
    assert!(r.scores[0].logprob > r.scores[1].logprob, "{r:?}");
    assert_eq!(r.best(), Some(0));
    assert!(r.scores.iter().all(|s| s.logprob < 0.0));
    assert!(r.scores[2].tokens > 1);
}

#[test]
fn loglikelihood_agrees_with_greedy_decoding_smollm2() {
    let e = load(options(4));
    let context = "The first three planets from the sun are Mercury,";
    let greedy = complete(&e, ChatRequest::completion(context).with_max_tokens(4));
    let r = block_on(provider(&e).loglikelihood(LoglikelihoodRequest {
        model: String::new(),
        context: context.into(),
        continuations: vec![greedy.text().to_owned(), " Pluto and Mars".into()],
        normalize: Default::default(),
    }))
    .expect("scores");
    assert!(
        r.scores[0].is_greedy,
        "the greedy continuation is greedy: {r:?}"
    );
    assert!(!r.scores[1].is_greedy);
    assert!(r.scores[0].logprob > r.scores[1].logprob);
    // Scoring with the prefix cache and one slot gives the same numbers.
    let one = load(EngineOptions {
        prefix_cache: false,
        ..options(1)
    });
    let r1 = block_on(provider(&one).loglikelihood(LoglikelihoodRequest {
        model: String::new(),
        context: context.into(),
        continuations: vec![greedy.text().to_owned(), " Pluto and Mars".into()],
        normalize: Default::default(),
    }))
    .expect("scores");
    for (a, b) in r.scores.iter().zip(&r1.scores) {
        assert!((a.logprob - b.logprob).abs() < 1e-3, "{a:?} vs {b:?}");
    }
}

#[test]
fn json_schema_output_parses_and_conforms_smollm2() {
    let e = load(options(2));
    let schema = serde_json::json!({
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 20},
            "age": {"type": "integer"},
            "mood": {"enum": ["happy", "sad"]}
        },
        "required": ["name", "age", "mood"],
        "additionalProperties": false
    });
    let r = complete(
        &e,
        chat("Describe a person as JSON with name, age and mood.")
            .with_max_tokens(80)
            .with_response_format(ResponseFormat::JsonSchema {
                name: "person".into(),
                schema,
                strict: true,
            }),
    );
    assert_eq!(r.choices[0].finish_reason, FinishReason::Stop, "{r:?}");
    let v: serde_json::Value = serde_json::from_str(r.text()).expect("valid JSON");
    let obj = v.as_object().expect("an object");
    assert_eq!(obj.len(), 3, "{v}");
    assert!(
        obj["name"].is_string()
            && obj["name"]
                .as_str()
                .is_some_and(|s| s.chars().count() <= 20)
    );
    assert!(obj["age"].is_i64() || obj["age"].is_u64(), "{v}");
    assert!(
        ["happy", "sad"].contains(&obj["mood"].as_str().unwrap_or("")),
        "{v}"
    );
}

#[test]
fn gbnf_grammar_restricts_output_smollm2() {
    let e = load(options(2));
    let r = complete(
        &e,
        chat("Is water wet? Answer yes or no.").with_response_format(ResponseFormat::Grammar {
            gbnf: r#"root ::= ("yes" | "no") "." "#.into(),
        }),
    );
    assert!(r.text() == "yes." || r.text() == "no.", "{:?}", r.text());
    let bad = block_on(provider(&e).complete(chat("x").with_response_format(
        ResponseFormat::Grammar {
            gbnf: "root ::= (".into(),
        },
    )));
    let err = bad.expect_err("a broken grammar is refused");
    assert!(err.to_string().contains("grammar"), "{err}");
}

#[test]
fn json_object_mode_gives_an_object_smollm2() {
    let e = load(options(2));
    let r = complete(
        &e,
        chat("Give the colour of the sky as JSON.")
            .with_max_tokens(60)
            .with_response_format(ResponseFormat::JsonObject),
    );
    if r.choices[0].finish_reason == FinishReason::Stop {
        let v: serde_json::Value = serde_json::from_str(r.text()).expect("valid JSON");
        assert!(v.is_object(), "{v}");
    } else {
        assert!(r.text().trim_start().starts_with('{'), "{:?}", r.text());
    }
}

#[test]
fn embeddings_are_pooled_normalised_and_batch_independent_smollm2() {
    let e = load(options(2));
    let p = provider(&e);
    let texts = [
        "The cat sat on the mat.",
        "A kitten rests on a rug.",
        "Stock markets fell sharply today.",
    ];
    let all = block_on(p.embed(EmbeddingRequest {
        model: String::new(),
        inputs: texts.iter().map(|s| (*s).to_owned()).collect(),
        normalize: true,
    }))
    .expect("embeddings");
    assert_eq!(all.embeddings.len(), 3);
    let dim = e.info().embedding_size as usize;
    for v in &all.embeddings {
        assert_eq!(v.len(), dim);
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{norm}");
    }
    let alone = block_on(p.embed(EmbeddingRequest {
        model: String::new(),
        inputs: vec![texts[1].to_owned()],
        normalize: true,
    }))
    .expect("embedding");
    let diff: f32 = alone.embeddings[0]
        .iter()
        .zip(&all.embeddings[1])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(diff < 1e-3, "max difference {diff}");
    assert_ne!(all.embeddings[0], all.embeddings[2]);
}

#[test]
fn chat_templates_embedded_named_and_unknown_smollm2() {
    let e = load(options(2));
    let embedded = complete(&e, chat(QUESTIONS[0]));
    let mut named = chat(QUESTIONS[0]);
    named.chat_template = Some("chatml".into());
    // SmolLM2 embeds a ChatML template; naming the built-in one renders the same prompt.
    let named = complete(&e, named);
    assert_eq!(embedded.usage.prompt_tokens, named.usage.prompt_tokens);
    assert_eq!(embedded.text(), named.text());
    let mut unknown = chat(QUESTIONS[0]);
    unknown.chat_template = Some("no-such-template".into());
    let err = block_on(provider(&e).complete(unknown)).expect_err("unknown template");
    assert!(
        err.to_string().contains("chatml"),
        "lists the built-in names: {err}"
    );
}

#[test]
fn invalid_requests_are_refused_clearly_smollm2() {
    let e = load(EngineOptions {
        context_size: 64,
        ..options(2)
    });
    let p = provider(&e);
    let long = "word ".repeat(600);
    let err = block_on(p.complete(ChatRequest::completion(long))).expect_err("too long");
    assert!(err.to_string().contains("context holds"), "{err}");
    let err = block_on(p.complete(chat("hi").with_n(9))).expect_err("too many choices");
    assert!(err.to_string().contains("n = 9"), "{err}");
    let err = block_on(p.complete(ChatRequest::chat(vec![]))).expect_err("no messages");
    assert!(err.to_string().contains("at least one message"), "{err}");
    // The engine keeps serving after refusals.
    assert!(
        !complete(&e, chat("hi").with_max_tokens(3))
            .text()
            .is_empty()
    );
}

#[test]
fn a_dropped_stream_cancels_its_request_smollm2() {
    let e = load(options(2));
    let mut g = e
        .generate(ChatRequest::completion("Once upon a time").with_max_tokens(2000))
        .expect("started");
    let first = g.blocking_next().expect("an event").expect("no error");
    assert!(matches!(first, StreamEvent::Delta { .. }), "{first:?}");
    drop(g);
    // The engine is free again: a new request completes, and the cancelled one never ran to 2000.
    let r = complete(&e, chat("hi").with_max_tokens(4));
    assert!(r.usage.completion_tokens > 0);
    let stats = block_on(e.stats()).expect("stats");
    assert!(stats.generated_tokens < 500, "{stats:?}");
}

#[test]
fn a_small_context_shared_by_many_sequences_fails_cleanly_smollm2() {
    // 8 sequences of ~40 prompt tokens each cannot all grow to 200 tokens in 256 cells.
    let e = load(EngineOptions {
        context_size: 256,
        ..options(8)
    });
    let p = provider(&e);
    let results = block_on(futures::future::join_all((0..8).map(|i| {
        p.complete(
            ChatRequest::completion(format!("Story {i}: once upon a time")).with_max_tokens(200),
        )
    })));
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert!(ok >= 1, "some requests finish");
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(
            r.to_string().contains("context full") || r.to_string().contains("KV cache"),
            "{r}"
        );
    }
    assert!(
        !complete(&e, chat("hi").with_max_tokens(3))
            .text()
            .is_empty()
    );
}

#[test]
fn training_tokens_are_the_generation_prompt_and_the_closed_answer_turn_smollm2() {
    let engine = load(options(1));
    let messages = vec![
        rightfit_types::Message::system("Answer with one word."),
        rightfit_types::Message::user("What is the capital of France?"),
    ];
    // The answer the model gives greedily: fine-tuning on it must see the same prompt tokens
    // generation does, then these tokens, then the turn's end.
    let answered = complete(
        &engine,
        ChatRequest::chat(messages.clone()).with_max_tokens(8),
    );
    let answer = answered.text().trim().to_owned();
    assert!(!answer.is_empty());
    let t = block_on(engine.training_tokens(messages.clone(), &answer, None)).expect("tokens");
    assert_eq!(
        t.prompt.len() as u32,
        answered.usage.prompt_tokens,
        "the prompt is tokenised as generation tokenises it"
    );
    let im_end = block_on(engine.tokenize("<|im_end|>")).expect("tokenize");
    let im_end = *im_end.last().expect("one token");
    let closing = t
        .answer
        .iter()
        .position(|&id| id == im_end)
        .expect("the answer turn is closed with <|im_end|>");
    assert!(
        closing >= 1,
        "answer tokens come before the end of the turn"
    );
    let alone = block_on(engine.tokenize(&answer)).expect("tokenize");
    assert!(
        alone.ends_with(&t.answer[..closing]),
        "the answer's tokens are the answer text's: {alone:?} vs {:?}",
        &t.answer[..closing]
    );
    // An empty conversation is refused, as generation refuses it.
    assert!(block_on(engine.training_tokens(Vec::new(), "x", None)).is_err());
}
