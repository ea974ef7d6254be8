//! Integration tests of the test servers: raw HTTP checks of each protocol, faults, quirks and
//! recording, conformance runs of the official Python SDKs against them (`sdk`), and the
//! headless-Chromium helper (`chromium`).

// Test helpers outside `#[test]` functions may unwrap too: a failure is a failed test.
#![allow(clippy::unwrap_used)]

mod anthropic;
mod chromium;
mod embeddings;
mod faults;
mod fuzz_config;
mod gemini;
mod openai;
mod sdk;

use std::time::Duration;

use rightfit_testkit::{Protocol, ServerConfig, TestServer};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A server for `protocol` knowing one model, `<protocol>-test`.
pub async fn server(protocol: Protocol) -> TestServer {
    let mut config = ServerConfig::new(protocol);
    config.models = vec![model(protocol).to_owned()];
    TestServer::start(config).await.unwrap()
}

pub fn model(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::OpenAi => "gpt-test",
        Protocol::Anthropic => "claude-test",
        Protocol::Gemini => "gemini-test",
    }
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// A valid generation request for the protocol: (path, headers, body).
pub fn request(protocol: Protocol, stream: bool) -> (String, Vec<(&'static str, String)>, Value) {
    match protocol {
        Protocol::OpenAi => (
            "/v1/chat/completions".to_owned(),
            vec![("authorization", "Bearer test-key".to_owned())],
            serde_json::json!({
                "model": "gpt-test",
                "messages": [{"role": "user", "content": "hi"}],
                "stream": stream
            }),
        ),
        Protocol::Anthropic => (
            "/v1/messages".to_owned(),
            vec![
                ("x-api-key", "test-key".to_owned()),
                ("anthropic-version", "2023-06-01".to_owned()),
            ],
            serde_json::json!({
                "model": "claude-test",
                "max_tokens": 64,
                "messages": [{"role": "user", "content": "hi"}],
                "stream": stream
            }),
        ),
        Protocol::Gemini => (
            if stream {
                "/v1beta/models/gemini-test:streamGenerateContent?alt=sse".to_owned()
            } else {
                "/v1beta/models/gemini-test:generateContent".to_owned()
            },
            vec![("x-goog-api-key", "test-key".to_owned())],
            serde_json::json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
        ),
    }
}

/// Sends the protocol's valid request (optionally changed) with reqwest.
pub async fn send(server: &TestServer, protocol: Protocol, stream: bool) -> reqwest::Response {
    let (path, headers, body) = request(protocol, stream);
    post(server, &path, &headers, &body).await
}

pub async fn post(
    server: &TestServer,
    path: &str,
    headers: &[(&str, String)],
    body: &Value,
) -> reqwest::Response {
    let mut builder = http()
        .post(format!("{}{path}", server.base_url()))
        .json(body);
    for (name, value) in headers {
        builder = builder.header(*name, value);
    }
    builder.send().await.unwrap()
}

/// One parsed SSE event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub name: Option<String>,
    pub data: String,
}

impl Event {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|e| panic!("event data is not JSON ({e}): {}", self.data))
    }
}

/// Splits an SSE body into events (blank-line separated, `\n` or `\r\n`), skipping comments.
pub fn events(body: &str) -> Vec<Event> {
    let normalized = body.replace("\r\n", "\n");
    normalized
        .split("\n\n")
        .filter_map(|block| {
            let mut name = None;
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    name = Some(v.to_owned());
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data.push(v);
                }
            }
            (!data.is_empty()).then(|| Event {
                name,
                data: data.join("\n"),
            })
        })
        .collect()
}

/// What a raw socket saw: every read, and whether the connection ended cleanly (EOF) or with
/// an error.
#[derive(Debug)]
pub struct Raw {
    pub reads: Vec<Vec<u8>>,
}

impl Raw {
    pub fn bytes(&self) -> Vec<u8> {
        self.reads.concat()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }

    /// The part after the response headers.
    pub fn body(&self) -> String {
        let text = self.text();
        text.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default()
    }
}

/// Sends the protocol's valid request over a raw socket with `Connection: close` and reads
/// until the server closes.
pub async fn raw(server: &TestServer, protocol: Protocol, stream: bool) -> Raw {
    let (path, headers, body) = request(protocol, stream);
    let body = serde_json::to_vec(&body).unwrap();
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        server.addr(),
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut socket = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(&body).await.unwrap();
    let mut reads = Vec::new();
    let mut buf = vec![0u8; 65536];
    loop {
        let read = tokio::time::timeout(Duration::from_secs(20), socket.read(&mut buf))
            .await
            .expect("the server neither answered nor closed within 20 s");
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) => reads.push(buf[..n].to_vec()),
        }
    }
    Raw { reads }
}

/// Decodes a chunked HTTP/1.1 body; `None` if it does not end with the terminating chunk.
pub fn dechunk(body: &str) -> (String, bool) {
    let mut out = String::new();
    let mut rest = body;
    loop {
        let Some((size, after)) = rest.split_once("\r\n") else {
            return (out, false);
        };
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            return (out, false);
        };
        if size == 0 {
            return (out, true);
        }
        if after.len() < size {
            out.push_str(after);
            return (out, false);
        }
        out.push_str(&after[..size]);
        rest = after[size..].strip_prefix("\r\n").unwrap_or("");
    }
}
