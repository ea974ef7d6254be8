//! A served gateway over real sockets: streaming in both APIs, sticky splits, shadows scored
//! against the answer, strategies and cascades run on the client's conversation, reloads.

use std::collections::BTreeMap;
use std::time::Duration;

use rightfit_testkit::{Reply, Step};
use serde_json::{Value, json};

use crate::support::{chat, client, component, eventually, model, start, upstream};

/// The `data:` payloads of an SSE body, and the `event:` names (Anthropic).
pub fn sse(body: &str) -> (Vec<String>, Vec<String>) {
    let mut data = Vec::new();
    let mut events = Vec::new();
    for line in body.lines() {
        if let Some(d) = line.strip_prefix("data: ") {
            data.push(d.to_owned());
        } else if let Some(e) = line.strip_prefix("event: ") {
            events.push(e.to_owned());
        }
    }
    (data, events)
}

#[tokio::test(flavor = "multi_thread")]
async fn streams_in_both_apis_with_usage_and_a_record() {
    let up = upstream().await;
    up.push([
        Step::Reply(Reply::text("one two three")),
        Step::Reply(Reply::text("four five")),
    ]);
    let mut g = start(&format!(
        "{}{}",
        model("big", &up, ""),
        component("triage", &["big"], "")
    ))
    .await;
    let http = client();
    let mut body = chat("triage", "Hi");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let r = http
        .post(g.url("/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let text = r.text().await.expect("body");
    let (data, _) = sse(&text);
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{text}");
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).expect("chunk"))
        .collect();
    let streamed: String = chunks
        .iter()
        .filter_map(|c| {
            c["choices"]
                .get(0)
                .and_then(|ch| ch["delta"]["content"].as_str())
        })
        .collect();
    assert_eq!(streamed, "one two three");
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert!(chunks.iter().any(|c| {
        c["choices"]
            .get(0)
            .is_some_and(|ch| ch["finish_reason"] == "stop")
    }));
    let usage = &chunks.last().expect("usage chunk")["usage"];
    assert_eq!(usage["completion_tokens"], 3, "{text}");
    // Anthropic: named events, message_stop last.
    let r = http
        .post(g.url("/v1/messages"))
        .json(&json!({"model": "triage", "max_tokens": 16, "stream": true, "messages": [{"role": "user", "content": "Hi"}]}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let text = r.text().await.expect("body");
    let (data, events) = sse(&text);
    assert_eq!(
        events.first().map(String::as_str),
        Some("message_start"),
        "{text}"
    );
    assert_eq!(
        events.last().map(String::as_str),
        Some("message_stop"),
        "{text}"
    );
    let streamed: String = data
        .iter()
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter(|v| v["type"] == "content_block_delta")
        .filter_map(|v| v["delta"]["text"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(streamed, "four five");
    let delta = data
        .iter()
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .find(|v| v["type"] == "message_delta")
        .expect("message_delta");
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(delta["usage"]["output_tokens"], 2);
    g.stop().await;
    let records = g.records().await;
    assert_eq!(records.len(), 2);
    assert!(
        records
            .iter()
            .all(|r| r.stream && r.status == 200 && r.ttft_ms.is_some()),
        "{records:#?}"
    );
    let outputs: Vec<&str> = records.iter().filter_map(|r| r.output.as_deref()).collect();
    assert_eq!(outputs, ["one two three", "four five"]);
    assert_eq!(records[1].api, "anthropic");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_split_is_sticky_per_user_and_follows_its_weights() {
    let big = upstream().await;
    let small = upstream().await;
    let toml = format!(
        "{}{}{}",
        model("big", &big, ""),
        model("small", &small, ""),
        component(
            "triage",
            &["big", "small"],
            "split = { big = 50, small = 50 }\nsticky = \"user\""
        )
    );
    let mut g = start(&toml).await;
    let http = client();
    for round in 0..3 {
        for user in 0..40 {
            let mut body = chat("triage", &format!("round {round}"));
            body["user"] = json!(format!("user-{user}"));
            let r = http
                .post(g.url("/v1/chat/completions"))
                .json(&body)
                .send()
                .await
                .expect("send");
            assert_eq!(r.status(), 200);
        }
    }
    g.stop().await;
    let records = g.records().await;
    assert_eq!(records.len(), 120);
    let mut by_user: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in &records {
        assert_eq!(r.route, "split");
        let user = r.input["params"]["user"].as_str().expect("user").to_owned();
        by_user.entry(user).or_default().push(r.candidate.clone());
    }
    for (user, seen) in &by_user {
        assert!(seen.iter().all(|c| *c == seen[0]), "{user} moved: {seen:?}");
    }
    let on_small = by_user.values().filter(|s| s[0] == "small").count();
    assert!(
        (8..=32).contains(&on_small),
        "{on_small} of 40 users on the 50% canary"
    );
    assert_eq!(small.request_count(), on_small * 3);
    assert_eq!(big.request_count(), (40 - on_small) * 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shadow_runs_in_the_background_and_is_scored_against_the_answer() {
    let big = upstream().await;
    let small = upstream().await;
    big.push([
        Step::Reply(Reply::text("billing")),
        Step::Reply(Reply::text("account")),
    ]);
    // The shadow agrees once and disagrees once; it is slower than the answer.
    small.push([
        Step::Delay(Duration::from_millis(1_500), Reply::text("billing")),
        Step::Delay(Duration::from_millis(1_500), Reply::text("technical")),
    ]);
    let toml = format!(
        "{}{}{}",
        model("big", &big, ""),
        model("small", &small, ""),
        component(
            "triage",
            &["big", "small"],
            "candidate = \"big\"\nshadow = [\"small\"]"
        )
    );
    let mut g = start(&toml).await;
    let http = client();
    for _ in 0..2 {
        // The shadow's upstream answers nothing until released: an answer that waited for the
        // shadow would never come.
        let shadow_held = small.hold();
        let r: Value = http
            .post(g.url("/v1/chat/completions"))
            .json(&chat("triage", "My invoice is wrong"))
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json");
        assert!(
            r["choices"][0]["message"]["content"] == "billing"
                || r["choices"][0]["message"]["content"] == "account"
        );
        shadow_held.release();
    }
    g.stop().await;
    let records = g.records().await;
    assert_eq!(records.len(), 4, "{records:#?}");
    let primaries: Vec<_> = records.iter().filter(|r| r.role == "primary").collect();
    let shadows: Vec<_> = records.iter().filter(|r| r.role == "shadow").collect();
    assert_eq!((primaries.len(), shadows.len()), (2, 2));
    let mut scores = Vec::new();
    for s in &shadows {
        let parent = primaries
            .iter()
            .find(|p| Some(&p.id) == s.parent.as_ref())
            .expect("parent");
        assert_eq!(s.candidate, "small");
        assert_eq!(s.route, "shadow");
        assert!(s.latency_ms >= 1_500.0, "{}", s.latency_ms);
        let expected = if s.output == parent.output { 1.0 } else { 0.0 };
        assert_eq!(s.score, Some(expected), "{s:#?} vs {parent:#?}");
        scores.push(expected);
    }
    scores.sort_by(f64::total_cmp);
    assert_eq!(scores, [0.0, 1.0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn strategies_run_on_the_clients_conversation() {
    let big = upstream().await;
    let small = upstream().await;
    // The cascade's first stage answers something outside the labels: the validator escalates.
    small.push([
        Step::Reply(Reply::text("no idea")),
        Step::Reply(Reply::text("billing")),
    ]);
    big.push([Step::Reply(Reply::text("technical"))]);
    let toml = format!(
        r#"{}{}{}
[components.triage.few_shot]
k = 2

[[components.triage.candidates]]
name = "small-shots"
model = "small"
strategy = "few-shot"
k = 2

[[components.triage.candidates]]
name = "cascade"
strategy = "cascade"
stages = ["small", "big"]
threshold = 1.0
confidence = "validator"
"#,
        model("big", &big, ""),
        model("small", &small, ""),
        component(
            "triage",
            &["big", "small"],
            "candidate = \"cascade\"\nfallback = [\"small-shots\"]"
        )
    );
    let mut g = start(&toml).await;
    let http = client();
    let body = json!({"model": "triage", "messages": [
        {"role": "system", "content": "You route tickets."},
        {"role": "user", "content": "Ticket: the app crashes\nTeam:"}
    ]});
    let r: Value = http
        .post(g.url("/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(r["choices"][0]["message"]["content"], "technical", "{r}");
    // The first stage saw the client's conversation as sent.
    let first = &small.requests()[0].body;
    assert_eq!(first["messages"][0]["content"], "You route tickets.");
    assert_eq!(
        first["messages"][1]["content"],
        "Ticket: the app crashes\nTeam:"
    );
    g.stop().await;
    let records = g.records().await;
    let r = &records[0];
    assert_eq!(r.candidate, "cascade");
    assert!(r.escalated, "{r:#?}");
    assert_eq!(r.confidence, Some(0.0));
    let stages: Vec<&str> = r
        .steps
        .iter()
        .filter(|s| s.kind == "stage")
        .map(|s| s.by.as_str())
        .collect();
    assert_eq!(stages, ["small", "big"]);
    assert_eq!(r.tokens_in, 20, "both stages' tokens count");
    drop(small.requests());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_few_shot_candidate_puts_its_examples_before_the_clients_turn() {
    let small = upstream().await;
    let toml = format!(
        r#"{}{}
[components.triage.few_shot]
k = 2

[[components.triage.candidates]]
name = "small-shots"
model = "small"
strategy = "few-shot"
k = 2
"#,
        model("small", &small, ""),
        component("triage", &["small"], "candidate = \"small-shots\"")
    );
    let mut g = start(&toml).await;
    let body = json!({"model": "triage", "messages": [
        {"role": "system", "content": "You route tickets."},
        {"role": "user", "content": "Ticket: refund please\nTeam:"}
    ]});
    let r = client()
        .post(g.url("/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    g.stop().await;
    let sent = &small.requests()[0].body["messages"];
    let roles: Vec<&str> = sent
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["role"].as_str())
        .collect();
    assert_eq!(
        roles,
        ["system", "user", "assistant", "user", "assistant", "user"],
        "{sent}"
    );
    assert_eq!(sent[0]["content"], "You route tickets.");
    assert!(
        sent[1]["content"]
            .as_str()
            .expect("shot")
            .starts_with("Ticket: "),
        "{sent}"
    );
    assert_eq!(sent[5]["content"], "Ticket: refund please\nTeam:");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_switches_the_policy_without_a_restart() {
    let big = upstream().await;
    let small = upstream().await;
    let models = format!("{}{}", model("big", &big, ""), model("small", &small, ""));
    let toml = format!(
        "{models}{}",
        component("triage", &["big", "small"], "candidate = \"big\"")
    );
    let mut g = start(&toml).await;
    let http = client();
    let send = || {
        http.post(g.url("/v1/chat/completions"))
            .json(&chat("triage", "Hi"))
            .send()
    };
    assert_eq!(send().await.expect("send").status(), 200);
    assert_eq!(big.request_count(), 1);
    // A broken file is refused and the old policy keeps serving.
    std::fs::write(&g.file, "[components.triage\n").expect("write");
    g.reload.send(()).await.expect("reload");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(send().await.expect("send").status(), 200);
    assert_eq!(big.request_count(), 2);
    let next = format!(
        "{models}{}\n[gateway]\nauth = \"none\"\nflush_ms = 20\n",
        component("triage", &["big", "small"], "candidate = \"small\"")
    );
    std::fs::write(&g.file, next).expect("write");
    g.reload.send(()).await.expect("reload");
    let (send, small) = (&send, &small);
    eventually("the reloaded policy never took effect", || async move {
        assert_eq!(send().await.expect("send").status(), 200);
        small.request_count() > 0
    })
    .await;
    g.stop().await;
}
