use super::*;

const TOL: f64 = 1e-12;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < TOL
}

/// A successful record with the given score and confidence, cost 0.001 and latency 100 ms.
fn rec(candidate: &str, id: &str, score: f64, confidence: Option<f64>) -> ExampleRecord {
    let mut r = ExampleRecord::new("run", candidate, id, 0, serde_json::Value::Null);
    r.score = Some(score);
    r.confidence = confidence;
    r.cost_usd = Some(0.001);
    r.latency_ms = 100.0;
    r
}

/// A failed record: an error, no score, no cost.
fn failed(candidate: &str, id: &str) -> ExampleRecord {
    let mut r = ExampleRecord::new("run", candidate, id, 0, serde_json::Value::Null);
    r.error = Some("timeout".to_owned());
    r.latency_ms = 50.0;
    r
}

fn pair(confidence: f64, small: f64, large: f64) -> Pair {
    Pair {
        id: String::new(),
        confidence,
        small_score: small,
        large_score: large,
        small_cost: Some(0.001),
        large_cost: Some(0.01),
        small_latency: 100.0,
        large_latency: 1000.0,
    }
}

/// Five dev examples computed by hand below; the last one's small answer failed (confidence
/// 0, score 0, no cost, 50 ms).
fn hand_dev() -> Vec<Pair> {
    let mut e = pair(0.0, 0.0, 1.0);
    e.small_cost = Some(0.0);
    e.small_latency = 50.0;
    vec![
        pair(0.9, 1.0, 1.0),
        pair(0.6, 0.0, 1.0),
        pair(0.6, 1.0, 0.0),
        pair(0.2, 0.0, 1.0),
        e,
    ]
}

#[test]
fn hand_computed_curve() {
    let c = curve(&hand_dev());
    let got: Vec<(f64, f64, f64)> = c
        .iter()
        .map(|p| (p.threshold, p.escalated, p.quality))
        .collect();
    // Threshold 0 keeps all: small scores 1,0,1,0,0. At 0.2 the failed one escalates (+1).
    // At 0.6 the 0.2 one too (+1). At 0.9 both 0.6s swap (0→1, 1→0). Everything: large 1,1,0,1,1.
    assert_eq!(
        got,
        vec![
            (0.0, 0.0, 0.4),
            (0.2, 0.2, 0.6),
            (0.6, 0.4, 0.8),
            (0.9, 0.8, 0.8),
            (ESCALATE_ALL, 1.0, 0.8),
        ]
    );
    let costs: Vec<f64> = c.iter().filter_map(|p| p.cost_per_request_usd).collect();
    let want_costs = [
        0.004 / 5.0,
        0.014 / 5.0,
        0.024 / 5.0,
        0.044 / 5.0,
        0.054 / 5.0,
    ];
    assert_eq!(costs.len(), 5);
    for (got, want) in costs.iter().zip(want_costs) {
        assert!(close(*got, want), "{got} vs {want}");
    }
    let latencies: Vec<f64> = c.iter().map(|p| p.latency_ms_mean).collect();
    for (got, want) in latencies.iter().zip([90.0, 290.0, 490.0, 890.0, 1090.0]) {
        assert!(close(*got, want), "{got} vs {want}");
    }
}

#[test]
fn choice_is_the_fewest_escalations_that_meet_the_bar() {
    let c = curve(&hand_dev());
    // Large dev quality 0.8. Target 1: 0.6 (40%) beats 0.9 (80%) and everything (100%).
    assert_eq!(choose(&c, 1.0 * 0.8).map(|p| p.threshold), Some(0.6));
    // Target 0.75: bar 0.75 × 0.8 rounds to just above 0.6; the tolerance still accepts 0.2.
    let large_quality = c.last().map_or(0.0, |p| p.quality);
    let bar = 0.75 * large_quality;
    assert!(bar > 0.6, "{bar}");
    assert_eq!(choose(&c, bar).map(|p| p.threshold), Some(0.2));
    assert_eq!(choose(&c, 0.4).map(|p| p.threshold), Some(0.0));
    assert_eq!(choose(&c, 0.81), None);
}

#[test]
fn ties_go_to_higher_quality_then_lower_threshold() {
    let point = |threshold, escalated, quality| CurvePoint {
        threshold,
        escalated,
        quality,
        cost_per_request_usd: None,
        latency_ms_mean: 0.0,
    };
    let c = [
        point(0.5, 0.5, 0.7),
        point(0.3, 0.5, 0.9),
        point(0.4, 0.5, 0.9),
        point(0.9, 0.9, 1.0),
    ];
    assert_eq!(choose(&c, 0.6).map(|p| p.threshold), Some(0.3));
    // A real tie: with every confidence above 0, thresholds 0 and the lowest confidence both
    // escalate nothing; 0 is chosen.
    let dev = vec![pair(0.5, 1.0, 1.0), pair(0.8, 1.0, 0.0)];
    let c = curve(&dev);
    assert_eq!((c[0].threshold, c[0].escalated), (0.0, 0.0));
    assert_eq!((c[1].threshold, c[1].escalated), (0.5, 0.0));
    assert_eq!(choose(&c, 0.5).map(|p| p.threshold), Some(0.0));
}

#[test]
fn missing_cost_makes_only_the_points_that_need_it_unknown() {
    let mut dev = hand_dev();
    dev[0].large_cost = None; // confidence 0.9: escalated only by "everything"
    let c = curve(&dev);
    let known: Vec<bool> = c.iter().map(|p| p.cost_per_request_usd.is_some()).collect();
    assert_eq!(known, [true, true, true, true, false]);
    dev[1].small_cost = None; // a successful small answer without a price: every point
    assert!(curve(&dev).iter().all(|p| p.cost_per_request_usd.is_none()));
}

#[test]
fn heldout_check_by_hand() {
    // Threshold 0.6 on the five hand examples: escalates 0.2 and the failed one.
    let h = check(&hand_dev(), 0.6, 7).expect("check");
    assert_eq!(h.n, 5);
    assert_eq!(h.escalated, 0.4);
    assert_eq!(h.quality.mean, 0.8);
    assert_eq!(h.large_quality.mean, 0.8);
    assert_eq!(h.small_quality.mean, 0.4);
    assert_eq!(h.retained, Some(1.0));
    assert!(close(h.difference.mean, 0.0));
    assert!(close(h.cost_per_request_usd.expect("cost"), 0.024 / 5.0));
    assert!(close(h.large_cost_per_request_usd.expect("cost"), 0.01));
    assert!(close(h.latency_ms_mean, 490.0));
    assert!(close(h.large_latency_ms_mean, 1000.0));
    for e in [
        &h.quality,
        &h.large_quality,
        &h.small_quality,
        &h.difference,
    ] {
        assert!(e.low <= e.mean && e.mean <= e.high, "{e:?}");
        assert_eq!((e.n, e.confidence), (5, 0.95));
    }
    assert!(h.small_quality.low < h.small_quality.high);
    // Never escalating: the cascade is the small candidate, 0.4 below the large one.
    let h = check(&hand_dev(), 0.0, 7).expect("check");
    assert_eq!((h.escalated, h.quality.mean), (0.0, 0.4));
    assert!(close(h.difference.mean, -0.4));
    assert_eq!(h.retained, Some(0.5));
    // A large quality of 0 gives no ratio rather than infinity.
    let zero = vec![pair(0.5, 1.0, 0.0), pair(0.5, 0.0, 0.0)];
    assert_eq!(check(&zero, 0.0, 7).expect("check").retained, None);
}

/// `n` paired examples with varied confidences and scores, drawn from `seed`.
fn varied(n: usize, seed: u64) -> (Vec<ExampleRecord>, Vec<ExampleRecord>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut draw = |k: u64| rng.next_u64() % k;
    let (mut small, mut large) = (Vec::new(), Vec::new());
    for i in 0..n {
        let id = format!("ex{i:03}");
        let confidence = draw(11) as f64 / 10.0;
        let small_score = if draw(10) < 3 + (confidence * 6.0) as u64 {
            1.0
        } else {
            0.0
        };
        let large_score = if draw(10) < 8 { 1.0 } else { 0.0 };
        small.push(rec("small", &id, small_score, Some(confidence)));
        large.push(rec("large", &id, large_score, None));
    }
    (small, large)
}

#[test]
fn curve_properties_hold_on_varied_data() {
    for seed in 0..20 {
        let (small, large) = varied(40, seed);
        let cal = calibrate(
            &small,
            &large,
            &CalibrationOptions {
                seed,
                ..CalibrationOptions::default()
            },
        )
        .expect("calibrate");
        let mut by_threshold = cal.curve.clone();
        by_threshold.sort_by(|a, b| a.threshold.total_cmp(&b.threshold));
        assert_eq!(
            by_threshold, cal.curve,
            "escalation must grow with the threshold"
        );
        for w in cal.curve.windows(2) {
            assert!(w[0].escalated < w[1].escalated || w[0].threshold == 0.0);
        }
        let first = &cal.curve[0];
        assert_eq!((first.threshold, first.escalated), (0.0, 0.0));
        assert!(close(first.quality, cal.small_dev_quality));
        let last = cal.curve.last().expect("a point");
        assert_eq!((last.threshold, last.escalated), (ESCALATE_ALL, 1.0));
        assert_eq!(last.quality, cal.large_dev_quality);
        let chosen = cal.chosen.expect("everything escalated meets 95%");
        assert!(chosen.quality + TOL >= 0.95 * cal.large_dev_quality);
        assert!(cal.curve.contains(&chosen));
        assert_eq!(cal.heldout.expect("checked").n, 20);
        assert_eq!((cal.paired, cal.dev_n), (40, 20));
    }
}

#[test]
fn split_is_seeded_disjoint_and_complete() {
    let (small, large) = varied(20, 3);
    let (pairs, _) = super::pair(&small, &large, "small", "large").expect("pairs");
    let ids = |v: &[Pair]| v.iter().map(|p| p.id.clone()).collect::<Vec<_>>();
    let (dev, held) = split(pairs.clone(), 0.3, 11).expect("split");
    assert_eq!((dev.len(), held.len()), (6, 14));
    let mut all: Vec<String> = ids(&dev).into_iter().chain(ids(&held)).collect();
    all.sort();
    assert_eq!(all, ids(&pairs), "every example exactly once");
    let (dev2, _) = split(pairs.clone(), 0.3, 11).expect("split");
    assert_eq!(ids(&dev), ids(&dev2));
    let (dev3, _) = split(pairs, 0.3, 12).expect("split");
    assert_ne!(ids(&dev), ids(&dev3), "another seed, another split");
}

#[test]
fn same_seed_same_calibration_whatever_the_record_order() {
    let (small, large) = varied(30, 5);
    let opts = CalibrationOptions {
        seed: 9,
        ..CalibrationOptions::default()
    };
    let a = calibrate(&small, &large, &opts).expect("calibrate");
    let (mut small_rev, mut large_rev) = (small.clone(), large.clone());
    small_rev.reverse();
    large_rev.rotate_left(7);
    assert_eq!(
        a,
        calibrate(&small_rev, &large_rev, &opts).expect("calibrate")
    );
    let other = CalibrationOptions { seed: 10, ..opts };
    assert_ne!(
        a.curve,
        calibrate(&small, &large, &other).expect("calibrate").curve
    );
}

#[test]
fn validator_stands_in_for_a_missing_confidence() {
    let mut unparsed = rec("small", "b", 0.0, None);
    unparsed.unparseable = true;
    let small = [
        rec("small", "a", 1.0, None),
        unparsed,
        rec("small", "c", 1.0, Some(0.3)),
    ];
    let large: Vec<ExampleRecord> = ["a", "b", "c"]
        .iter()
        .map(|id| rec("large", id, 1.0, None))
        .collect();
    let (pairs, notes) = super::pair(&small, &large, "small", "large").expect("pairs");
    let conf: Vec<(String, f64)> = pairs.iter().map(|p| (p.id.clone(), p.confidence)).collect();
    assert_eq!(
        conf,
        [("a".into(), 1.0), ("b".into(), 0.0), ("c".into(), 0.3)]
    );
    assert_eq!(
        notes,
        ["2 examples without a confidence: their validator (parsed or not) was used"]
    );
}

#[test]
fn failed_answers() {
    let small = [
        failed("small", "a"),
        rec("small", "b", 1.0, Some(0.9)),
        rec("small", "c", 1.0, Some(0.9)),
        rec("small", "d", 1.0, Some(0.9)),
        rec("small", "only-small", 1.0, Some(0.9)),
    ];
    let mut no_score = rec("large", "c", 0.0, None);
    no_score.score = None;
    let large = [
        rec("large", "a", 1.0, None),
        failed("large", "b"),
        no_score,
        rec("large", "d", 1.0, None),
        rec("large", "only-large", 1.0, None),
    ];
    let (pairs, notes) = super::pair(&small, &large, "small", "large").expect("pairs");
    let mut want_a = pair(0.0, 0.0, 1.0);
    want_a.id = "a".into();
    want_a.small_cost = Some(0.0); // failed without a cost: counted as $0
    want_a.large_cost = Some(0.001);
    want_a.small_latency = 50.0;
    want_a.large_latency = 100.0;
    assert_eq!(pairs.len(), 2);
    assert_eq!(pairs[0], want_a);
    assert_eq!(pairs[1].id, "d");
    assert_eq!(
        notes,
        [
            "2 examples where 'large' failed or has no score were left out",
            "2 examples with a record of only one candidate were left out (1 only 'small', 1 only 'large')",
            "1 examples where 'small' failed count as confidence 0 (always escalated) and score 0 if kept",
        ]
    );
    // The failed small answer scores 0 only when never escalated.
    let c = curve(&pairs);
    assert_eq!(c[0].threshold, 0.0);
    assert_eq!(c[0].quality, 0.5);
    assert_eq!(c[1].threshold, 0.9);
    assert_eq!(c[1].quality, 1.0);
}

#[test]
fn unreachable_target_gives_no_choice_and_says_why() {
    let (small, large) = varied(20, 1);
    let cal = calibrate(
        &small,
        &large,
        &CalibrationOptions {
            target: 1.5,
            ..CalibrationOptions::default()
        },
    )
    .expect("calibrate");
    assert_eq!((cal.chosen, cal.heldout), (None, None));
    let best = cal.curve.iter().map(|p| p.quality).fold(0.0, f64::max);
    let note = cal.notes.last().expect("a note");
    assert!(
        note.starts_with("no threshold keeps 150.0% of 'large''s dev quality"),
        "{note}"
    );
    let pct = format!("{:.1}% of it", best / cal.large_dev_quality * 100.0);
    assert!(note.contains(&pct), "{note} should contain {pct}");
}

#[test]
fn errors() {
    let (small, large) = varied(10, 2);
    let opts = CalibrationOptions::default();
    let with = |target, dev_fraction| CalibrationOptions {
        target,
        dev_fraction,
        seed: 0,
    };
    for t in [0.0, -0.1, 1.51, f64::NAN] {
        assert!(matches!(
            calibrate(&small, &large, &with(t, 0.5)),
            Err(CalibrateError::Target(_))
        ));
    }
    assert!(calibrate(&small, &large, &with(1.5, 0.5)).is_ok());
    for f in [0.0, 1.0, f64::NAN] {
        assert!(matches!(
            calibrate(&small, &large, &with(0.95, f)),
            Err(CalibrateError::DevFraction(_))
        ));
    }
    // 10 examples at 0.1: 1 dev, 9 held out; at 0.9: 9 and 1.
    assert_eq!(
        calibrate(&small, &large, &with(0.95, 0.1)),
        Err(CalibrateError::TooFew {
            paired: 10,
            dev: 1,
            heldout: 9
        })
    );
    assert!(matches!(
        calibrate(&small, &large, &with(0.95, 0.9)),
        Err(CalibrateError::TooFew {
            dev: 9,
            heldout: 1,
            ..
        })
    ));
    assert!(calibrate(&small[..4], &large, &opts).is_ok());
    assert!(matches!(
        calibrate(&small[..3], &large, &opts),
        Err(CalibrateError::TooFew { .. })
    ));
    assert_eq!(
        calibrate(&[], &large, &opts),
        Err(CalibrateError::NoRecords { side: "small" })
    );
    let strangers = [rec("large", "zzz", 1.0, None)];
    assert!(matches!(
        calibrate(&small, &strangers, &opts),
        Err(CalibrateError::NoCommonExamples { left_out: 0, .. })
    ));
    let mut mixed = large.clone();
    mixed[3].candidate = "other".into();
    assert!(matches!(
        calibrate(&small, &mixed, &opts),
        Err(CalibrateError::MixedCandidates { side: "large", .. })
    ));
    let mut dup = small.clone();
    dup[2].example_id = dup[1].example_id.clone();
    assert!(matches!(
        calibrate(&dup, &large, &opts),
        Err(CalibrateError::DuplicateExample { .. })
    ));
    let mut odd = small.clone();
    odd[0].confidence = Some(1.2);
    let err = calibrate(&odd, &large, &opts).expect_err("confidence above 1");
    assert!(err.to_string().contains("confidence is 1.2"), "{err}");
    let mut nan = large.clone();
    nan[0].score = Some(f64::NAN);
    assert!(matches!(
        calibrate(&small, &nan, &opts),
        Err(CalibrateError::BadValue { field: "score", .. })
    ));
}
