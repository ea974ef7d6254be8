use std::time::Duration;

use rightfit_providers::EndpointStats;

use super::{Endpoints, KeyCheck, MAX_SERIES, Metrics, Observation};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn endpoint(url: &str, counts: [u64; 3], in_flight: usize, ejected: bool) -> EndpointStats {
    EndpointStats {
        url: url.to_owned(),
        requests: counts[0],
        failures: counts[1],
        ejections: counts[2],
        in_flight,
        ejected_for: ejected.then(|| Duration::from_secs(4)),
    }
}

/// Two requests and a shadow run, and the endpoints of a fleet (listed out of order, one
/// ejected), of a single-URL model, and of a model run in-process (none); the expected text
/// was written apart from the code.
#[test]
fn render_matches_the_exposition_format() {
    let metrics = Metrics::new();
    metrics.observe_request(&Observation {
        component: "intent",
        candidate: "qwen/zero-shot",
        route: "pinned",
        status: 200,
        tokens_in: 10,
        tokens_out: 2,
        cost_usd: 0.25,
        escalations: 1,
        duration: ms(125),
        upstream: Some(Duration::from_micros(62_500)),
        ..Observation::default()
    });
    metrics.observe_request(&Observation {
        component: "intent",
        candidate: "qwen/zero-shot",
        route: "pinned",
        status: 502,
        error: Some("upstream"),
        tokens_in: 10,
        cost_usd: 0.5,
        duration: ms(500),
        upstream: Some(ms(250)),
        ..Observation::default()
    });
    metrics.observe_request(&Observation {
        component: "intent",
        candidate: "smollm2",
        route: "shadow",
        status: 200,
        error: Some("upstream_timeout"),
        tokens_in: 10,
        tokens_out: 3,
        cost_usd: 0.125,
        shadow: true,
        duration: ms(2000),
        upstream: Some(ms(2000)),
        ..Observation::default()
    });
    metrics.traffic_written(5);
    metrics.traffic_dropped(1);
    metrics.key_store_error(KeyCheck::RateLimit);
    metrics.key_store_error(KeyCheck::Spend);
    metrics.key_store_error(KeyCheck::RateLimit);
    let _guard = metrics.in_flight_guard();
    let endpoints = Endpoints::from([
        (
            "qwen".to_owned(),
            vec![
                endpoint("http://gpu-b:8000/v1", [7, 3, 2], 0, true),
                endpoint("http://gpu-a:8000/v1", [12, 0, 0], 2, false),
            ],
        ),
        (
            "gpt".to_owned(),
            vec![endpoint("https://api.openai.com/v1", [5, 1, 1], 1, false)],
        ),
        ("smollm2".to_owned(), Vec::new()),
    ]);
    let expected = include_str!("testdata/metrics.prom");
    let got = metrics.render_with(&endpoints);
    for (i, (g, e)) in got.lines().zip(expected.lines()).enumerate() {
        assert_eq!(g, e, "line {}", i + 1);
    }
    assert_eq!(got, expected);
}

#[test]
fn the_in_flight_gauge_follows_its_guards() {
    let metrics = Metrics::new();
    let shared = metrics.clone();
    let a = metrics.in_flight_guard();
    let b = shared.in_flight_guard();
    assert!(
        metrics
            .render()
            .contains("\nrightfit_requests_in_flight 2\n")
    );
    drop(a);
    drop(b);
    assert!(
        metrics
            .render()
            .contains("\nrightfit_requests_in_flight 0\n")
    );
}

#[test]
fn label_values_are_escaped() {
    let metrics = Metrics::new();
    metrics.observe_request(&Observation {
        component: "a\"b\\c\nd",
        candidate: "x",
        route: "pinned",
        status: 200,
        ..Observation::default()
    });
    let text = metrics.render();
    assert!(
        text.contains(r#"rightfit_requests_total{component="a\"b\\c\nd",candidate="x",route="pinned",status="200"} 1"#),
        "{text}"
    );
}

#[test]
fn label_pairs_past_the_cap_are_counted_as_overflow() {
    let metrics = Metrics::new();
    let observe = |candidate: &str| {
        metrics.observe_request(&Observation {
            component: "c",
            candidate,
            route: "pinned",
            status: 200,
            ..Observation::default()
        });
    };
    for i in 0..MAX_SERIES {
        observe(&format!("k{i}"));
    }
    observe("one-too-many");
    observe("k0");
    let text = metrics.render();
    assert!(!text.contains("one-too-many"));
    assert!(text.contains(
        r#"rightfit_requests_total{component="_overflow",candidate="_overflow",route="pinned",status="200"} 1"#
    ));
    assert!(text.contains(
        r#"rightfit_requests_total{component="c",candidate="k0",route="pinned",status="200"} 2"#
    ));
}

#[test]
fn without_endpoints_the_endpoint_families_are_declared_and_empty() {
    let text = Metrics::new().render();
    for (name, kind) in [
        ("rightfit_endpoint_requests_total", "counter"),
        ("rightfit_endpoint_failures_total", "counter"),
        ("rightfit_endpoint_ejections_total", "counter"),
        ("rightfit_endpoint_in_flight", "gauge"),
        ("rightfit_endpoint_ejected", "gauge"),
    ] {
        assert!(
            text.contains(&format!("\n# TYPE {name} {kind}\n")),
            "{text}"
        );
        assert!(!text.contains(&format!("\n{name}{{")), "{text}");
    }
}

#[test]
fn endpoint_labels_are_escaped() {
    let endpoints = Endpoints::from([(
        "a\"b".to_owned(),
        vec![endpoint("http://h/\\v1\n", [1, 0, 0], 0, false)],
    )]);
    let text = Metrics::new().render_with(&endpoints);
    assert!(
        text.contains(r#"rightfit_endpoint_requests_total{model="a\"b",url="http://h/\\v1\n"} 1"#),
        "{text}"
    );
}
