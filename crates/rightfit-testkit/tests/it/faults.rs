//! Scripted faults, script order, recording and shutdown, across protocols.

use std::time::{Duration, Instant};

use rightfit_testkit::{Protocol, Reply, Step};
use serde_json::{Value, json};

use crate::{dechunk, events, raw, send, server};

const ALL: [Protocol; 3] = [Protocol::OpenAi, Protocol::Anthropic, Protocol::Gemini];

#[tokio::test]
async fn script_is_fifo_across_connections_then_default() {
    let server = server(Protocol::OpenAi).await;
    server.push([Step::Reply(Reply::text("first")), Step::Status(503)]);
    server.push([Step::Reply(Reply::text("third"))]);
    let mut answers = Vec::new();
    for _ in 0..4 {
        // A fresh client each time: a new connection per request.
        let response = send(&server, Protocol::OpenAi, false).await;
        let status = response.status().as_u16();
        let v: Value = response.json().await.unwrap();
        answers.push((
            status,
            v["choices"][0]["message"]["content"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        ));
    }
    assert_eq!(
        answers,
        [
            (200, "first".to_owned()),
            (503, String::new()),
            (200, "third".to_owned()),
            (200, "Hello from the test server.".to_owned())
        ]
    );
}

#[tokio::test]
async fn delay_and_slow_wait_before_answering() {
    for protocol in ALL {
        let server = server(protocol).await;
        let reply = Reply::text("a b c d");
        server.push([
            Step::Delay(Duration::from_millis(150), reply.clone()),
            Step::Slow {
                reply: reply.clone(),
                pause: Duration::from_millis(40),
            },
            Step::Slow {
                reply,
                pause: Duration::from_millis(40),
            },
        ]);
        let started = Instant::now();
        assert_eq!(send(&server, protocol, false).await.status(), 200);
        assert!(started.elapsed() >= Duration::from_millis(150));

        let started = Instant::now();
        let text = send(&server, protocol, true).await.text().await.unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(160),
            "{protocol:?}"
        );
        assert!(text.contains('d'));

        let started = Instant::now();
        assert_eq!(send(&server, protocol, false).await.status(), 200);
        assert!(
            started.elapsed() >= Duration::from_millis(160),
            "{protocol:?}"
        );
    }
}

#[tokio::test]
async fn requests_before_retry_after_or_over_a_limit_are_counted_too_soon() {
    for protocol in ALL {
        let server = server(protocol).await;
        server.push([Step::RateLimited {
            retry_after_s: Some(3600),
        }]);
        assert_eq!(send(&server, protocol, false).await.status(), 429);
        assert_eq!(server.too_soon(), 0);
        // Within the hour the 429 asked for: too soon, yet answered as the script says.
        assert_eq!(send(&server, protocol, false).await.status(), 200);
        assert_eq!(server.too_soon(), 1);

        let limited = self::server(protocol).await;
        limited.check_rate_limits(Some(1), None);
        assert_eq!(send(&limited, protocol, false).await.status(), 200);
        assert_eq!(limited.too_soon(), 0);
        assert_eq!(send(&limited, protocol, true).await.status(), 200);
        assert_eq!(
            limited.too_soon(),
            1,
            "{protocol:?}: the second in a minute"
        );
    }
}

#[tokio::test]
async fn tokens_are_charged_as_the_answer_reports_them() {
    let server = server(Protocol::OpenAi).await;
    server.check_rate_limits(None, Some(100));
    server.push([
        Step::Reply(Reply {
            prompt_tokens: 60,
            completion_tokens: 30,
            ..Reply::text("ninety")
        }),
        Step::Reply(Reply {
            prompt_tokens: 5,
            completion_tokens: 5,
            ..Reply::text("ten")
        }),
        Step::Reply(Reply {
            prompt_tokens: 1,
            completion_tokens: 0,
            ..Reply::text("one more")
        }),
    ]);
    for _ in 0..2 {
        assert_eq!(send(&server, Protocol::OpenAi, false).await.status(), 200);
    }
    assert_eq!(server.too_soon(), 0, "90 + 10 tokens fit in 100");
    assert_eq!(send(&server, Protocol::OpenAi, false).await.status(), 200);
    assert_eq!(server.too_soon(), 1, "the 101st token in the minute");
}

#[tokio::test]
async fn a_held_request_is_answered_only_once_released() {
    let server = std::sync::Arc::new(server(Protocol::OpenAi).await);
    let held = server.hold();
    let answer = tokio::spawn({
        let server = server.clone();
        async move { send(&server, Protocol::OpenAi, false).await.status() }
    });
    while server.request_count() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Arrived and recorded; held, it cannot have been answered.
    assert_eq!(server.requests().len(), 1);
    assert!(!answer.is_finished());
    held.release();
    assert_eq!(answer.await.unwrap(), 200);
}

#[tokio::test]
async fn drop_closes_without_a_response() {
    for protocol in ALL {
        let server = server(protocol).await;
        server.push([Step::Drop]);
        let raw = raw(&server, protocol, false).await;
        assert!(raw.bytes().is_empty(), "{protocol:?}: {}", raw.text());
        assert_eq!(server.request_count(), 1);
    }
}

#[tokio::test]
async fn drop_is_a_reqwest_error() {
    let server = server(Protocol::OpenAi).await;
    server.push([Step::Drop]);
    let (path, headers, body) = crate::request(Protocol::OpenAi, false);
    let mut builder = crate::http()
        .post(format!("{}{path}", server.base_url()))
        .json(&body);
    for (k, v) in headers {
        builder = builder.header(k, v);
    }
    let error = builder.send().await.unwrap_err();
    assert!(!error.is_status() && !error.is_timeout(), "{error:?}");
}

#[tokio::test]
async fn truncated_streams_stop_without_end_marker() {
    let ends = [
        (Protocol::OpenAi, "[DONE]"),
        (Protocol::Anthropic, "message_stop"),
        (Protocol::Gemini, "finishReason"),
    ];
    for (protocol, end) in ends {
        let server = server(protocol).await;
        server.push([Step::Truncate {
            reply: Reply::text("w1 w2 w3 w4"),
            after_chunks: 2,
        }]);
        let raw = raw(&server, protocol, true).await;
        assert!(raw.text().starts_with("HTTP/1.1 200"), "{protocol:?}");
        let (body, complete) = dechunk(&raw.body());
        assert!(
            !complete,
            "{protocol:?}: the chunked body was ended properly"
        );
        assert!(
            body.contains("w1 ") && body.contains("w2 "),
            "{protocol:?}: {body}"
        );
        assert!(!body.contains("w3"), "{protocol:?}: {body}");
        assert!(!body.contains(end), "{protocol:?}: {body}");
    }
}

#[tokio::test]
async fn truncated_bodies_are_shorter_than_announced() {
    for protocol in ALL {
        let server = server(protocol).await;
        server.push([Step::Truncate {
            reply: Reply::text("w1 w2 w3 w4"),
            after_chunks: 1,
        }]);
        let raw = raw(&server, protocol, false).await;
        let text = raw.text();
        let length: usize = text
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let body = raw.body();
        assert!(body.len() < length, "{protocol:?}: {body}");
        assert!(body.ends_with("w1 "), "{protocol:?}: {body}");
        assert!(serde_json::from_str::<Value>(&body).is_err());
    }
}

#[tokio::test]
async fn malformed_json_and_stream_errors() {
    for protocol in ALL {
        let server = server(protocol).await;
        server.push([
            Step::MalformedJson,
            Step::MalformedJson,
            Step::StreamError {
                reply: Reply::text("alpha zulu"),
                after_chunks: 1,
            },
            Step::StreamError {
                reply: Reply::text("alpha zulu"),
                after_chunks: 1,
            },
        ]);
        let response = send(&server, protocol, false).await;
        assert_eq!(response.status(), 200);
        assert!(serde_json::from_str::<Value>(&response.text().await.unwrap()).is_err());

        let text = send(&server, protocol, true).await.text().await.unwrap();
        let malformed = events(&text);
        assert_eq!(malformed.len(), 1, "{text}");
        assert!(serde_json::from_str::<Value>(&malformed[0].data).is_err());

        assert_eq!(send(&server, protocol, false).await.status(), 500);

        let text = send(&server, protocol, true).await.text().await.unwrap();
        let events = events(&text);
        let error = events.last().unwrap().json();
        match protocol {
            Protocol::OpenAi => assert_eq!(error["error"]["type"], "server_error"),
            Protocol::Anthropic => assert_eq!(error["error"]["type"], "overloaded_error"),
            Protocol::Gemini => assert_eq!(error["error"]["status"], "INTERNAL"),
        }
        assert!(
            text.contains("alpha ") && !text.contains("zulu"),
            "{protocol:?}: {text}"
        );
    }
}

#[tokio::test]
async fn every_request_is_recorded_as_it_arrived() {
    let server = server(Protocol::Gemini).await;
    server.push([Step::Status(500)]);
    let client = crate::http();
    let url = format!(
        "{}/v1beta/models/gemini-test:generateContent?key=test-key",
        server.base_url()
    );
    client
        .post(&url)
        .header("X-Custom", "Yes")
        .json(&json!({"contents": []}))
        .send()
        .await
        .unwrap();
    client
        .post(format!(
            "{}/v1beta/models/gemini-test:generateContent?key=bad",
            server.base_url()
        ))
        .body("not json")
        .send()
        .await
        .unwrap();
    client
        .get(format!("{}/nowhere", server.base_url()))
        .send()
        .await
        .unwrap();
    let recorded = server.requests();
    assert_eq!(server.request_count(), 3);
    assert_eq!(recorded.len(), 3);
    assert_eq!(recorded[0].method, "POST");
    assert_eq!(
        recorded[0].path,
        "/v1beta/models/gemini-test:generateContent"
    );
    assert_eq!(recorded[0].query.as_deref(), Some("key=test-key"));
    assert_eq!(recorded[0].header("x-custom"), Some("Yes"));
    assert_eq!(recorded[0].header("X-CUSTOM"), Some("Yes"));
    assert!(
        recorded[0]
            .headers
            .iter()
            .all(|(k, _)| *k == k.to_ascii_lowercase())
    );
    assert_eq!(recorded[0].body, json!({"contents": []}));
    assert_eq!(recorded[1].body, Value::Null);
    assert_eq!(recorded[2].method, "GET");
    assert_eq!(recorded[2].query, None);

    server.set_recording(false);
    send(&server, Protocol::Gemini, false).await;
    assert_eq!(server.requests().len(), 3);
    assert_eq!(server.request_count(), 4);
}

#[tokio::test]
async fn dropping_the_server_stops_it() {
    let server = server(Protocol::OpenAi).await;
    let addr = server.addr();
    assert_eq!(send(&server, Protocol::OpenAi, false).await.status(), 200);
    drop(server);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn the_binary_prints_its_url_and_serves() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rightfit-testkit"))
        .args([
            "serve",
            "--protocol",
            "anthropic",
            "--port",
            "0",
            "--text",
            "from the binary",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line.trim().to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let (path, headers, body) = crate::request(Protocol::Anthropic, false);
    let mut builder = crate::http().post(format!("{base}{path}")).json(&body);
    for (k, v) in headers {
        builder = builder.header(k, v);
    }
    let v: Value = builder.send().await.unwrap().json().await.unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(v["content"][0]["text"], "from the binary");
}
