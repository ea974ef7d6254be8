//! Faults: an upstream that fails, times out, drops the connection or cuts its stream; a client
//! that goes away mid-stream; a shutdown under load.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use rightfit_testkit::{Reply, Step};
use serde_json::{Value, json};

use crate::routing::sse;
use crate::support::{chat, client, component, eventually, model, start, upstream};

fn two(
    serve: &str,
    big: &rightfit_testkit::TestServer,
    small: &rightfit_testkit::TestServer,
) -> String {
    format!(
        "{}{}{}",
        model("big", big, ""),
        model("small", small, ""),
        component("triage", &["big", "small"], serve)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_drops_and_timeouts_fall_back_in_order() {
    let big = upstream().await;
    let small = upstream().await;
    big.push([
        Step::Status(500),
        Step::Drop,
        Step::Delay(Duration::from_secs(3), Reply::text("too late")),
    ]);
    small.push([
        Step::Reply(Reply::text("billing")),
        Step::Reply(Reply::text("account")),
        Step::Reply(Reply::text("technical")),
    ]);
    let mut g = start(&two(
        "candidate = \"big\"\nfallback = [\"small\"]\ntimeout_s = 0.5",
        &big,
        &small,
    ))
    .await;
    let http = client();
    let mut answers = Vec::new();
    for _ in 0..3 {
        let r: Value = http
            .post(g.url("/v1/chat/completions"))
            .json(&chat("triage", "Hi"))
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json");
        answers.push(
            r["choices"][0]["message"]["content"]
                .as_str()
                .expect("answer")
                .to_owned(),
        );
    }
    assert_eq!(answers, ["billing", "account", "technical"]);
    g.stop().await;
    let records = g.records().await;
    assert_eq!(records.len(), 3);
    for r in &records {
        assert_eq!(
            (r.route.as_str(), r.candidate.as_str(), r.status),
            ("fallback", "small", 200),
            "{r:#?}"
        );
        assert_eq!(r.steps[0].kind, "attempt");
        assert_eq!(r.steps[0].by, "big");
        assert!(r.steps[0].error.is_some());
    }
    // The timed-out attempt was given up after about 0.5 s.
    let timed_out = &records[2].steps[0];
    assert!(
        timed_out.latency_ms >= 450.0 && timed_out.latency_ms < 2_500.0,
        "{timed_out:?}"
    );
    assert!(
        timed_out.error.as_deref().unwrap_or("").contains("0.5 s"),
        "{timed_out:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_fallback_the_client_gets_a_clean_error_and_no_upstream_internals() {
    let big = upstream().await;
    let small = upstream().await;
    big.push([
        Step::Status(401),
        Step::Delay(Duration::from_secs(5), Reply::text("late")),
    ]);
    // A timeout long enough that the first request (the 401) cannot pass it on a loaded machine.
    let mut g = start(&two("candidate = \"big\"\ntimeout_s = 1.5", &big, &small)).await;
    let http = client();
    // The upstream refused our credentials: 502, not 401 (the client's key is fine), and the
    // upstream's message (which echoes part of the key) does not reach the client.
    let r = http
        .post(g.url("/v1/chat/completions"))
        .json(&chat("triage", "Hi"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 502);
    let body: Value = r.json().await.expect("json");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(
        !message.contains("Incorrect API key") && !message.contains(&big.base_url()),
        "{message}"
    );
    let r = http
        .post(g.url("/v1/chat/completions"))
        .json(&chat("triage", "Hi"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 504);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["type"], "server_error", "{body}");
    g.stop().await;
    let records = g.records().await;
    let mut statuses: Vec<u16> = records.iter().map(|r| r.status).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [502, 504], "{records:#?}");
    assert!(
        records
            .iter()
            .all(|r| r.error.is_some() && r.output.is_none())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_cut_before_its_first_event_falls_back_and_one_cut_later_ends_with_an_error_event()
{
    let big = upstream().await;
    let small = upstream().await;
    big.push([
        Step::Truncate {
            reply: Reply::text("a b c d"),
            after_chunks: 0,
        },
        Step::Truncate {
            reply: Reply::text("a b c d"),
            after_chunks: 2,
        },
    ]);
    small.push([Step::Reply(Reply::text("from the fallback"))]);
    let mut g = start(&two(
        "candidate = \"big\"\nfallback = [\"small\"]",
        &big,
        &small,
    ))
    .await;
    let http = client();
    let mut body = chat("triage", "Hi");
    body["stream"] = json!(true);
    let text = http
        .post(g.url("/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("body");
    let (data, _) = sse(&text);
    let streamed: String = data
        .iter()
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|c| {
            c["choices"]
                .get(0)
                .and_then(|ch| ch["delta"]["content"].as_str().map(str::to_owned))
        })
        .collect();
    assert_eq!(streamed, "from the fallback", "{text}");
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    // Cut after two deltas: they reach the client, then an error event, and no [DONE].
    let text = http
        .post(g.url("/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("body");
    let (data, _) = sse(&text);
    assert!(data.iter().all(|d| d != "[DONE]"), "{text}");
    let last: Value = serde_json::from_str(data.last().expect("events")).expect("json");
    assert!(last["error"]["message"].is_string(), "{text}");
    g.stop().await;
    let records = g.records().await;
    assert_eq!(records[0].route, "fallback");
    assert_eq!(records[1].status, 502);
    assert_eq!(
        records[1].output.as_deref(),
        Some("a b "),
        "{:#?}",
        records[1]
    );
}

/// An OpenAI-protocol upstream that streams a delta every 50 ms and never ends by itself, and
/// notes when the gateway stops reading (drops the connection): then, and only then, it stops.
async fn endless_upstream() -> (String, Arc<AtomicBool>) {
    use axum::response::IntoResponse;
    let dropped = Arc::new(AtomicBool::new(false));
    struct Guard(Arc<AtomicBool>);
    impl Drop for Guard {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let d = dropped.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move || {
            let guard = Guard(d.clone());
            async move {
                let body = futures::stream::unfold(guard, |guard| async move {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    let chunk = json!({"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
                        "choices": [{"index": 0, "delta": {"content": "tok "}, "finish_reason": null}]});
                    Some((Ok::<_, std::convert::Infallible>(format!("data: {chunk}\n\n")), guard))
                });
                ([("content-type", "text/event-stream")], axum::body::Body::from_stream(body)).into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, dropped)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_goes_away_mid_stream_cancels_the_upstream() {
    let (url, dropped) = endless_upstream().await;
    let toml = format!(
        r#"
[models.slow]
provider = "openai-compatible"
base_url = "{url}/v1"
model = "slow"
max_retries = 0
timeout_s = 3600
{}"#,
        component("triage", &["slow"], "")
    );
    let mut g = start(&toml).await;
    let mut body = chat("triage", "Hi");
    body["stream"] = json!(true);
    let r = client()
        .post(g.url("/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .expect("send");
    let mut stream = r.bytes_stream();
    // Read a few deltas, then hang up.
    let mut got = 0;
    while got < 3 {
        let chunk = stream.next().await.expect("more").expect("bytes");
        got += String::from_utf8_lossy(&chunk).matches("tok ").count();
    }
    // A stream counts as in flight until it ends, not until its headers are sent.
    assert!(
        g.app
            .metrics
            .render()
            .contains("rightfit_requests_in_flight 1"),
        "{}",
        g.app.metrics.render()
    );
    drop(stream);
    // The upstream never ends its stream (nor, within the hour of timeout_s, does the gateway's
    // timeout): its connection is dropped only if the client's leaving cancelled it.
    let dropped = &dropped;
    eventually(
        "the upstream kept streaming after the client left",
        || async move { dropped.load(Ordering::SeqCst) },
    )
    .await;
    g.stop().await;
    let records = g.records().await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].status, 499, "{:#?}", records[0]);
    assert!(
        records[0]
            .output
            .as_deref()
            .unwrap_or("")
            .starts_with("tok tok tok")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_graceful_shutdown_under_load_loses_no_record() {
    let up = upstream().await;
    // Every answer takes 200 ms, so many are in flight when the shutdown starts.
    let mut config_reply = Vec::new();
    for _ in 0..400 {
        config_reply.push(Step::Delay(
            Duration::from_millis(200),
            Reply::text("billing"),
        ));
    }
    up.push(config_reply);
    let mut g = start(&format!(
        "{}{}",
        model("big", &up, "concurrency = 512"),
        component("triage", &["big"], "")
    ))
    .await;
    let http = client();
    let url = g.url("/v1/chat/completions");
    let mut tasks = Vec::new();
    for i in 0..300 {
        let http = http.clone();
        let url = url.clone();
        let mut body = chat("triage", &format!("request {i}"));
        if i % 3 == 0 {
            body["stream"] = json!(true);
        }
        tasks.push(tokio::spawn(async move {
            match http.post(&url).json(&body).send().await {
                Ok(r) if r.status() == 200 => r.text().await.is_ok_and(|t| t.contains("billing")),
                _ => false,
            }
        }));
    }
    // Let the requests arrive, then stop while they are being answered.
    while g
        .app
        .metrics
        .render()
        .contains("rightfit_requests_in_flight 0")
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    g.stop().await;
    let mut answered = 0;
    for t in tasks {
        answered += usize::from(t.await.expect("task"));
    }
    let records = g.records().await;
    let ok = records.iter().filter(|r| r.status == 200).count();
    assert!(answered > 0, "nothing was answered");
    assert_eq!(
        ok,
        answered,
        "answered {answered}, stored {ok} ({} records)",
        records.len()
    );
}
