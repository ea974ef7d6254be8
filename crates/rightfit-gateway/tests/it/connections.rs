//! Connection limits over real sockets: slow headers and idle keep-alive connections are closed
//! after `header_timeout_s`, and one client address holds at most `max_connections_per_client`
//! connections (one more is answered 429 and closed; a freed place is taken again).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{Running, STUCK, component, eventually, model, start, upstream};

async fn gateway(limits: &str) -> (rightfit_testkit::TestServer, Running) {
    let up = upstream().await;
    let toml = format!(
        "{}{}\n[gateway]\nauth = \"none\"\nflush_ms = 20\n{limits}\n",
        model("big", &up, ""),
        component("triage", &["big"], "")
    );
    (up, start(&toml).await)
}

/// Reads until the server closes the connection; what it sent. Panics only if that never
/// happens (a guard against hanging, not a time bound).
async fn until_closed(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let read = tokio::time::timeout(STUCK, s.read_to_end(&mut got)).await;
    assert!(read.is_ok(), "the gateway kept the connection open");
    String::from_utf8_lossy(&got).into_owned()
}

const REQUEST: &str =
    "{\"model\":\"triage\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}";

fn post(keep_alive: bool) -> String {
    format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: {}\r\n\r\n{REQUEST}",
        REQUEST.len(),
        if keep_alive { "keep-alive" } else { "close" }
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_headers_and_idle_connections_are_closed() {
    let (up, g) = gateway("header_timeout_s = 0.5").await;
    // Headers started and never finished.
    let mut slow = TcpStream::connect(g.addr).await.expect("connect");
    slow.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n")
        .await
        .expect("write");
    let said = until_closed(&mut slow).await;
    assert!(!said.contains(" 200 "), "{said}");
    // A connection that never says anything.
    let mut silent = TcpStream::connect(g.addr).await.expect("connect");
    until_closed(&mut silent).await;
    // A keep-alive connection: answered, then closed once idle.
    let mut idle = TcpStream::connect(g.addr).await.expect("connect");
    idle.write_all(post(true).as_bytes()).await.expect("write");
    let said = until_closed(&mut idle).await;
    assert!(said.starts_with("HTTP/1.1 200"), "{said}");
    assert_eq!(up.request_count(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_holds_at_most_its_connections() {
    let (_up, g) = gateway("max_connections_per_client = 2").await;
    let first = TcpStream::connect(g.addr).await.expect("connect");
    let mut second = TcpStream::connect(g.addr).await.expect("connect");
    // The third is refused in OpenAI's error shape, and closed.
    let mut third = TcpStream::connect(g.addr).await.expect("connect");
    let said = until_closed(&mut third).await;
    assert!(said.starts_with("HTTP/1.1 429"), "{said}");
    assert!(said.contains("too_many_connections"), "{said}");
    // The two admitted ones work.
    second
        .write_all(post(false).as_bytes())
        .await
        .expect("write");
    let said = until_closed(&mut second).await;
    assert!(said.starts_with("HTTP/1.1 200"), "{said}");
    // Closing connections frees their places: a new one is served.
    drop(first);
    eventually("a freed place is taken again", || async {
        let Ok(mut s) = TcpStream::connect(g.addr).await else {
            return false;
        };
        if s.write_all(post(false).as_bytes()).await.is_err() {
            return false;
        }
        let mut got = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut got)).await;
        matches!(read, Ok(Ok(_))) && got.starts_with(b"HTTP/1.1 200")
    })
    .await;
}
