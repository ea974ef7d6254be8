//! One suite, run against every provider (see `suite!` at the bottom).

use std::time::Duration;

use futures::StreamExt;
use rightfit_providers::{Provider, ProviderError};
use rightfit_testkit::{Finish, Protocol, Reply, Step};
use rightfit_types::{ChatRequest, FinishReason, Message, ResponseFormat, StreamEvent};

use crate::{KEY, Target, provider, setup, setup_with};

fn request() -> ChatRequest {
    ChatRequest::chat(vec![
        Message::system("Answer briefly."),
        Message::user("Say hello."),
    ])
    .with_max_tokens(64)
}

fn reply(text: &str) -> Reply {
    Reply {
        prompt_tokens: 21,
        completion_tokens: 7,
        ..Reply::text(text)
    }
}

/// Reads a stream to its end: the text, the errors, and whether `Done` came.
async fn drain(p: &dyn Provider, r: ChatRequest) -> (String, Vec<ProviderError>, bool, usize) {
    let mut stream = p.stream(r).await.expect("stream opens");
    let (mut text, mut errors, mut done, mut deltas) = (String::new(), Vec::new(), false, 0);
    while let Some(event) = stream.next().await {
        match event {
            Ok(StreamEvent::Delta { text: t, .. }) => {
                deltas += 1;
                text.push_str(&t);
            }
            Ok(StreamEvent::Done { .. }) => done = true,
            Ok(_) => {}
            Err(e) => errors.push(e),
        }
    }
    (text, errors, done, deltas)
}

pub async fn answers_whole_and_streamed(t: Target) {
    let s = setup(t).await;
    let text = "The quick brown fox jumps.";
    s.server
        .push([Step::Reply(reply(text)), Step::Reply(reply(text))]);
    let streamed = s.provider.complete(request()).await.expect("answer");
    assert_eq!(streamed.text(), text);
    assert_eq!(streamed.choices[0].finish_reason, FinishReason::Stop);
    assert!(streamed.timings.ttft_ms > 0.0, "{:?}", streamed.timings);
    assert!(streamed.timings.total_ms >= streamed.timings.ttft_ms);
    let whole = provider(&s, |m| m.stream = false)
        .complete(request())
        .await
        .expect("answer");
    assert_eq!(whole.text(), text);
    if t.quirks.no_usage {
        assert_eq!(
            whole.usage.prompt_tokens, 0,
            "no usage was sent: none invented"
        );
    } else {
        assert_eq!(
            (whole.usage.prompt_tokens, whole.usage.completion_tokens),
            (21, 7)
        );
        assert_eq!(streamed.usage.prompt_tokens, 21);
        assert_eq!(streamed.usage.completion_tokens, 7);
    }
    assert!(!whole.id.is_empty());
    assert_eq!(s.server.request_count(), 2);
}

pub async fn streams_piece_by_piece(t: Target) {
    let s = setup(t).await;
    s.server
        .push([Step::Reply(reply("one two three four five"))]);
    let (text, errors, done, deltas) = drain(&s.provider, request()).await;
    assert!(errors.is_empty(), "{errors:?}");
    assert!(done);
    assert_eq!(text, "one two three four five");
    assert!(deltas >= 5, "{deltas} deltas");
}

pub async fn sends_the_protocol_s_request(t: Target) {
    let s = setup(t).await;
    s.provider.complete(request()).await.expect("answer");
    let r = &s.server.requests()[0];
    assert_eq!(r.method, "POST");
    let body = &r.body;
    match t.protocol {
        Protocol::OpenAi => {
            assert_eq!(r.path, "/v1/chat/completions");
            assert_eq!(
                r.header("authorization"),
                Some(format!("Bearer {KEY}").as_str())
            );
            assert_eq!(body["messages"][0]["role"], "system");
            assert_eq!(body["messages"][1]["content"], "Say hello.");
            assert_eq!(body["stream"], true);
            assert_eq!(body["stream_options"]["include_usage"], true);
        }
        Protocol::Anthropic => {
            assert_eq!(r.path, "/v1/messages");
            assert_eq!(r.header("x-api-key"), Some(KEY));
            assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
            assert_eq!(body["system"], "Answer briefly.");
            assert_eq!(body["messages"][0]["role"], "user");
            assert_eq!(body["max_tokens"], 64);
        }
        Protocol::Gemini => {
            assert_eq!(r.path, "/v1beta/models/test-model:streamGenerateContent");
            assert_eq!(r.query.as_deref(), Some("alt=sse"));
            assert_eq!(r.header("x-goog-api-key"), Some(KEY));
            assert_eq!(
                body["systemInstruction"]["parts"][0]["text"],
                "Answer briefly."
            );
            assert_eq!(body["contents"][0]["parts"][0]["text"], "Say hello.");
            assert_eq!(body["generationConfig"]["maxOutputTokens"], 64);
        }
    }
}

pub async fn constrains_json_output(t: Target) {
    let s = setup(t).await;
    let json = r#"{"city": "Paris", "people": 2}"#;
    s.server.push([Step::Reply(Reply::text(json))]);
    let schema = serde_json::json!({
        "type": "object",
        "properties": {"city": {"type": "string"}, "people": {"type": "integer"}},
        "required": ["city", "people"]
    });
    let r = request().with_response_format(ResponseFormat::JsonSchema {
        name: "booking".into(),
        schema: schema.clone(),
        strict: true,
    });
    let answer = s.provider.complete(r).await.expect("answer");
    let parsed: serde_json::Value = serde_json::from_str(answer.text()).expect("JSON text");
    assert_eq!(parsed, serde_json::json!({"city": "Paris", "people": 2}));
    let body = &s.server.requests()[0].body;
    match t.protocol {
        Protocol::OpenAi => {
            assert_eq!(body["response_format"]["type"], "json_schema");
            assert_eq!(body["response_format"]["json_schema"]["schema"], schema);
        }
        Protocol::Anthropic => {
            assert_eq!(body["tools"][0]["input_schema"], schema);
            assert_eq!(body["tool_choice"]["type"], "tool");
        }
        Protocol::Gemini => {
            assert_eq!(
                body["generationConfig"]["responseMimeType"],
                "application/json"
            );
        }
    }
}

pub async fn reports_the_token_limit(t: Target) {
    let s = setup(t).await;
    s.server.push([Step::Reply(Reply {
        finish: Finish::Length,
        ..reply("cut short")
    })]);
    let a = s.provider.complete(request()).await.expect("answer");
    assert_eq!(a.choices[0].finish_reason, FinishReason::Length);
}

pub async fn rate_limits_wait_for_retry_after(t: Target) {
    let s = setup(t).await;
    s.server.push([
        Step::RateLimited {
            retry_after_s: Some(1),
        },
        Step::Reply(reply("after the wait")),
    ]);
    let a = s.provider.complete(request()).await.expect("answer");
    assert_eq!(a.text(), "after the wait");
    assert_eq!(s.server.too_soon(), 0, "Retry-After was not honoured");
    assert_eq!(s.server.request_count(), 2);
}

pub async fn server_errors_are_retried(t: Target) {
    let s = setup(t).await;
    s.server.push([
        Step::Status(500),
        Step::Status(503),
        Step::Reply(reply("third time")),
    ]);
    let a = s.provider.complete(request()).await.expect("answer");
    assert_eq!(a.text(), "third time");
    assert_eq!(s.server.request_count(), 3);
}

pub async fn retries_are_bounded(t: Target) {
    let s = setup(t).await;
    s.server.push((0..6).map(|_| Step::Status(500)));
    let p = provider(&s, |m| m.max_retries = 2);
    let e = p.complete(request()).await.expect_err("gives up");
    assert!(matches!(e, ProviderError::Server { .. }), "{e}");
    assert!(e.to_string().contains("gave up after 3 attempts"), "{e}");
    assert_eq!(s.server.request_count(), 3);
}

pub async fn retry_budget_is_respected(t: Target) {
    let s = setup(t).await;
    s.server.push([Step::RateLimited {
        retry_after_s: Some(30),
    }]);
    let p = provider(&s, |m| m.retry_budget_s = 5.0);
    let e = p.complete(request()).await.expect_err("gives up");
    assert!(matches!(e, ProviderError::RateLimited { .. }), "{e}");
    // It gave up instead of waiting: the wait asked for would pass the budget.
    assert!(
        e.to_string()
            .contains("would pass the 5 s retry budget (retry_budget_s)"),
        "{e}"
    );
    assert_eq!(s.server.request_count(), 1);
}

pub async fn client_errors_are_not_retried(t: Target) {
    for status in [400u16, 401, 403, 404] {
        let s = setup(t).await;
        s.server.push([
            Step::Status(status),
            Step::Reply(reply("should not be read")),
        ]);
        let e = s.provider.complete(request()).await.expect_err("error");
        let text = e.to_string();
        assert!(!e.is_transient(), "{status}: {text}");
        assert_eq!(s.server.request_count(), 1, "{status} was retried: {text}");
        assert!(text.contains("test-model"), "names the model: {text}");
        assert!(text.contains(t.kind), "names the provider: {text}");
        assert!(!text.contains(KEY), "{text}");
        let expected = match status {
            401 | 403 => matches!(e, ProviderError::Auth { .. }),
            404 => matches!(e, ProviderError::NotFound { .. }),
            _ => matches!(e, ProviderError::InvalidRequest { .. }),
        };
        assert!(expected, "{status} became {e:?}");
    }
}

pub async fn a_refused_key_is_never_printed(t: Target) {
    let wrong = "sk-wrong-9876543210fedcbaQRS";
    let s = setup(t).await;
    let m = s.model.clone();
    let p =
        rightfit_providers::HostedProvider::with_key(&m, Some(rightfit_config::Secret::new(wrong)))
            .expect("provider");
    let e = p.complete(request()).await.expect_err("refused");
    let text = format!("{e} {e:?}");
    assert!(!text.contains(wrong), "{text}");
    assert!(!text.contains("sk-wrong"), "{text}");
    assert!(!text.contains("QRS"), "{text}");
    assert!(!e.is_transient());
    assert_eq!(s.server.request_count(), 1);
    let recorded = &s.server.requests()[0];
    assert!(
        recorded.headers.iter().any(|(_, v)| v.contains(wrong)),
        "the key was sent"
    );
}

pub async fn unknown_models_are_named(t: Target) {
    let s = setup_with(t, |c| c.models = vec!["real-model".into()], |_| {}).await;
    let e = s
        .provider
        .complete(request())
        .await
        .expect_err("unknown model");
    assert!(matches!(e, ProviderError::NotFound { .. }), "{e:?}");
    assert!(e.to_string().contains("test-model"), "{e}");
}

pub async fn dropped_connections_are_retried(t: Target) {
    let s = setup(t).await;
    s.server
        .push([Step::Drop, Step::Reply(reply("after the drop")), Step::Drop]);
    let a = s.provider.complete(request()).await.expect("answer");
    assert_eq!(a.text(), "after the drop");
    s.server.push([Step::Reply(reply("whole"))]);
    let w = provider(&s, |m| m.stream = false)
        .complete(request())
        .await
        .expect("answer");
    assert_eq!(w.text(), "whole");
    assert_eq!(s.server.request_count(), 4);
}

pub async fn truncated_streams_are_errors(t: Target) {
    let s = setup(t).await;
    let cut = Step::Truncate {
        reply: reply("one two three four five six"),
        after_chunks: 2,
    };
    // A stream handed to the caller: the cut shows as an error after the first deltas.
    s.server.push([cut.clone()]);
    let (text, errors, done, _) = drain(&s.provider, request()).await;
    assert!(!done, "a cut stream must not end with Done");
    assert!(
        !text.is_empty() && text.len() < "one two three four five six".len(),
        "{text:?}"
    );
    assert!(
        matches!(errors.as_slice(), [ProviderError::Truncated { .. }]),
        "{errors:?}"
    );
    // A whole answer: the cut attempt is retried, and the answer is complete.
    s.server
        .push([cut.clone(), Step::Reply(reply("complete answer"))]);
    let a = s.provider.complete(request()).await.expect("answer");
    assert_eq!(a.text(), "complete answer");
    s.server.push([cut, Step::Reply(reply("complete too"))]);
    let w = provider(&s, |m| m.stream = false)
        .complete(request())
        .await
        .expect("answer");
    assert_eq!(w.text(), "complete too");
    assert_eq!(s.server.request_count(), 5);
}

pub async fn malformed_json_is_an_error(t: Target) {
    let s = setup(t).await;
    s.server.push([Step::MalformedJson]);
    let e = s.provider.complete(request()).await.expect_err("malformed");
    assert!(matches!(e, ProviderError::Protocol { .. }), "{e:?}");
    assert_eq!(
        s.server.request_count(),
        1,
        "malformed answers are not retried"
    );
    s.server.push([Step::MalformedJson]);
    let e = provider(&s, |m| m.stream = false)
        .complete(request())
        .await
        .expect_err("malformed");
    assert!(matches!(e, ProviderError::Protocol { .. }), "{e:?}");
    assert_eq!(
        s.server.request_count(),
        2,
        "malformed answers are not retried"
    );
}

pub async fn error_events_mid_stream(t: Target) {
    let s = setup(t).await;
    s.server.push([Step::StreamError {
        reply: reply("one two three"),
        after_chunks: 1,
    }]);
    let (_, errors, done, _) = drain(&s.provider, request()).await;
    assert!(!done);
    assert!(
        matches!(errors.as_slice(), [ProviderError::Server { .. }]),
        "{errors:?}"
    );
    s.server.push([
        Step::StreamError {
            reply: reply("one two three"),
            after_chunks: 1,
        },
        Step::Reply(reply("recovered")),
    ]);
    let a = s.provider.complete(request()).await.expect("answer");
    assert_eq!(a.text(), "recovered");
}

pub async fn slow_servers_time_out(t: Target) {
    let s = setup(t).await;
    s.server.push([
        Step::Delay(Duration::from_secs(3), reply("late")),
        Step::Delay(Duration::from_secs(3), reply("late")),
    ]);
    let p = provider(&s, |m| {
        m.timeout_s = 0.5;
        m.max_retries = 1;
    });
    // Both attempts end by the 0.5 s timeout, not by the answers the server sends after 3 s.
    let e = p.complete(request()).await.expect_err("timeout");
    assert!(matches!(e, ProviderError::Timeout { .. }), "{e:?}");
    assert_eq!(s.server.request_count(), 2, "a timeout is retried once");
    // First byte: a stream whose deltas come slowly fails the first-byte limit.
    s.server.push([Step::Slow {
        reply: reply("a b c"),
        pause: Duration::from_secs(2),
    }]);
    let p = provider(&s, |m| {
        m.first_byte_timeout_s = Some(0.3);
        m.max_retries = 0;
    });
    let e = p.complete(request()).await.expect_err("first byte");
    assert!(e.to_string().contains("first byte"), "{e}");
}

pub async fn several_choices(t: Target) {
    if t.protocol != Protocol::OpenAi {
        // Anthropic has no `n`; Gemini's candidateCount is checked in its codec tests.
        let s = setup(t).await;
        let e = s.provider.complete(request().with_n(2)).await;
        if t.protocol == Protocol::Anthropic {
            assert!(
                matches!(e, Err(ProviderError::InvalidRequest { .. })),
                "{e:?}"
            );
            assert_eq!(s.server.request_count(), 0, "refused before sending");
        }
        return;
    }
    let s = setup(t).await;
    s.server
        .push([Step::Reply(reply("same")), Step::Reply(reply("same"))]);
    let a = s
        .provider
        .complete(request().with_n(2))
        .await
        .expect("answer");
    assert_eq!(a.choices.len(), 2);
    assert!(a.choices.iter().all(|c| c.text == "same"));
    let w = provider(&s, |m| m.stream = false)
        .complete(request().with_n(2))
        .await
        .expect("answer");
    assert_eq!(w.choices.len(), 2);
}

pub async fn health_checks_reach_the_server(t: Target) {
    let s = setup(t).await;
    let h = s.provider.health().await.expect("health");
    assert!(h.ready, "{}", h.detail);
}

macro_rules! suite {
    ($($module:ident => $target:expr),* $(,)?) => {$(
        mod $module {
            suite!(@tests $target;
                answers_whole_and_streamed, streams_piece_by_piece, sends_the_protocol_s_request,
                constrains_json_output, reports_the_token_limit, rate_limits_wait_for_retry_after,
                server_errors_are_retried, retries_are_bounded, retry_budget_is_respected,
                client_errors_are_not_retried, a_refused_key_is_never_printed,
                unknown_models_are_named, dropped_connections_are_retried,
                truncated_streams_are_errors, malformed_json_is_an_error, error_events_mid_stream,
                slow_servers_time_out, several_choices, health_checks_reach_the_server);
        }
    )*};
    (@tests $target:expr; $($test:ident),*) => {$(
        #[tokio::test]
        async fn $test() {
            super::$test($target).await;
        }
    )*};
}

suite! {
    openai => crate::OPENAI,
    anthropic => crate::ANTHROPIC,
    gemini => crate::GEMINI,
    openai_compatible => crate::COMPATIBLE,
}

/// Provider-independent transport behaviour, checked once on the OpenAI protocol.
mod transport {
    use super::*;
    use crate::{OPENAI, model_config};

    #[tokio::test]
    async fn logprobs_come_back_whole_and_streamed() {
        for target in [OPENAI, crate::COMPATIBLE] {
            let s = setup(target).await;
            let scripted =
                Reply::text("").with_logprobs([("Par", -0.25), ("is", -0.5), (".", -1.0)]);
            s.server
                .push([Step::Reply(scripted.clone()), Step::Reply(scripted)]);
            let mut r = request();
            r.logprobs = Some(2);
            let streamed = s.provider.complete(r.clone()).await.expect("answer");
            let whole = provider(&s, |m| m.stream = false)
                .complete(r)
                .await
                .expect("answer");
            for answer in [&streamed, &whole] {
                assert_eq!(answer.text(), "Paris.");
                let tokens = answer.choices[0].logprobs.as_ref().expect("logprobs");
                let got: Vec<(&str, f64)> = tokens
                    .iter()
                    .map(|t| (t.token.as_str(), t.logprob))
                    .collect();
                assert_eq!(got, [("Par", -0.25), ("is", -0.5), (".", -1.0)]);
                assert!(tokens.iter().all(|t| t.top.len() == 2), "{tokens:?}");
            }
            let body = &s.server.requests()[0].body;
            assert_eq!(body["logprobs"], true);
            assert_eq!(body["top_logprobs"], 2);
        }
    }

    #[tokio::test]
    async fn an_unreachable_server_is_retried_then_reported() {
        // A port that was just free: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut m = model_config(OPENAI, &format!("http://127.0.0.1:{port}"));
        m.max_retries = 2;
        let p = rightfit_providers::HostedProvider::with_key(
            &m,
            Some(rightfit_config::Secret::new(KEY)),
        )
        .expect("provider");
        let e = p.complete(request()).await.expect_err("unreachable");
        let text = e.to_string();
        assert!(matches!(e, ProviderError::Unavailable { .. }), "{e:?}");
        assert!(text.contains("cannot connect"), "{text}");
        assert!(text.contains("gave up after 3 attempts"), "{text}");
    }

    #[tokio::test]
    async fn requests_per_minute_paces_a_burst() {
        let s = setup_with(OPENAI, |_| {}, |m| m.requests_per_minute = Some(60)).await;
        // The server counts every request a 60-a-minute API would refuse: a minute's allowance
        // (60) goes at once, and the 61st must wait for one second of refill.
        s.server.check_rate_limits(Some(60), None);
        for _ in 0..61 {
            s.provider.complete(request()).await.expect("answer");
        }
        assert_eq!(s.server.request_count(), 61);
        assert_eq!(s.server.too_soon(), 0, "a request was sent over the limit");
    }

    #[tokio::test]
    async fn tokens_per_minute_counts_what_was_used() {
        let s = setup_with(OPENAI, |_| {}, |m| m.tokens_per_minute = Some(600)).await;
        // The server counts every request a 600-tokens-a-minute API would refuse, charging what
        // each answer reports: 15 tokens (10 + 5) unless scripted otherwise.
        s.server.check_rate_limits(None, Some(600));
        // A request is estimated at prompt characters / 4 + max_tokens. This one, at a thousand
        // minutes' allowance, goes on the full bucket and leaves it about 600,000 tokens in debt
        // (16 hours of refill) until its real use (15) is settled. The 20 after it (estimated
        // at 6 + 64 = 70, using 15) go at once only if the unused tokens were given back: without
        // that they would wait hours, and the guard fails the test.
        let settled = async {
            s.provider
                .complete(request().with_max_tokens(600_000))
                .await
                .expect("answer");
            for _ in 0..20 {
                s.provider.complete(request()).await.expect("answer");
            }
        };
        tokio::time::timeout(Duration::from_secs(120), settled)
            .await
            .expect("unused tokens were not given back");
        // About 285 tokens are left (600 - 21 × 15, plus the refill so far). A request estimated
        // at 336, and using that many, must wait for the rest: sent at once, the server would
        // count it over the limit.
        s.server.push([Step::Reply(Reply {
            prompt_tokens: 6,
            completion_tokens: 330,
            ..Reply::text("a longer answer")
        })]);
        s.provider
            .complete(request().with_max_tokens(330))
            .await
            .expect("answer");
        assert_eq!(s.server.request_count(), 22);
        assert_eq!(s.server.too_soon(), 0, "a request was sent over the limit");
    }
}
