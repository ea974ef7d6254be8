//! The official SDKs (the `openai` and `anthropic` Python packages, the `openai` npm package)
//! against the gateway, with a testkit upstream: whole and streamed answers, usage, listings,
//! and the errors each SDK must raise (unknown model, bad key).

use std::collections::BTreeMap;

use rightfit_store::{TrafficStore, new_key};
use rightfit_testkit::clients::{self, Client};
use rightfit_testkit::{Reply, TestServer};
use serde_json::Value;

use crate::support::{component, model, project_dir, start_with};

async fn run(client: Client, base: String, key: String, model: &str) -> BTreeMap<String, Value> {
    let model = model.to_owned();
    tokio::task::spawn_blocking(move || {
        clients::run(client, &base, &key, &model, Some("rf-wrong"))
            .unwrap_or_else(|e| panic!("{e}"))
    })
    .await
    .expect("client task")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_official_sdks_talk_to_the_gateway() {
    let mut config = rightfit_testkit::ServerConfig::new(rightfit_testkit::Protocol::OpenAi);
    config.api_key = None;
    // Token log-probabilities too (sent only to a request that asks): they must reach the SDKs.
    config.default_reply = Reply::text("")
        .with_logprobs([
            ("Hello", -0.25),
            (" there", -0.5),
            (",", -0.125),
            (" from", -1.0),
            (" upstream.", -0.0625),
        ])
        .with_chunks(4)
        .with_tokens(12, 5);
    let up = TestServer::start(config).await.expect("upstream");
    let toml = format!(
        "{}{}\n[gateway]\nauth = \"keys\"\nflush_ms = 20\n",
        model("big", &up, ""),
        component("triage", &["big"], "")
    );
    let (dir, file) = project_dir(&toml);
    let store = std::sync::Arc::new(
        rightfit_store::SqliteStore::open(&dir.path().join("traffic.db"))
            .await
            .expect("store"),
    );
    let key = new_key("sdk", None, None, "2026-11-30T00:00:00.000Z".into()).expect("key");
    store.put_key(&key.key).await.expect("put key");
    let project = rightfit_config::project::Project::load(&file).expect("project");
    let mut g = start_with(dir, file, project, store).await;
    let base = g.url("");
    let secret = key.secret.expose().to_owned();
    for client in [Client::OpenAiPython, Client::OpenAiNode] {
        let calls = run(client, base.clone(), secret.clone(), "triage").await;
        for call in ["plain", "stream"] {
            let c = &calls[call];
            assert_eq!(
                c["text"], "Hello there, from upstream.",
                "{client:?} {call}: {c}"
            );
            assert_eq!(c["finish_reason"], "stop", "{client:?} {call}: {c}");
            assert_eq!(c["usage"]["prompt_tokens"], 12, "{client:?} {call}: {c}");
            assert_eq!(c["usage"]["completion_tokens"], 5, "{client:?} {call}: {c}");
            assert_eq!(c["usage"]["total_tokens"], 17, "{client:?} {call}: {c}");
        }
        assert!(
            calls["stream"]["chunks"].as_u64().expect("chunks") >= 2,
            "{client:?}"
        );
        if client == Client::OpenAiPython {
            for call in ["logprobs", "logprobs_stream"] {
                let c = &calls[call];
                let tokens: Vec<(&str, f64)> = c["logprobs"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{call}: {c}"))
                    .iter()
                    .map(|t| {
                        (
                            t["token"].as_str().expect("token"),
                            t["logprob"].as_f64().expect("lp"),
                        )
                    })
                    .collect();
                assert_eq!(
                    tokens,
                    [
                        ("Hello", -0.25),
                        (" there", -0.5),
                        (",", -0.125),
                        (" from", -1.0),
                        (" upstream.", -0.0625)
                    ],
                    "{call}: {c}"
                );
                assert_eq!(c["text"], "Hello there, from upstream.", "{call}: {c}");
                assert_eq!(
                    c["logprobs"][0]["top"].as_array().map(Vec::len),
                    Some(2),
                    "{c}"
                );
            }
            // Without asking, none.
            assert!(calls["plain"].get("logprobs").is_none());
        }
        let ids: Vec<&str> = calls["models"]["ids"]
            .as_array()
            .expect("ids")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(ids, ["triage", "big"], "{client:?}");
        assert_eq!(calls["not_found"]["error_status"], 404, "{client:?}");
        assert_eq!(calls["bad_key"]["error_status"], 401, "{client:?}");
    }
    let calls = run(
        Client::AnthropicPython,
        base.clone(),
        secret.clone(),
        "triage",
    )
    .await;
    for call in ["plain", "stream"] {
        let c = &calls[call];
        assert_eq!(
            c["text"], "Hello there, from upstream.",
            "anthropic {call}: {c}"
        );
        assert_eq!(c["finish_reason"], "end_turn", "anthropic {call}: {c}");
        assert_eq!(c["usage"]["output_tokens"], 5, "anthropic {call}: {c}");
    }
    assert_eq!(calls["plain"]["usage"]["input_tokens"], 12);
    assert_eq!(calls["not_found"]["error_status"], 404);
    assert_eq!(calls["bad_key"]["error_status"], 401);
    g.stop().await;
    // Every answered call is in the traffic log: 5 Python openai (plain, stream, json_object,
    // logprobs whole and streamed), 2 node, 2 anthropic.
    let records = g.records().await;
    let answered = records.iter().filter(|r| r.status == 200).count();
    assert_eq!(answered, 9, "{records:#?}");
    assert!(
        records
            .iter()
            .filter(|r| r.status == 200)
            .all(|r| r.key_id.as_deref() == Some(key.key.id.as_str()))
    );
}
