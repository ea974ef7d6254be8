//! Each strategy's control flow through the real runner, against scripted providers that log
//! every call: the order and number of calls, seeds, vote ties, answer extraction, critiques
//! and revisions, escalation decisions, similarity-chosen examples.

pub(crate) mod support;

use rightfit_types::{ResponseFormat, Role};

use support::{Models, get, project, run};

#[tokio::test]
async fn chain_of_thought_reasons_then_the_answer_line_is_extracted() {
    let dir = tempfile::tempdir().expect("dir");
    let p = project(
        dir.path(),
        &[("sunny day", "yes"), ("rain", "no")],
        "",
        "[[components.c.candidates]]\nmodel = \"small\"\nstrategy = \"chain-of-thought\"\nanswer_prefix = \"Final:\"",
    );
    let models = Models::default().chat("small", |s| {
        let label = if s.text.contains("sunny") {
            "yes"
        } else {
            "no"
        };
        Ok(format!(
            "Final: maybe\nIt is about the weather.\nFinal: {label}"
        ))
    });
    let records = run(&p, &models).await;
    let r = get(&records, "small/chain-of-thought", "e1");
    assert_eq!(r.output.as_deref(), Some("yes"));
    assert_eq!(r.score, Some(1.0));
    assert_eq!(r.steps.len(), 1);
    assert_eq!(r.steps[0].kind, "reasoning");
    assert!(r.steps[0].output.contains("about the weather"));
    assert_eq!(r.steps[0].answer.as_deref(), Some("yes"));
    let calls = models.calls();
    assert_eq!(calls.len(), 2);
    assert!(
        calls[0].text.contains("Think step by step"),
        "{}",
        calls[0].text
    );
    assert!(calls[0].text.contains("\"Final:\""));
    // A label answer normally stops at the first newline; reasoning must not.
    assert!(calls[0].stop.is_empty());
    assert_eq!(
        get(&records, "small/chain-of-thought", "e2").score,
        Some(1.0)
    );
}

#[tokio::test]
async fn self_consistency_samples_with_distinct_seeds_and_ties_go_to_the_first_answer() {
    let dir = tempfile::tempdir().expect("dir");
    let p = project(
        dir.path(),
        &[("one", "no"), ("two", "yes")],
        "",
        "[[components.c.candidates]]\nmodel = \"small\"\nstrategy = \"self-consistency\"\nsamples = 5\nseed = 10",
    );
    // Seeds 10..=14. Example one: no, yes, yes, ???, no -> a 2-2 tie that "no" reached first.
    // Example two: yes three times, one failure, one no -> yes with 3/5.
    let models = Models::default().chat("small", |s| {
        let seed = s.seed.expect("each sample has a seed");
        match (s.text.as_str(), seed) {
            ("one", 10 | 14) => Ok("no".into()),
            ("one", 11 | 12) => Ok("yes".into()),
            ("one", _) => Ok("I cannot tell".into()),
            ("two", 13) => Err("overloaded".into()),
            ("two", 14) => Ok("no".into()),
            _ => Ok("yes".into()),
        }
    });
    let records = run(&p, &models).await;
    let one = get(&records, "small/self-consistency-5", "e1");
    assert_eq!(one.output.as_deref(), Some("no"));
    assert_eq!(one.confidence, Some(0.4));
    assert_eq!(one.calls, 5);
    assert_eq!((one.tokens_in, one.tokens_out), (500, 50));
    // Samples run side by side: the slowest one (seed 14: 50 + 14 ms).
    assert!((one.latency_ms - 64.0).abs() < 1e-9, "{}", one.latency_ms);
    assert!((one.cost_usd.expect("priced") - 5.0 * 0.00012).abs() < 1e-12);
    let keys: Vec<Option<&str>> = one.steps.iter().map(|s| s.answer.as_deref()).collect();
    assert_eq!(
        keys,
        [None, None, None, None, None],
        "answers equal outputs"
    );
    assert_eq!(one.steps.iter().filter(|s| s.kind == "sample").count(), 5);
    let two = get(&records, "small/self-consistency-5", "e2");
    assert_eq!(two.output.as_deref(), Some("yes"));
    assert_eq!(two.confidence, Some(0.6));
    assert!(two.steps.iter().any(|s| s.error.is_some()));
    let calls = models.calls();
    let mut seeds: Vec<u64> = calls
        .iter()
        .filter(|c| c.text == "one")
        .filter_map(|c| c.seed)
        .collect();
    seeds.sort_unstable();
    assert_eq!(seeds, [10, 11, 12, 13, 14]);
    assert!(calls.iter().all(|c| c.temperature == Some(0.7)));
}

#[tokio::test]
async fn reflection_drafts_critiques_and_revises_until_the_critic_accepts() {
    let dir = tempfile::tempdir().expect("dir");
    let p = project(
        dir.path(),
        &[("sunny", "yes")],
        "",
        "[[components.c.candidates]]\nmodel = \"small\"\nstrategy = \"reflection\"\nrounds = 3\ncritic = \"critic\"\n\n\
         [[components.c.candidates]]\nname = \"stubborn\"\nmodel = \"small\"\nstrategy = \"reflection\"\nrounds = 1",
    );
    let models = Models::default()
        .chat("small", |s| {
            if s.text.starts_with("A reviewer said") {
                Ok("yes".into())
            } else if s.messages.iter().any(|(_, m)| m.contains("check answers")) {
                // The candidate's own model as critic never accepts.
                Ok("Wrong: think again.".into())
            } else {
                Ok("no".into())
            }
        })
        .chat("critic", |s| {
            if s.text.ends_with("Answer:\nyes") {
                Ok("OK".into())
            } else {
                Ok("The line is positive: yes.".into())
            }
        });
    let records = run(&p, &models).await;
    let r = get(&records, "small/reflection-3-by-critic", "e1");
    let kinds: Vec<(&str, &str)> = r
        .steps
        .iter()
        .map(|s| (s.kind.as_str(), s.by.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("draft", "small"),
            ("critique", "critic"),
            ("revision", "small"),
            ("critique", "critic")
        ]
    );
    assert_eq!(r.output.as_deref(), Some("yes"));
    assert_eq!(r.calls, 4);
    assert_eq!(r.confidence, Some(1.0));
    // Calls in turn: latencies add up.
    assert!((r.latency_ms - 200.0).abs() < 1e-9);
    // The revision saw the draft and the critique.
    let calls = models.calls();
    let revision = calls
        .iter()
        .find(|c| c.text.starts_with("A reviewer said"))
        .expect("a revision");
    let n = revision.messages.len();
    assert_eq!(revision.messages[n - 2], (Role::Assistant, "no".to_owned()));
    assert!(revision.text.contains("The line is positive"));

    let s = get(&records, "stubborn", "e1");
    assert_eq!(s.calls, 3, "draft, one critique, one revision");
    assert_eq!(s.output.as_deref(), Some("yes"));
    assert_eq!(
        s.confidence,
        Some(0.0),
        "the last revision was not accepted"
    );
}

/// `local` scores " yes"/" no": the context's text decides, with a margin set by the row.
fn confident_local(context: &str, continuation: &str) -> f64 {
    let (want, p) = if context.ends_with("sure yes") {
        (" yes", 0.9)
    } else if context.ends_with("sure no") {
        (" no", 0.9)
    } else {
        (" yes", 0.55)
    };
    if continuation == want {
        f64::ln(p)
    } else {
        f64::ln(1.0 - p)
    }
}

#[tokio::test]
async fn a_cascade_escalates_only_below_its_threshold() {
    let dir = tempfile::tempdir().expect("dir");
    let p = project(
        dir.path(),
        &[("sure yes", "yes"), ("sure no", "no"), ("unsure", "no")],
        "",
        "[[components.c.candidates]]\nmodel = \"local\"\nstrategy = \"loglikelihood\"\n\n\
         [[components.c.candidates]]\nmodel = \"large\"\n\n\
         [[components.c.candidates]]\nstrategy = \"cascade\"\nstages = [\"local/loglikelihood\", \"large/zero-shot\"]\nthreshold = 0.5",
    );
    let models = Models::default()
        .scorer("local", confident_local)
        .chat("large", |s| {
            Ok(if s.text.contains("yes") { "yes" } else { "no" }.into())
        });
    let records = run(&p, &models).await;
    let name = "cascade:local/loglikelihood>large/zero-shot";
    // Margins: 0.9 - 0.1 = 0.8 (kept), 0.8 (kept), 0.55 - 0.45 = 0.1 (escalated).
    for (e, calls, conf, out) in [
        ("e1", 1, 0.8, "yes"),
        ("e2", 1, 0.8, "no"),
        ("e3", 2, 0.1, "no"),
    ] {
        let r = get(&records, name, e);
        assert_eq!(r.calls, calls, "{e}: {:?}", r.steps);
        assert!(
            (r.confidence.expect("confidence") - conf).abs() < 1e-9,
            "{e}"
        );
        assert_eq!(r.output.as_deref(), Some(out), "{e}");
        assert_eq!(r.score, Some(1.0), "{e}");
        let stages: Vec<&str> = r.steps.iter().map(|s| s.by.as_str()).collect();
        assert_eq!(stages.len(), calls as usize);
        assert_eq!(stages[0], "local/loglikelihood");
    }
    // The small model alone got the unsure one wrong.
    assert_eq!(get(&records, "local/loglikelihood", "e3").score, Some(0.0));
    // Only escalations reached the large model: 3 examples alone + 1 escalation.
    let large = models.calls().iter().filter(|c| c.model == "large").count();
    assert_eq!(large, 4);
}

#[tokio::test]
async fn a_cascade_trusts_a_validator_or_a_verifier() {
    let dir = tempfile::tempdir().expect("dir");
    let p = project(
        dir.path(),
        &[("alpha", "yes"), ("beta", "no")],
        "",
        "[[components.c.candidates]]\nmodel = \"small\"\n\n\
         [[components.c.candidates]]\nmodel = \"large\"\n\n\
         [[components.c.candidates]]\nname = \"validated\"\nstrategy = \"cascade\"\nstages = [\"small/zero-shot\", \"large/zero-shot\"]\nconfidence = \"validator\"\nthreshold = 1.0\n\n\
         [[components.c.candidates]]\nname = \"verified\"\nstrategy = \"cascade\"\nstages = [\"small/zero-shot\", \"large/zero-shot\"]\nconfidence = \"verifier\"\nverifier = \"critic\"\nthreshold = 0.5",
    );
    let models = Models::default()
        // "alpha": a label; "beta": no label at all (fails the validator).
        .chat("small", |s| {
            Ok(if s.text == "alpha" { "no" } else { "hmm" }.into())
        })
        .chat("large", |s| {
            Ok(if s.text == "alpha" { "yes" } else { "no" }.into())
        })
        // The verifier rejects the small model's "no" for alpha.
        .chat("critic", |s| {
            Ok(if s.text.contains("Answer:\nno") {
                "No."
            } else {
                "Yes"
            }
            .into())
        });
    let records = run(&p, &models).await;
    let v = get(&records, "validated", "e1");
    assert_eq!(
        (v.calls, v.confidence, v.output.as_deref()),
        (1, Some(1.0), Some("no"))
    );
    let v = get(&records, "validated", "e2");
    assert_eq!(
        (v.calls, v.confidence, v.output.as_deref()),
        (2, Some(0.0), Some("no"))
    );
    let v = get(&records, "verified", "e1");
    let kinds: Vec<&str> = v.steps.iter().map(|s| s.kind.as_str()).collect();
    assert_eq!(kinds, ["stage", "verify", "stage"]);
    assert_eq!(
        (v.calls, v.confidence, v.output.as_deref()),
        (3, Some(0.0), Some("yes"))
    );
    assert_eq!(v.score, Some(1.0));
    let verify = models
        .calls()
        .into_iter()
        .find(|c| c.model == "critic")
        .expect("verifier called");
    assert!(verify.text.contains("Task:\nalpha"), "{}", verify.text);
    assert!(
        verify
            .text
            .ends_with("Is the answer correct? Reply yes or no.")
    );
}

#[tokio::test]
async fn a_cascade_escalates_on_the_small_models_token_log_probabilities() {
    let dir = tempfile::tempdir().expect("dir");
    let p = project(
        dir.path(),
        &[("alpha", "no"), ("beta", "yes")],
        "",
        "[[components.c.candidates]]\nmodel = \"small\"\n\n\
         [[components.c.candidates]]\nmodel = \"large\"\n\n\
         [[components.c.candidates]]\nname = \"alone\"\nmodel = \"small\"\nconfidence = \"token-min\"\n\n\
         [[components.c.candidates]]\nname = \"mean\"\nstrategy = \"cascade\"\nstages = [\"small/zero-shot\", \"large/zero-shot\"]\nconfidence = \"token-mean\"\nthreshold = 0.5\n\n\
         [[components.c.candidates]]\nname = \"least\"\nstrategy = \"cascade\"\nstages = [\"small/zero-shot\", \"large/zero-shot\"]\nconfidence = \"field-min\"\nthreshold = 0.5",
    );
    // The small model is sure of "no" (alpha) and unsure of its "yes" (beta): its second
    // letter is unlikely, which the mean forgives and the least does not.
    let models = Models::default()
        .chat_with_tokens(
            "small",
            |s| Ok(if s.text == "alpha" { "no" } else { "yes" }.into()),
            |answer| {
                answer
                    .chars()
                    .enumerate()
                    .map(|(i, c)| {
                        let lp = if answer == "yes" && i == 1 {
                            -1.5
                        } else {
                            -0.05
                        };
                        (c.to_string(), lp)
                    })
                    .collect()
            },
        )
        .chat("large", |s| {
            Ok(if s.text == "alpha" { "no" } else { "yes" }.into())
        });
    let records = run(&p, &models).await;
    let no = (-0.05f64).exp();
    let mean_yes = ((-0.05 - 1.5 - 0.05) / 3.0f64).exp();
    let least_yes = (-1.5f64).exp();
    let v = get(&records, "mean", "e1");
    assert_eq!((v.calls, v.output.as_deref()), (1, Some("no")));
    assert!((v.confidence.expect("confidence") - no).abs() < 1e-12);
    // The stage's tokens are kept in its step.
    let stage = &v.steps[0];
    assert_eq!(stage.logprobs.as_ref().map(Vec::len), Some(2), "{stage:?}");
    // Mean of "yes": exp(-0.533) = 0.59 ≥ 0.5, answered; least: exp(-1.5) = 0.22, escalated.
    let v = get(&records, "mean", "e2");
    assert_eq!((v.calls, v.output.as_deref()), (1, Some("yes")));
    assert!((v.confidence.expect("confidence") - mean_yes).abs() < 1e-12);
    let v = get(&records, "least", "e2");
    assert_eq!((v.calls, v.output.as_deref()), (2, Some("yes")));
    assert!((v.confidence.expect("confidence") - least_yes).abs() < 1e-12);
    // A single call reads its own tokens when asked to.
    let v = get(&records, "alone", "e2");
    assert!((v.confidence.expect("confidence") - least_yes).abs() < 1e-12);
    assert_eq!(get(&records, "small/zero-shot", "e2").confidence, None);
    // Only that candidate and the cascades' first stages asked for log-probabilities; the
    // plain candidates and the last stages did not.
    let asked: Vec<(String, Option<u32>)> = models
        .calls()
        .into_iter()
        .map(|c| (c.model, c.logprobs))
        .collect();
    assert_eq!(
        asked
            .iter()
            .filter(|(m, l)| m == "small" && l.is_some())
            .count(),
        6,
        "{asked:?}"
    );
    assert!(
        asked.iter().all(|(m, l)| m == "small" || l.is_none()),
        "{asked:?}"
    );
}

#[tokio::test]
async fn similar_examples_are_the_nearest_by_embedding_most_similar_last() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("pool.jsonl"),
        "{\"id\": \"p1\", \"text\": \"aaaa\", \"label\": \"yes\"}\n\
         {\"id\": \"p2\", \"text\": \"bbbb\", \"label\": \"no\"}\n\
         {\"id\": \"p3\", \"text\": \"aaab\", \"label\": \"yes\"}\n\
         {\"id\": \"p4\", \"text\": \"zzzz\", \"label\": \"no\"}\n",
    )
    .expect("pool");
    let p = project(
        dir.path(),
        &[("aaaa", "yes"), ("zzzb", "no")],
        "few_shot = { k = 2, dataset = { path = \"pool.jsonl\", id = \"id\" }, pool = 4, stratify = false }",
        "[[components.c.candidates]]\nmodel = \"small\"\nstrategy = \"few-shot\"\nk = 2\nselect = \"similar\"\nembedder = \"local\"",
    );
    let models = Models::default()
        .chat("small", |s| {
            Ok(if s.text.contains('a') { "yes" } else { "no" }.into())
        })
        .scorer("local", |_, _| 0.0);
    let records = run(&p, &models).await;
    let name = "small/few-shot-similar-2";
    let r = get(&records, name, "e1");
    assert_eq!(r.steps[0].kind, "select-shots");
    // "aaaa" is nearest to p1 (aaaa), then p3 (aaab); shown most similar last.
    assert_eq!(r.steps[0].output, "chosen examples: p3, p1");
    assert_eq!(r.calls, 2, "one embedding, one answer");
    let r = get(&records, name, "e2");
    assert_eq!(r.steps[0].output, "chosen examples: p2, p4");
    let calls = models.calls();
    let chat = calls
        .iter()
        .find(|c| c.kind == "chat" && c.text == "zzzb")
        .expect("the answer call");
    let users: Vec<&str> = chat
        .messages
        .iter()
        .filter(|(r, _)| *r == Role::User)
        .map(|(_, m)| m.as_str())
        .collect();
    assert_eq!(users, ["bbbb", "zzzz", "zzzb"]);
    // The pool was embedded once (one batch), then one call per example.
    let embeds = calls.iter().filter(|c| c.kind == "embed").count();
    assert_eq!(embeds, 3);
}

#[tokio::test]
async fn a_pool_without_labels_is_labelled_by_the_large_model() {
    let dir = tempfile::tempdir().expect("dir");
    // Production inputs: no label field at all.
    std::fs::write(
        dir.path().join("traffic.jsonl"),
        "{\"id\": \"t1\", \"text\": \"banana\"}\n{\"id\": \"t2\", \"text\": \"plum\"}\n{\"id\": \"t3\", \"text\": \"???\"}\n",
    )
    .expect("traffic");
    let p = project(
        dir.path(),
        &[("apple", "yes")],
        "few_shot = { k = 2, dataset = { path = \"traffic.jsonl\", id = \"id\" }, labelled_by = \"large\", stratify = false }",
        "[[components.c.candidates]]\nmodel = \"small\"\nstrategy = \"few-shot\"\nk = 2",
    );
    let models = Models::default()
        .chat("small", |_| Ok("yes".into()))
        // The labeller cannot label "???" (no label in its answer): that example is dropped.
        .chat("large", |s| {
            Ok(match s.text.as_str() {
                "???" => "I do not know",
                t if t.contains('a') => "yes",
                _ => "no",
            }
            .into())
        });
    let records = run(&p, &models).await;
    assert_eq!(get(&records, "small/few-shot-2", "e1").score, Some(1.0));
    let calls = models.calls();
    let labelled: Vec<&str> = calls
        .iter()
        .filter(|c| c.model == "large")
        .map(|c| c.text.as_str())
        .collect();
    assert_eq!(labelled.len(), 3, "each pool input once: {labelled:?}");
    let answer = calls
        .iter()
        .find(|c| c.model == "small")
        .expect("the candidate's call");
    let turns: Vec<(Role, &str)> = answer
        .messages
        .iter()
        .skip(1) // the system prompt
        .map(|(r, m)| (*r, m.as_str()))
        .collect();
    let mut shown: Vec<(&str, &str)> = turns
        .chunks(2)
        .filter(|t| t.len() == 2)
        .map(|t| (t[0].1, t[1].1))
        .collect();
    shown.sort_unstable();
    assert_eq!(shown, [("banana", "yes"), ("plum", "no")]);
}

#[tokio::test]
async fn constrained_labels_on_an_api_are_a_json_schema_read_back() {
    let dir = tempfile::tempdir().expect("dir");
    let p = project(
        dir.path(),
        &[("sunny", "yes"), ("rain", "no")],
        "",
        "[[components.c.candidates]]\nmodel = \"small\"\nconstrained = true",
    );
    let models = Models::default().chat("small", |s| {
        Ok(format!(
            "{{\"label\": \"{}\"}}",
            if s.text == "sunny" { "yes" } else { "no" }
        ))
    });
    let records = run(&p, &models).await;
    for e in ["e1", "e2"] {
        let r = get(&records, "small/zero-shot", e);
        assert_eq!(r.score, Some(1.0), "{r:?}");
        assert!(!r.output.as_deref().unwrap_or("").contains('{'), "{r:?}");
    }
    let Some(ResponseFormat::JsonSchema { schema, strict, .. }) = &models.calls()[0].format else {
        panic!(
            "a JSON Schema response format: {:?}",
            models.calls()[0].format
        )
    };
    assert!(*strict);
    assert_eq!(
        schema["properties"]["label"]["enum"],
        serde_json::json!(["yes", "no"])
    );
    assert_eq!(schema["required"], serde_json::json!(["label"]));
}
