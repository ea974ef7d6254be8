use std::time::Duration;

use super::{KeyCheck, MAX_SERIES, Metrics, Observation};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Two requests and a shadow run; the expected text was written apart from the code.
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
    let expected = include_str!("testdata/metrics.prom");
    let got = metrics.render();
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
