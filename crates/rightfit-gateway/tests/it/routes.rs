//! The router driven in-process (no sockets): validation, errors in each API's shape, keys,
//! limits, listings, health and metrics.

use axum::body::Body;
use http::{Request, StatusCode};
use rightfit_store::{TrafficStore, new_key};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support::{Running, chat, component, eventually, model, start, upstream};

async fn call(g: &Running, req: Request<Body>) -> (StatusCode, http::HeaderMap, Value) {
    let response = g.gateway_router.clone().oneshot(req).await.expect("router");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, headers, body)
}

fn post(path: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/json")
        .body(body.into())
        .expect("request")
}

fn post_json(path: &str, body: &Value) -> Request<Body> {
    post(path, body.to_string())
}

async fn gateway(extra: &str) -> (rightfit_testkit::TestServer, Running) {
    let up = upstream().await;
    let toml = format!(
        "{}{}{extra}",
        model("big", &up, ""),
        component("triage", &["big"], "")
    );
    let g = start(&toml).await;
    (up, g)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_component_and_a_model_answer_in_openai_shape() {
    let (up, g) = gateway("").await;
    for name in ["triage", "big"] {
        let (status, _, body) =
            call(&g, post_json("/v1/chat/completions", &chat(name, "Hi"))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["object"], "chat.completion");
        assert_eq!(body["model"], name);
        assert_eq!(
            body["choices"][0]["message"]["content"],
            "Hello from the test server."
        );
        assert_eq!(body["usage"]["prompt_tokens"], 10);
        assert_eq!(body["usage"]["total_tokens"], 15);
    }
    // The upstream got the model id of the configured model, not the component's name.
    let sent = up.requests();
    assert_eq!(sent.len(), 2);
    assert!(
        sent.iter().all(|r| r.body["model"] == "big-model"),
        "{sent:?}"
    );
    let records = g.wait_records(2).await;
    let routes: Vec<(&str, &str)> = records
        .iter()
        .map(|r| (r.route.as_str(), r.candidate.as_str()))
        .collect();
    assert!(
        routes.contains(&("pinned", "big")) && routes.contains(&("direct", "big")),
        "{routes:?}"
    );
    let served = records
        .iter()
        .find(|r| r.route == "pinned")
        .expect("pinned");
    assert_eq!(served.component.as_deref(), Some("triage"));
    assert_eq!(
        served.output.as_deref(),
        Some("Hello from the test server.")
    );
    assert_eq!(served.input["messages"][0]["content"], "Hi");
    // 10 prompt tokens at $1/M and 5 completion tokens at $2/M.
    let cost = served.cost_usd.expect("priced");
    assert!((cost - 20e-6).abs() < 1e-12, "{cost}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_errors_in_each_apis_shape() {
    let (up, g) = gateway("").await;
    let (status, _, body) = call(&g, post("/v1/chat/completions", "{not json")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    let (status, _, body) = call(
        &g,
        post_json(
            "/v1/chat/completions",
            &json!({"model": "triage", "messages": []}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["param"], "messages", "{body}");
    let (status, _, body) = call(
        &g,
        post_json(
            "/v1/chat/completions",
            &json!({"model": "triage", "messages": [{"role": "user", "content": "x"}], "temperature": 7}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["param"], "temperature", "{body}");
    // Anthropic: max_tokens is required, and the error is Anthropic's shape.
    let (status, _, body) = call(
        &g,
        post_json(
            "/v1/messages",
            &json!({"model": "triage", "messages": [{"role": "user", "content": "x"}]}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    // Unknown model: 404 naming what can be served.
    let (status, _, body) = call(&g, post_json("/v1/chat/completions", &chat("gpt-5", "x"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "model_not_found");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("triage") && message.contains("big"),
        "{message}"
    );
    // Unknown path.
    let (status, _, body) = call(&g, post_json("/v1/completions", &json!({}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"]["message"].as_str().is_some(), "{body}");
    // None of these reached the upstream.
    assert_eq!(up.request_count(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_over_the_limit_is_refused_with_413() {
    let (up, g) = gateway("\n[gateway]\nauth = \"none\"\nbody_limit_kb = 1\nflush_ms = 20\n").await;
    let big = "x".repeat(2_000);
    let (status, _, body) =
        call(&g, post_json("/v1/chat/completions", &chat("triage", &big))).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .contains("1 KiB"),
        "{body}"
    );
    // Without a content length (a chunked body), too.
    let chunks = futures::stream::iter(vec![Ok::<_, std::io::Error>(
        chat("triage", &big).to_string(),
    )]);
    let req = Request::post("/v1/chat/completions")
        .body(Body::from_stream(chunks))
        .expect("request");
    let (status, _, _) = call(&g, req).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, _, _) = call(
        &g,
        post_json("/v1/chat/completions", &chat("triage", "short")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(up.request_count(), 1);
}

/// A chat body `levels` deep in all, through an extra field (`"metadata": {"x": {"x": ... 1}}`),
/// written as text: serde_json would recurse to serialise a deep value.
fn nested_body(levels: usize) -> String {
    let mut body = chat("triage", "Hi").to_string();
    body.pop();
    body.push_str(&format!(
        r#","metadata":{}1{}}}"#,
        r#"{"x":"#.repeat(levels - 1),
        "}".repeat(levels - 1)
    ));
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_nest_at_most_32_levels_and_what_is_stored_reads_back() {
    let (up, g) = gateway("").await;
    // 126 levels (the issue's example): parsed by serde_json, refused by the depth rule, as is
    // one level past the rule; nothing is sent upstream or stored.
    for levels in [126, 33] {
        let (status, _, body) = call(&g, post("/v1/chat/completions", nested_body(levels))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let message = body["error"]["message"].as_str().expect("message");
        assert!(
            message.contains(&format!("nests {levels} levels deep")),
            "{message}"
        );
        assert!(message.contains("at most 32"), "{message}");
    }
    // 200 levels: past serde_json's own limit, refused as unparseable.
    let (status, _, _) = call(&g, post("/v1/chat/completions", nested_body(200))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(up.request_count(), 0);
    // The deepest accepted body (32 levels, 31 of them in the field) is answered, stored, and
    // every reader gets it back whole.
    let (status, _, body) = call(&g, post("/v1/chat/completions", nested_body(32))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let records = g.wait_records(1).await;
    assert_eq!(records.len(), 1);
    let stored = &records[0].input["params"]["metadata"];
    assert_eq!(rightfit_types::json_depth(stored), 31);
    let all = g
        .store
        .traffic(&rightfit_types::TrafficFilter::default())
        .await
        .expect("read back");
    assert_eq!(all, records);
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_are_required_limited_budgeted_and_revocable() {
    let up = upstream().await;
    let toml = format!(
        "{}{}\n[gateway]\nauth = \"keys\"\nflush_ms = 20\n",
        model("big", &up, ""),
        component("triage", &["big"], "")
    );
    let (dir, file) = crate::support::project_dir(&toml);
    let store = std::sync::Arc::new(
        rightfit_store::SqliteStore::open(&dir.path().join("traffic.db"))
            .await
            .expect("store"),
    );
    let limited =
        new_key("limited", Some(2), None, "2026-11-30T00:00:00.000Z".into()).expect("key");
    let budgeted = new_key(
        "budgeted",
        None,
        Some(0.00003),
        "2026-11-30T00:00:00.000Z".into(),
    )
    .expect("key");
    store.put_key(&limited.key).await.expect("put");
    store.put_key(&budgeted.key).await.expect("put");
    let project = rightfit_config::project::Project::load(&file).expect("project");
    let g = crate::support::start_with(dir, file, project, store.clone()).await;
    let with = |key: &str, body: &Value| {
        Request::post("/v1/chat/completions")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {key}"))
            .body(Body::from(body.to_string()))
            .expect("request")
    };
    let body = chat("triage", "Hi");
    // No key, a wrong key.
    let (status, _, e) = call(&g, post_json("/v1/chat/completions", &body)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .expect("m")
            .contains("rightfit keys create"),
        "{e}"
    );
    let (status, _, _) = call(&g, with("rf-not-a-key", &body)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Liveness needs no key and tells nothing; the detail needs one.
    let get = |path: &str, key: Option<&str>| {
        let mut r = Request::get(path);
        if let Some(k) = key {
            r = r.header("authorization", format!("Bearer {k}"));
        }
        r.body(Body::empty()).expect("request")
    };
    let (status, _, h) = call(&g, get("/health", None)).await;
    assert_eq!((status, h), (StatusCode::OK, json!({"status": "ok"})));
    let (status, _, h) = call(&g, get("/health/ready", None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{h}");
    assert!(h.get("models").is_none(), "{h}");
    let (status, _, h) = call(&g, get("/health/ready", Some(budgeted.secret.expose()))).await;
    assert_eq!(status, StatusCode::OK, "{h}");
    assert!(h["models"]["big"]["ready"].is_boolean(), "{h}");
    // Anthropic clients send x-api-key.
    let req = Request::post("/v1/messages")
        .header("x-api-key", limited.secret.expose())
        .body(Body::from(json!({"model": "triage", "max_tokens": 8, "messages": [{"role": "user", "content": "Hi"}]}).to_string()))
        .expect("request");
    let (status, _, m) = call(&g, req).await;
    assert_eq!(status, StatusCode::OK, "{m}");
    assert_eq!(m["content"][0]["text"], "Hello from the test server.");
    // Two per minute: the second passes, the third is limited with a Retry-After.
    let (status, _, _) = call(&g, with(limited.secret.expose(), &body)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, headers, e) = call(&g, with(limited.secret.expose(), &body)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{e}");
    assert!(headers.get("retry-after").is_some());
    // $0.00003 budget: one request costs $0.00002, so the second passes and the third is refused.
    for expected in [
        StatusCode::OK,
        StatusCode::OK,
        StatusCode::TOO_MANY_REQUESTS,
    ] {
        let (status, _, e) = call(&g, with(budgeted.secret.expose(), &body)).await;
        assert_eq!(status, expected, "{e}");
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(e["error"]["code"], "insufficient_quota", "{e}");
        }
    }
    // Records carry the key's id, never the secret; spend reaches the store.
    let records = g.wait_records(4).await;
    assert!(records.iter().all(|r| r.key_id.is_some()));
    let dump = serde_json::to_string(&records).expect("json");
    assert!(!dump.contains(limited.secret.expose()) && !dump.contains(budgeted.secret.expose()));
    let the_store = &store;
    eventually("the spend never reached the store", || async move {
        let keys = the_store.keys().await.expect("keys");
        keys.iter()
            .any(|k| k.name == "budgeted" && k.spent_usd > 3.9e-5)
    })
    .await;
    let spent = store
        .keys()
        .await
        .expect("keys")
        .into_iter()
        .find(|k| k.name == "budgeted")
        .expect("key")
        .spent_usd;
    assert!((spent - 4e-5).abs() < 1e-9, "{spent}");
    // A key without a budget has its spend added by the traffic writer once its records are
    // stored: two answered requests (the third was limited).
    eventually(
        "the unbudgeted key's spend never reached the store",
        || async move {
            let keys = the_store.keys().await.expect("keys");
            keys.iter()
                .any(|k| k.name == "limited" && (k.spent_usd - 4e-5).abs() < 1e-9)
        },
    )
    .await;
    // Revoked in the store: refused after the next refresh (2 s).
    let other = new_key("other", None, None, "2026-11-30T00:00:00.000Z".into()).expect("key");
    store.put_key(&other.key).await.expect("put");
    let (g, with, body, secret) = (&g, &with, &body, other.secret.expose());
    // Refreshes come every REFRESH; whenever the next one is, the key works after it.
    eventually(
        "a key made while serving never worked after a refresh",
        || async move { call(g, with(secret, body)).await.0 == StatusCode::OK },
    )
    .await;
    assert!(store.revoke_key("other").await.expect("revoke"));
    eventually(
        "a key revoked while serving was still let in after a refresh",
        || async move { call(g, with(secret, body)).await.0 == StatusCode::UNAUTHORIZED },
    )
    .await;
    drop(up);
}

#[tokio::test(flavor = "multi_thread")]
async fn models_health_and_metrics() {
    let (_up, g) = gateway("").await;
    let req = Request::get("/v1/models")
        .body(Body::empty())
        .expect("request");
    let (status, _, body) = call(&g, req).await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = body["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert_eq!(ids, ["triage", "big"]);
    // Liveness says nothing internal; readiness has the detail.
    let req = Request::get("/health")
        .body(Body::empty())
        .expect("request");
    let (status, _, body) = call(&g, req).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"status": "ok"}));
    let req = Request::get("/health/ready")
        .body(Body::empty())
        .expect("request");
    let (status, _, body) = call(&g, req).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["models"]["big"]["ready"], true, "{body}");
    call(&g, post_json("/v1/chat/completions", &chat("triage", "Hi"))).await;
    call(&g, post_json("/v1/chat/completions", &chat("nope", "Hi"))).await;
    let req = Request::get("/metrics")
        .body(Body::empty())
        .expect("request");
    let (status, headers, body) = call(&g, req).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .expect("ct")
            .starts_with("text/plain; version=0.0.4")
    );
    let text = body.as_str().expect("text");
    assert!(
        text.contains(r#"rightfit_requests_total{component="triage",candidate="big",route="pinned",status="200"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"rightfit_tokens_total{component="triage",candidate="big",direction="in"} 10"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"status="404"} 1"#), "{text}");
    assert!(
        text.contains("rightfit_request_duration_seconds_bucket{"),
        "{text}"
    );
}
