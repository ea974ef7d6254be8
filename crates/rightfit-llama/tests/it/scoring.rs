//! Scoring many continuations at once on SmolLM2-135M: the prefix tree decoded on many sequence
//! ids gives the scores each continuation gets alone, however the work is cut (more
//! continuations than scoring sequence ids, batches smaller than the tree, an engine with no
//! scoring sequence ids left).

use futures::executor::block_on;
use rightfit_llama::{Engine, EngineOptions};
use rightfit_providers::Provider;
use rightfit_types::{LabelNorm, LoglikelihoodRequest, LoglikelihoodResponse};

use crate::support::{load, options, provider};

const CONTEXT: &str = "Message: I still have not received my new card.\nIntent:";

/// Labels in the manner of BANKING77's: many share leading tokens (more than the 32 scoring
/// sequence ids, so they are scored in two rounds).
fn labels() -> Vec<String> {
    let mut out = Vec::new();
    for head in ["card", "top_up", "transfer", "cash_withdrawal", "pending"] {
        for tail in [
            "arrival",
            "failed",
            "limits",
            "not_working",
            "charge",
            "reverted",
            "fee",
            "declined",
        ] {
            out.push(format!(" {head}_{tail}"));
        }
    }
    out.push(" lost_or_stolen_card".to_owned());
    out.push(" x".to_owned());
    out
}

fn score(e: &Engine, continuations: Vec<String>) -> LoglikelihoodResponse {
    block_on(provider(e).loglikelihood(LoglikelihoodRequest {
        model: String::new(),
        context: CONTEXT.into(),
        continuations,
        normalize: Default::default(),
    }))
    .expect("scores")
}

fn assert_close(a: &LoglikelihoodResponse, b: &LoglikelihoodResponse, what: &str) {
    assert_eq!(a.scores.len(), b.scores.len());
    for (i, (x, y)) in a.scores.iter().zip(&b.scores).enumerate() {
        assert_eq!(x.tokens, y.tokens, "{what}: continuation {i}");
        assert_eq!(x.is_greedy, y.is_greedy, "{what}: continuation {i}");
        // Different batch shapes round differently in f32.
        assert!(
            (x.logprob - y.logprob).abs() < 1e-2,
            "{what}: continuation {i}: {x:?} vs {y:?}"
        );
    }
}

#[test]
fn many_labels_at_once_score_as_each_label_alone_smollm2() {
    let labels = labels();
    assert!(labels.len() > 32);
    let e = load(options(4));
    let together = score(&e, labels.clone());
    let mut alone = together.clone();
    alone.scores.clear();
    for l in &labels {
        alone.scores.extend(score(&e, vec![l.clone()]).scores);
    }
    assert_close(&together, &alone, "one request vs one per label");
    for norm in [LabelNorm::None, LabelNorm::Token, LabelNorm::Byte] {
        assert_eq!(
            together.best_normalised(&labels, norm),
            alone.best_normalised(&labels, norm),
            "{norm:?}"
        );
    }
    // Shared leading tokens are decoded once: fewer tokens computed than the continuations
    // hold after their first token.
    let before = block_on(e.stats()).expect("stats");
    score(&e, labels.clone());
    let after = block_on(e.stats()).expect("stats");
    let tail_tokens: u64 = together
        .scores
        .iter()
        .map(|s| u64::from(s.tokens) - 1)
        .sum();
    let computed = after.prompt_tokens_evaluated - before.prompt_tokens_evaluated;
    assert!(
        computed < tail_tokens,
        "{computed} computed for {tail_tokens} tail tokens"
    );
    drop(e);

    // A batch smaller than the tree, and four scoring sequence ids: several rounds of several
    // decodes.
    let small = load(EngineOptions {
        batch_size: 8,
        ..options(4)
    });
    assert_close(&score(&small, labels.clone()), &together, "batch of 8");
    drop(small);
    // No scoring sequence ids left (every output row of a batch is a slot's): the context's own
    // sequence takes them one by one.
    let full = load(EngineOptions {
        batch_size: 16,
        ..options(16)
    });
    assert_close(&score(&full, labels), &together, "no scoring sequence ids");
}

#[test]
fn length_normalised_choices_follow_lm_evaluation_harness() {
    let r = LoglikelihoodResponse {
        model: String::new(),
        scores: [(-3.0, 1), (-4.0, 4)]
            .into_iter()
            .map(|(logprob, tokens)| rightfit_types::ContinuationScore {
                logprob,
                tokens,
                is_greedy: false,
            })
            .collect(),
        context_tokens: 1,
    };
    let c = [" no".to_owned(), " not at all".to_owned()];
    assert_eq!(r.best_normalised(&c, LabelNorm::None), Some(0));
    // Per token: -3 vs -1; per byte: -1 vs -0.36.
    assert_eq!(r.best_normalised(&c, LabelNorm::Token), Some(1));
    assert_eq!(r.best_normalised(&c, LabelNorm::Byte), Some(1));
}
