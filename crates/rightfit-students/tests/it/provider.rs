//! The classifier served as a provider: chat answers the label with ln P as its log-probability,
//! log-likelihood requests score labels, streams carry the same answer.

use std::sync::Arc;

use futures::StreamExt;
use rightfit_providers::{Provider, ProviderError};
use rightfit_students::{ClassifierProvider, TrainOptions, train};
use rightfit_types::{ChatRequest, LoglikelihoodRequest, Message, StreamEvent};

use crate::support::{KeywordEmbedder, keyword_vector};

/// A classifier over keyword counts: card → "card_issue", cash → "atm", pin → "pin_reset".
fn provider() -> ClassifierProvider {
    let texts = [
        "my card",
        "card card",
        "cash please",
        "cash",
        "pin",
        "my pin pin",
    ];
    let targets = [0usize, 0, 1, 1, 2, 2];
    let mut x = Vec::new();
    let mut y = Vec::new();
    for _ in 0..5 {
        for (t, &label) in texts.iter().zip(&targets) {
            x.push(keyword_vector(t));
            y.push(label);
        }
    }
    let labels = ["card_issue", "atm", "pin_reset"]
        .map(String::from)
        .to_vec();
    let options = TrainOptions {
        validation_fraction: 0.0,
        max_epochs: 100,
        ..TrainOptions::default()
    };
    let (c, _) = train(&x, &y, &labels, &options, &mut |_| {}).expect("trains");
    ClassifierProvider::new(
        "intent-student",
        Arc::new(c),
        Arc::new(KeywordEmbedder),
        true,
    )
}

#[tokio::test]
async fn a_chat_request_is_answered_with_the_label_and_its_probability() {
    let p = provider();
    let request = ChatRequest::chat(vec![
        Message::system("Classify the intent."),
        Message::user("an earlier question about cash"),
        Message::assistant("atm"),
        Message::user("I lost my card"),
    ]);
    let r = p.complete(request).await.expect("answers");
    assert_eq!(r.text(), "card_issue");
    assert_eq!(r.model, "intent-student");
    let lp = r.choices[0].logprobs.as_ref().expect("logprobs");
    assert_eq!(lp.len(), 1);
    assert_eq!(lp[0].token, "card_issue");
    let expected = p
        .classifier()
        .probabilities(&keyword_vector("I lost my card"))
        .expect("fits")[0];
    assert!((lp[0].logprob.exp() - f64::from(expected)).abs() < 1e-6);
    assert!(expected > 0.5, "{expected}");
    assert_eq!(r.usage.prompt_tokens, 4);
    assert_eq!(r.usage.completion_tokens, 1);
    assert!(r.timings.total_ms >= 0.0);

    // Asking for alternatives ranks the labels.
    let mut request = ChatRequest::chat(vec![Message::user("cash")]);
    request.logprobs = Some(3);
    let r = p.complete(request).await.expect("answers");
    let top = &r.choices[0].logprobs.as_ref().expect("logprobs")[0].top;
    assert_eq!(top.len(), 3);
    assert_eq!(top[0].token, "atm");
    assert!(top[0].logprob >= top[1].logprob && top[1].logprob >= top[2].logprob);
    let total: f64 = top.iter().map(|t| t.logprob.exp()).sum();
    assert!((total - 1.0).abs() < 1e-5, "{total}");
}

#[tokio::test]
async fn a_stream_carries_the_same_answer() {
    let p = provider();
    let request = ChatRequest::chat(vec![Message::user("reset my pin")]);
    let whole = p.complete(request.clone()).await.expect("answers");
    let events: Vec<StreamEvent> = p
        .stream(request)
        .await
        .expect("streams")
        .map(|e| e.expect("event"))
        .collect()
        .await;
    assert!(matches!(&events[0], StreamEvent::Delta { text, .. } if text == "pin_reset"));
    assert!(matches!(events.last(), Some(StreamEvent::Done { .. })));
    let collected = rightfit_providers::collect_stream(
        "intent-student",
        1,
        futures::stream::iter(events.into_iter().map(Ok)).boxed(),
    )
    .await
    .expect("collects");
    assert_eq!(collected.choices, whole.choices);
}

#[tokio::test]
async fn log_likelihoods_score_each_label() {
    let p = provider();
    let r = p
        .loglikelihood(LoglikelihoodRequest {
            model: String::new(),
            context: "where can I get cash".into(),
            continuations: vec![" card_issue".into(), " atm".into(), " PIN_RESET".into()],
            normalize: Default::default(),
        })
        .await
        .expect("scores");
    assert_eq!(r.best(), Some(1));
    assert!(r.scores[1].is_greedy && !r.scores[0].is_greedy);
    let total: f64 = r.scores.iter().map(|s| s.logprob.exp()).sum();
    assert!((total - 1.0).abs() < 1e-5, "{total}");
    assert!(r.scores.iter().all(|s| s.tokens == 1));
    assert!(p.capabilities().loglikelihood);

    let e = p
        .loglikelihood(LoglikelihoodRequest {
            model: String::new(),
            context: "x".into(),
            continuations: vec![" yes".into()],
            normalize: Default::default(),
        })
        .await
        .expect_err("not a label");
    assert!(
        matches!(&e, ProviderError::InvalidRequest { detail, .. } if detail.contains("'yes'")),
        "{e}"
    );
}

#[tokio::test]
async fn the_input_function_chooses_what_is_embedded() {
    // Served behind a prompt template: only the text after "Query:" is the training input.
    let p = provider().with_input(Arc::new(|t: &str| {
        t.rsplit("Query:").next().unwrap_or(t).to_owned()
    }));
    let request = ChatRequest::chat(vec![Message::user(
        "Labels: card_issue, atm, pin_reset (not about a card).\nQuery: cash machine",
    )]);
    assert_eq!(p.complete(request).await.expect("answers").text(), "atm");
    let none = ChatRequest::chat(vec![Message::system("no user message")]);
    assert!(matches!(
        p.complete(none).await,
        Err(ProviderError::InvalidRequest { .. })
    ));
}
