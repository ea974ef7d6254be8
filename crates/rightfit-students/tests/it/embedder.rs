//! all-MiniLM-L6-v2 in candle against an independent reference: token ids from the `tokenizers`
//! library and a numpy forward pass (tests/it/reference.py).

use std::io::Write;
use std::process::{Command, Stdio};

use rightfit_providers::{Provider, ProviderError};
use rightfit_types::{ChatRequest, EmbeddingRequest, Message};

use crate::support::{minilm, minilm_dir};

const SENTENCES: [&str; 6] = [
    "I am still waiting on my card?",
    "What can I do if my card still hasn't arrived after 2 weeks?",
    "Café Über-naïve résumé: ¿dónde está el cajero? 東京 ATM!!",
    "",
    "   tabs\tand\nnewlines  ",
    "unaffable transfers—between accounts (GBP→EUR) [MASK] 1,000.50",
];

fn cosine(a: &[f32], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| f64::from(*x) * y).sum()
}

#[test]
fn token_ids_and_embeddings_match_the_python_reference_minilm() {
    let python = std::env::var_os(rightfit_config::env::TEST_PYTHON).unwrap_or_else(|| {
        panic!("RIGHTFIT_TEST_PYTHON is not set: run scripts/test-tools (it installs numpy, safetensors and tokenizers)")
    });
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/reference.py");
    let mut child = Command::new(&python)
        .arg(script)
        .arg(minilm_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(serde_json::to_string(&SENTENCES).expect("json").as_bytes())
        .expect("write sentences");
    let out = child.wait_with_output().expect("python runs");
    assert!(
        out.status.success(),
        "reference.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reference: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");

    let e = minilm();
    let texts: Vec<String> = SENTENCES.iter().map(|s| s.to_string()).collect();
    let (vectors, tokens) = e.embed_texts(&texts, true).expect("embeds");
    let mut total = 0;
    for (i, text) in SENTENCES.iter().enumerate() {
        let ids: Vec<u32> = serde_json::from_value(reference["ids"][i].clone()).expect("ids");
        assert_eq!(
            e.tokenize(text).expect("tokenizes"),
            ids,
            "token ids of {text:?}"
        );
        total += ids.len();
        let want: Vec<f64> =
            serde_json::from_value(reference["embeddings"][i].clone()).expect("vector");
        assert_eq!(vectors[i].len(), 384);
        let worst = vectors[i]
            .iter()
            .zip(&want)
            .map(|(a, b)| (f64::from(*a) - b).abs())
            .fold(0.0, f64::max);
        assert!(worst < 1e-4, "{text:?}: largest difference {worst}");
        assert!(cosine(&vectors[i], &want) > 0.99999, "{text:?}");
    }
    assert_eq!(tokens, total);
}

#[test]
fn batching_and_padding_do_not_change_a_vector_minilm() {
    let e = minilm();
    let long =
        "a much longer sentence about a card payment that was declined at the shop".to_owned();
    let short = "top up".to_owned();
    let (alone, _) = e
        .embed_texts(std::slice::from_ref(&short), true)
        .expect("embeds");
    let (together, _) = e
        .embed_texts(&[long.clone(), short.clone(), long], true)
        .expect("embeds");
    let worst = alone[0]
        .iter()
        .zip(&together[1])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(worst < 1e-5, "{worst}");
    // Truncation keeps [CLS] … [SEP] within the model's 256 tokens.
    let huge = "word ".repeat(1000);
    let ids = e.tokenize(&huge).expect("tokenizes");
    assert_eq!(ids.len(), e.max_tokens());
    assert_eq!((ids[0], ids[ids.len() - 1]), (101, 102));
}

#[tokio::test]
async fn the_provider_embeds_and_refuses_chat_minilm() {
    let e = minilm();
    let r = e
        .embed(EmbeddingRequest {
            model: String::new(),
            inputs: vec!["card".into(), "cash".into()],
            normalize: false,
        })
        .await
        .expect("embeds");
    assert_eq!(r.embeddings.len(), 2);
    let norm: f32 = r.embeddings[0].iter().map(|v| v * v).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() > 1e-3, "unnormalised on request: {norm}");
    assert_eq!(r.prompt_tokens, 6);
    assert!(e.capabilities().embeddings && !e.capabilities().loglikelihood);
    let chat = e
        .complete(ChatRequest::chat(vec![Message::user("hi")]))
        .await;
    assert!(matches!(chat, Err(ProviderError::Unsupported { .. })));
    assert!(e.health().await.expect("health").ready);
}

#[test]
fn a_directory_without_the_model_is_a_located_error() {
    let dir = tempfile::tempdir().expect("dir");
    let e = rightfit_students::SentenceEmbedder::load(
        "x",
        dir.path(),
        rightfit_students::EmbedderOptions::default(),
    )
    .expect_err("no model");
    assert!(e.to_string().contains("config.json"), "{e}");
    let e = rightfit_students::SentenceEmbedder::load(
        "x",
        &dir.path().join("absent"),
        rightfit_students::EmbedderOptions::default(),
    )
    .expect_err("no directory");
    assert!(
        e.to_string().contains("models pull all-minilm-l6-v2"),
        "{e}"
    );
}
