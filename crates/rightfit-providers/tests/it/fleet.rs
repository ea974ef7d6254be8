//! A model served by several endpoints (`base_url = [...]`), against real local servers: requests
//! spread to the least loaded, a failing endpoint is ejected and the request moves on, client
//! errors stay where they happened, and a stream moves only before its first byte.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use rightfit_config::project::{ModelConfig, Project};
use rightfit_providers::{Ejection, EndpointStats, HostedProvider, Provider, ProviderError};
use rightfit_testkit::{Protocol, Reply, ServerConfig, Step, TestServer, unreachable_url};
use rightfit_types::{ChatRequest, Message, StreamEvent};

const HELLO: &str = "Hello from the test server.";

/// A cool-down no test outlives: an ejected endpoint stays out for the whole test.
const FOR_GOOD: Ejection = Ejection {
    cooldown: Duration::from_secs(3600),
    max_cooldown: Duration::from_secs(3600),
};

async fn servers(n: usize) -> Vec<TestServer> {
    let mut out = Vec::new();
    for _ in 0..n {
        let config = ServerConfig {
            api_key: None,
            ..ServerConfig::new(Protocol::OpenAi)
        };
        out.push(TestServer::start(config).await.expect("server starts"));
    }
    out
}

fn url(server: &TestServer) -> String {
    format!("{}/v1", server.base_url())
}

/// The model `fleet` of a project, served by `urls`; `[project] concurrency = 2`.
fn fleet(urls: &[String]) -> ModelConfig {
    let list: Vec<String> = urls.iter().map(|u| format!("\"{u}\"")).collect();
    let text = format!(
        r#"[project]
concurrency = 2

[models.fleet]
provider = "openai-compatible"
model = "test-model"
base_url = [{}]
timeout_s = 60
max_retries = 1

[components.c]
prompt = "Q: {{{{ q }}}}"
dataset = {{ path = "d.jsonl" }}
reference = "a"
output = {{ type = "text" }}

[[components.c.candidates]]
model = "fleet"
"#,
        list.join(", ")
    );
    let project = Project::parse(Path::new("rightfit.toml"), &text).expect("valid project");
    project.models["fleet"].clone()
}

fn provider(urls: &[String], ejection: Ejection) -> HostedProvider {
    HostedProvider::from_config(&fleet(urls))
        .expect("provider builds")
        .with_ejection(ejection)
}

fn request() -> ChatRequest {
    ChatRequest::chat(vec![Message::user("Say hello.")]).with_max_tokens(16)
}

fn counts(servers: &[TestServer]) -> Vec<usize> {
    servers.iter().map(TestServer::request_count).collect()
}

fn field<T>(stats: &[EndpointStats], f: impl Fn(&EndpointStats) -> T) -> Vec<T> {
    stats.iter().map(f).collect()
}

/// Waits until the servers have received `n` requests in all.
async fn arrived(servers: &[TestServer], n: usize) {
    while counts(servers).iter().sum::<usize>() < n {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn concurrent_requests_go_to_the_least_loaded_endpoint() {
    let s = servers(3).await;
    let p = provider(&s.iter().map(url).collect::<Vec<_>>(), Ejection::default());
    let holds: Vec<_> = s.iter().map(TestServer::hold).collect();
    let (answers, ()) = tokio::join!(
        futures::future::join_all((0..9).map(|_| p.complete(request()))),
        async {
            arrived(&s, 9).await;
            // Nothing has been answered: each endpoint took the next request while it had the
            // fewest in flight.
            assert_eq!(counts(&s), [3, 3, 3]);
            assert_eq!(field(&p.endpoints(), |e| e.in_flight), [3, 3, 3]);
            drop(holds);
        }
    );
    for answer in answers {
        assert_eq!(answer.expect("answered").text(), HELLO);
    }
    let stats = p.endpoints();
    assert_eq!(field(&stats, |e| e.requests), [3, 3, 3]);
    assert_eq!(field(&stats, |e| e.in_flight), [0, 0, 0]);
    assert_eq!(field(&stats, |e| e.failures), [0, 0, 0]);
    assert_eq!(
        field(&stats, |e| e.url.clone()),
        s.iter().map(url).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn one_request_at_a_time_still_goes_round_robin() {
    let s = servers(3).await;
    let p = provider(&s.iter().map(url).collect::<Vec<_>>(), Ejection::default());
    let mut seen = Vec::new();
    for _ in 0..6 {
        let before = counts(&s);
        p.complete(request()).await.expect("answered");
        let after = counts(&s);
        seen.push((0..3).find(|&i| after[i] > before[i]).expect("one server"));
    }
    assert_eq!(seen, [0, 1, 2, 0, 1, 2]);
    assert_eq!(field(&p.endpoints(), |e| e.requests), [2, 2, 2]);
}

/// `rightfit eval` sends a candidate's examples through the provider with the model's
/// `concurrency` in flight (`buffer_unordered`, as `rightfit-eval`'s runner does): a fleet's
/// default concurrency is the project's per endpoint, and the requests spread over them all.
#[tokio::test]
async fn an_evaluation_spreads_over_every_endpoint() {
    let s = servers(3).await;
    let model = fleet(&s.iter().map(url).collect::<Vec<_>>());
    assert_eq!(model.concurrency, 6, "2 per endpoint");
    let p: Arc<dyn Provider> = Arc::new(HostedProvider::from_config(&model).expect("builds"));
    let holds: Vec<_> = s.iter().map(TestServer::hold).collect();
    let examples = 30;
    let run = futures::stream::iter(0..examples)
        .map(|i| {
            let p = p.clone();
            async move {
                let r = ChatRequest::chat(vec![Message::user(format!("example {i}"))]);
                p.complete(r).await
            }
        })
        .buffer_unordered(model.concurrency)
        .collect::<Vec<_>>();
    let (answers, ()) = tokio::join!(run, async {
        arrived(&s, model.concurrency).await;
        assert_eq!(counts(&s), [2, 2, 2], "the first requests in flight");
        drop(holds);
    });
    assert_eq!(answers.len(), examples);
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    let served = counts(&s);
    assert!(served.iter().all(|&n| n >= 2), "{served:?}");
    assert_eq!(served.iter().sum::<usize>(), examples);
    let stats = p.endpoints();
    assert_eq!(
        field(&stats, |e| e.requests),
        served.iter().map(|&n| n as u64).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_server_that_is_down_is_ejected_and_every_request_still_succeeds() {
    let s = servers(2).await;
    let down = unreachable_url().expect("a free port");
    let urls = vec![url(&s[0]), format!("{down}/v1"), url(&s[1])];
    let p = provider(&urls, FOR_GOOD);
    for _ in 0..6 {
        assert_eq!(p.complete(request()).await.expect("answered").text(), HELLO);
    }
    let stats = p.endpoints();
    // Tried once (the second request), ejected, never again.
    assert_eq!(
        (stats[1].requests, stats[1].failures, stats[1].ejections),
        (1, 1, 1)
    );
    assert!(stats[1].ejected_for.is_some());
    assert_eq!(counts(&s), [3, 3]);
    assert_eq!(
        (stats[0].requests, stats[2].requests),
        (3, 3),
        "the pool's counts are the servers'"
    );

    // Many at once: those that went to it before it was ejected moved on; it was ejected once.
    let p = provider(&urls, FOR_GOOD);
    let answers = futures::future::join_all((0..12).map(|_| p.complete(request()))).await;
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    let dead = &p.endpoints()[1];
    assert!((1..=4).contains(&dead.requests), "{dead:?}");
    assert_eq!(dead.failures, dead.requests);
    assert_eq!(dead.ejections, 1);
    assert_eq!(counts(&s).iter().sum::<usize>(), 6 + 12);
}

#[tokio::test]
async fn when_every_server_is_down_each_is_tried_then_the_one_back_first() {
    let urls: Vec<String> = (0..2)
        .map(|_| format!("{}/v1", unreachable_url().expect("a free port")))
        .collect();
    let p = provider(&urls, FOR_GOOD);
    let e = p.complete(request()).await.expect_err("nothing answers");
    assert!(matches!(e, ProviderError::Unavailable { .. }), "{e}");
    let message = e.to_string();
    assert!(message.contains("gave up after 3 attempts"), "{message}");
    assert!(
        message.contains(&format!("endpoints tried: {}, {}", urls[0], urls[1])),
        "{message}"
    );
    // Once on each, then (max_retries = 1) the one whose cool-down ends first: the first.
    let stats = p.endpoints();
    assert_eq!(field(&stats, |e| e.requests), [2, 1]);
    assert_eq!(field(&stats, |e| e.ejections), [2, 1]);
}

#[tokio::test]
async fn a_server_answering_500_is_ejected_for_its_cooldown() {
    let s = servers(2).await;
    s[1].push([Step::Status(500)]);
    let p = provider(&s.iter().map(url).collect::<Vec<_>>(), FOR_GOOD);
    for _ in 0..6 {
        assert_eq!(p.complete(request()).await.expect("answered").text(), HELLO);
    }
    // The second request met the 500 and moved to the first server; the rest stayed there.
    assert_eq!(counts(&s), [6, 1]);
    let b = &p.endpoints()[1];
    assert_eq!((b.requests, b.failures, b.ejections), (1, 1, 1));
    assert!(b.ejected_for.is_some_and(|d| d > Duration::ZERO));
}

#[tokio::test]
async fn an_ejected_server_comes_back_after_its_cooldown() {
    let s = servers(2).await;
    s[1].push([Step::Status(500)]);
    let cooldown = Duration::from_millis(50);
    let p = provider(
        &s.iter().map(url).collect::<Vec<_>>(),
        Ejection {
            cooldown,
            max_cooldown: cooldown,
        },
    );
    for _ in 0..2 {
        p.complete(request()).await.expect("answered");
    }
    assert_eq!(counts(&s), [2, 1]);
    assert_eq!(p.endpoints()[1].ejections, 1);
    // However slow the machine, the cool-down is over after this.
    tokio::time::sleep(cooldown * 2).await;
    for _ in 0..3 {
        p.complete(request()).await.expect("answered");
    }
    assert_eq!(counts(&s), [3, 3], "back in the rotation at once");
    let b = &p.endpoints()[1];
    assert_eq!((b.requests, b.failures, b.ejections), (3, 1, 1));
    assert_eq!(b.ejected_for, None);
}

#[tokio::test]
async fn a_client_error_is_returned_and_not_tried_elsewhere() {
    let s = servers(2).await;
    s[0].push([Step::Status(400)]);
    let p = provider(&s.iter().map(url).collect::<Vec<_>>(), FOR_GOOD);
    let e = p.complete(request()).await.expect_err("400");
    assert!(matches!(e, ProviderError::InvalidRequest { .. }), "{e}");
    assert_eq!(counts(&s), [1, 0], "not retried on the other");
    let a = &p.endpoints()[0];
    assert_eq!((a.failures, a.ejections, a.ejected_for), (0, 0, None));
    // Still in the rotation.
    for _ in 0..2 {
        p.complete(request()).await.expect("answered");
    }
    assert_eq!(counts(&s), [2, 1]);
}

/// Reads a stream to its end: the text and the errors.
async fn drain(p: &dyn Provider) -> (String, Vec<ProviderError>) {
    let mut stream = p.stream(request()).await.expect("stream opens");
    let (mut text, mut errors) = (String::new(), Vec::new());
    while let Some(event) = stream.next().await {
        match event {
            Ok(StreamEvent::Delta { text: t, .. }) => text.push_str(&t),
            Ok(_) => {}
            Err(e) => errors.push(e),
        }
    }
    (text, errors)
}

#[tokio::test]
async fn a_stream_moves_to_another_server_before_its_first_byte() {
    let s = servers(2).await;
    s[0].push([Step::Drop]);
    let p = provider(&s.iter().map(url).collect::<Vec<_>>(), FOR_GOOD);
    // The first server drops the connection: the stream opens on the second.
    let (text, errors) = drain(&p).await;
    assert_eq!(text, HELLO);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(counts(&s), [1, 1]);
    s[1].push([Step::Status(503)]);
    // The first is ejected; the second answers 503 and is ejected too; with no healthy server
    // left untried, the retry goes to the one whose cool-down ends first.
    let (text, errors) = drain(&p).await;
    assert_eq!(text, HELLO);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(counts(&s), [2, 2]);
    assert_eq!(field(&p.endpoints(), |e| e.ejections), [1, 1]);
}

#[tokio::test]
async fn a_stream_cut_after_its_first_byte_is_not_tried_elsewhere() {
    let s = servers(2).await;
    s[0].push([Step::Truncate {
        reply: Reply::text("one two three"),
        after_chunks: 1,
    }]);
    let p = provider(&s.iter().map(url).collect::<Vec<_>>(), FOR_GOOD);
    let (text, errors) = drain(&p).await;
    assert_eq!(text, "one ", "what was handed on stays handed on");
    assert!(
        matches!(errors.as_slice(), [ProviderError::Truncated { .. }]),
        "{errors:?}"
    );
    assert_eq!(
        counts(&s),
        [1, 0],
        "not retried: the caller had the first words"
    );
    let a = &p.endpoints()[0];
    assert_eq!((a.failures, a.ejections, a.in_flight), (1, 1, 0));
}

#[tokio::test]
async fn a_fleet_is_healthy_while_one_endpoint_answers() {
    let s = servers(1).await;
    let down = format!("{}/v1", unreachable_url().expect("a free port"));
    let p = provider(&[url(&s[0]), down.clone()], FOR_GOOD);
    let health = p.health().await.expect("checked");
    assert!(health.ready, "{health:?}");
    assert!(
        health.detail.starts_with("1 of 2 endpoints ready:"),
        "{health:?}"
    );
    assert!(health.detail.contains(&down), "{health:?}");
    let p = provider(std::slice::from_ref(&down), FOR_GOOD);
    assert!(!p.health().await.expect("checked").ready);
}

#[test]
fn a_client_refuses_an_empty_fleet_naming_the_key() {
    let mut model = fleet(&["http://127.0.0.1:9/v1".to_owned()]);
    if let rightfit_config::project::ProviderConfig::OpenaiCompatible { base_url, .. } =
        &mut model.provider
    {
        *base_url = rightfit_config::project::BaseUrl::Fleet(Vec::new());
    }
    let e = HostedProvider::from_config(&model).expect_err("refused");
    assert!(e.starts_with("models.fleet.base_url: an empty list"), "{e}");
}
