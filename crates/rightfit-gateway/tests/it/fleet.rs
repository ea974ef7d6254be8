//! A model served by several endpoints (`base_url = [...]`) behind the gateway: `GET /metrics`
//! shows each endpoint's counts, read from the providers when scraped, so that they match what
//! the upstream servers saw, a dead endpoint shows its ejection, and a reload shows the new
//! endpoints.

use std::sync::Arc;
use std::time::Duration;

use rightfit_config::project::ModelConfig;
use rightfit_providers::{Ejection, Provider};
use rightfit_registry::{BuildError, ModelRegistry, ProviderFactory};
use rightfit_testkit::{TestServer, unreachable_url};

use crate::support::{
    Running, chat, client, component, eventually, start, start_factory, upstream,
};

/// A model `fleet` over `urls`, and a component `triage` pinned to it.
fn fleet_project(urls: &[String]) -> String {
    let list: Vec<String> = urls.iter().map(|u| format!("\"{u}\"")).collect();
    format!(
        r#"
[models.fleet]
provider = "openai-compatible"
base_url = [{}]
model = "fleet-model"
max_retries = 0
{}"#,
        list.join(", "),
        component("triage", &["fleet"], "")
    )
}

fn url(server: &TestServer) -> String {
    format!("{}/v1", server.base_url())
}

async fn scrape(g: &Running) -> String {
    let r = client()
        .get(g.url("/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(r.status(), 200);
    r.text().await.expect("metrics text")
}

/// The value of `name{model="fleet",url="<url>"}`, if the series is there.
fn sample(text: &str, name: &str, url: &str) -> Option<u64> {
    let prefix = format!("{name}{{model=\"fleet\",url=\"{url}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.parse().expect("an integer sample"))
}

/// The five endpoint series of one URL: requests, failures, ejections, in flight, ejected.
fn series(text: &str, url: &str) -> [u64; 5] {
    [
        "rightfit_endpoint_requests_total",
        "rightfit_endpoint_failures_total",
        "rightfit_endpoint_ejections_total",
        "rightfit_endpoint_in_flight",
        "rightfit_endpoint_ejected",
    ]
    .map(|name| sample(text, name, url).unwrap_or_else(|| panic!("no {name} for {url}:\n{text}")))
}

async fn ask(g: &Running, n: usize) {
    let http = client();
    for i in 0..n {
        let r = http
            .post(g.url("/v1/chat/completions"))
            .json(&chat("triage", &format!("ticket {i}")))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 200, "request {i}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn each_endpoint_s_counts_are_the_upstream_s_and_a_reload_shows_the_new_endpoints() {
    let (a, b, c) = (upstream().await, upstream().await, upstream().await);
    let mut g = start(&fleet_project(&[url(&a), url(&b)])).await;
    // Built at the start (a served policy calls it): listed before any request.
    let text = scrape(&g).await;
    assert_eq!(series(&text, &url(&a)), [0; 5], "{text}");
    assert_eq!(series(&text, &url(&b)), [0; 5], "{text}");

    ask(&g, 6).await;
    let text = scrape(&g).await;
    let (on_a, on_b) = (series(&text, &url(&a)), series(&text, &url(&b)));
    // Each endpoint's count is what its server received; together, every request once.
    assert_eq!(on_a, [a.request_count() as u64, 0, 0, 0, 0], "{text}");
    assert_eq!(on_b, [b.request_count() as u64, 0, 0, 0, 0], "{text}");
    assert_eq!(on_a[0] + on_b[0], 6, "{text}");
    assert!(on_a[0] > 0 && on_b[0] > 0, "spread over both: {text}");
    // The gateway's own request count agrees.
    assert!(
        text.contains(
            r#"rightfit_requests_total{component="triage",candidate="fleet",route="pinned",status="200"} 6"#
        ),
        "{text}"
    );

    // The fleet becomes b and c: the scrape after the reload reads the new provider.
    let next = format!(
        "{}\n[gateway]\nauth = \"none\"\nflush_ms = 20\n",
        fleet_project(&[url(&b), url(&c)])
    );
    std::fs::write(&g.file, next).expect("write");
    g.reload.send(()).await.expect("reload");
    let (g_ref, c_url) = (&g, url(&c));
    let c_url = &c_url;
    eventually(
        "the reloaded fleet never showed in the metrics",
        || async move {
            sample(
                &scrape(g_ref).await,
                "rightfit_endpoint_requests_total",
                c_url,
            )
            .is_some()
        },
    )
    .await;
    ask(&g, 2).await;
    let text = scrape(&g).await;
    assert_eq!(
        sample(&text, "rightfit_endpoint_requests_total", &url(&a)),
        None,
        "a is no longer configured: {text}"
    );
    // A new provider, new counts: b's start again from zero.
    let (on_b, on_c) = (series(&text, &url(&b)), series(&text, &url(&c)));
    assert_eq!(on_b[0] + on_c[0], 2, "{text}");
    assert_eq!(on_c[0], c.request_count() as u64, "{text}");
    g.stop().await;
}

/// Builds hosted providers whose ejected endpoints stay out for an hour, so that the ejection
/// is still on when the metrics are read, however slow the machine.
struct EjectForGood;

#[async_trait::async_trait]
impl ProviderFactory for EjectForGood {
    async fn provider(&self, model: &ModelConfig) -> Result<Arc<dyn Provider>, BuildError> {
        let hour = Duration::from_secs(3600);
        Ok(Arc::new(ModelRegistry::hosted(model)?.with_ejection(
            Ejection {
                cooldown: hour,
                max_cooldown: hour,
            },
        )))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_endpoint_shows_its_failure_and_ejection() {
    let live = upstream().await;
    let dead = format!("{}/v1", unreachable_url().expect("a free port"));
    let mut g = start_factory(
        &fleet_project(&[dead.clone(), url(&live)]),
        Arc::new(EjectForGood),
    )
    .await;
    // Every request is answered: the first goes to the dead endpoint, fails to connect and
    // moves to the live one (without a retry: max_retries = 0); the rest go to the live one.
    ask(&g, 4).await;
    let text = scrape(&g).await;
    assert_eq!(series(&text, &dead), [1, 1, 1, 0, 1], "{text}");
    assert_eq!(series(&text, &url(&live)), [4, 0, 0, 0, 0], "{text}");
    assert_eq!(live.request_count(), 4);
    g.stop().await;
}
