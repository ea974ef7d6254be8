use super::*;

const TOL: f64 = 1e-12;

fn record(id: &str, component: Option<&str>, candidate: &str, role: &str) -> TrafficRecord {
    TrafficRecord {
        id: id.to_owned(),
        at: "2026-11-30T03:42:07.123Z".to_owned(),
        api: "openai".to_owned(),
        key_id: None,
        component: component.map(str::to_owned),
        requested: component.unwrap_or(candidate).to_owned(),
        route: if role == "shadow" { "shadow" } else { "pinned" }.to_owned(),
        candidate: candidate.to_owned(),
        role: role.to_owned(),
        parent: None,
        input: serde_json::json!({"messages": [], "params": {}}),
        output: Some("set_alarm".to_owned()),
        tool_calls: Vec::new(),
        finish_reason: Some("stop".to_owned()),
        stream: false,
        status: 200,
        error: None,
        latency_ms: 100.0,
        ttft_ms: None,
        tokens_in: 10,
        tokens_out: 2,
        cost_usd: Some(0.001),
        escalated: false,
        confidence: None,
        score: None,
        steps: Vec::new(),
    }
}

fn failed(mut r: TrafficRecord, latency_ms: f64) -> TrafficRecord {
    r.error = Some("upstream timed out after 30 s".to_owned());
    r.status = 504;
    r.output = None;
    r.latency_ms = latency_ms;
    r
}

/// qwen on intent: 5 primaries (latencies 10..40 and 1000, one failed at 30000 ms), 2 shadows of
/// smol, one unpriced and escalated; a direct request; a summary request.
fn sample() -> Vec<TrafficRecord> {
    let mut out = Vec::new();
    for (i, latency) in [40.0, 10.0, 1000.0, 30.0, 20.0].into_iter().enumerate() {
        let mut r = record(&format!("req_{i}"), Some("intent"), "qwen", "primary");
        r.latency_ms = latency;
        r.escalated = i < 2;
        out.push(r);
    }
    out.push(failed(
        record("req_9", Some("intent"), "qwen", "primary"),
        30_000.0,
    ));
    let mut s1 = record("req_0-shadow-1", Some("intent"), "smol", "shadow");
    s1.score = Some(1.0);
    let mut s2 = record("req_1-shadow-1", Some("intent"), "smol", "shadow");
    s2.score = Some(0.0);
    s2.cost_usd = None;
    let s3 = failed(
        record("req_2-shadow-1", Some("intent"), "smol", "shadow"),
        5.0,
    );
    out.extend([s1, s2, s3]);
    out.push(record("req_d", None, "gpt-4o", "primary"));
    out.push(record("req_s", Some("summary"), "qwen", "primary"));
    // Grouping does not depend on the order records come in.
    out.reverse();
    out
}

#[test]
fn groups_are_component_candidate_role_with_direct_last_and_primary_first() {
    let rows = traffic_stats(&sample());
    let keys: Vec<(Option<&str>, &str, &str, u64)> = rows
        .iter()
        .map(|r| {
            (
                r.component.as_deref(),
                r.candidate.as_str(),
                r.role.as_str(),
                r.requests,
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            (Some("intent"), "qwen", "primary", 6),
            (Some("intent"), "smol", "shadow", 3),
            (Some("summary"), "qwen", "primary", 1),
            (None, "gpt-4o", "primary", 1),
        ]
    );
}

#[test]
fn latency_percentiles_leave_out_errors_and_match_numpy() {
    let rows = traffic_stats(&sample());
    let qwen = &rows[0];
    assert_eq!(qwen.errors, 1);
    assert!((qwen.error_rate - 1.0 / 6.0).abs() < TOL);
    // numpy.percentile([10, 20, 30, 40, 1000], [50, 95, 99]) = [30, 808, 961.6]; the failed
    // request's 30 s is not among them.
    let p = qwen.latency_ms.as_ref().expect("latencies");
    assert!((p.p50 - 30.0).abs() < TOL, "{p:?}");
    assert!((p.p95 - 808.0).abs() < 1e-9, "{p:?}");
    assert!((p.p99 - 961.6).abs() < 1e-9, "{p:?}");
    // One value: every percentile is it.
    let single = rows[2].latency_ms.as_ref().expect("one latency");
    assert_eq!((single.p50, single.p95, single.p99), (100.0, 100.0, 100.0));
}

#[test]
fn tokens_costs_escalations_and_scores_add_up() {
    let rows = traffic_stats(&sample());
    let qwen = &rows[0];
    assert_eq!((qwen.tokens_in, qwen.tokens_out), (60, 12));
    assert!((qwen.cost_usd.expect("priced") - 0.006).abs() < TOL);
    assert_eq!(qwen.unpriced, 0);
    assert!((qwen.escalation_rate - 2.0 / 6.0).abs() < TOL);
    assert_eq!((qwen.mean_score, qwen.scored), (None, 0));

    let smol = &rows[1];
    assert_eq!(smol.errors, 1);
    assert!((smol.cost_usd.expect("two priced") - 0.002).abs() < TOL);
    assert_eq!(smol.unpriced, 1);
    assert_eq!((smol.mean_score, smol.scored), (Some(0.5), 2));

    let mut unpriced = record("req_u", Some("x"), "m", "primary");
    unpriced.cost_usd = None;
    let rows = traffic_stats(&[unpriced]);
    assert_eq!((rows[0].cost_usd, rows[0].unpriced), (None, 1));
    assert!(traffic_stats(&[]).is_empty());
}

#[test]
fn a_group_that_only_failed_has_no_latency() {
    let rows = traffic_stats(&[failed(record("r", Some("c"), "m", "primary"), 10.0)]);
    assert_eq!(rows[0].latency_ms, None);
    assert!((rows[0].error_rate - 1.0).abs() < TOL);
}

#[test]
fn previews_are_one_line_and_cut_with_an_ellipsis() {
    assert_eq!(preview("  set\n\talarm  "), "set alarm");
    let long = "word ".repeat(20);
    let cut = preview(&long);
    assert_eq!(cut.chars().count(), PREVIEW_CHARS);
    assert!(cut.ends_with('…') && cut.starts_with("word word"), "{cut}");
    let exact = "é".repeat(PREVIEW_CHARS);
    assert_eq!(preview(&exact), exact);
}

#[test]
fn stats_terminal_table() {
    let text = traffic_stats_terminal(&traffic_stats(&sample()), 0);
    insta::assert_snapshot!(text);
}

#[test]
fn stats_markdown_table() {
    insta::assert_snapshot!(traffic_stats_markdown(&traffic_stats(&sample())));
}

#[test]
fn nothing_to_show_says_so() {
    assert_eq!(
        traffic_stats_terminal(&[], 0),
        "no traffic recorded for this selection\n"
    );
}

#[test]
fn list_terminal_table() {
    let mut records = sample();
    records.truncate(4);
    records[0].output =
        Some("A long answer\nthat runs over more than one line and past the cut".into());
    records[1].cost_usd = Some(0.25);
    insta::assert_snapshot!(traffic_list_terminal(&records, 0));
}
