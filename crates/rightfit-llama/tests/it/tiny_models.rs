//! The `phi3` and `llama` (Mistral's) architectures on tiny random-weight files: the engine loads
//! them, generates, batches and scores, and the GGUF reader reports their shape as written.
//!
//! `tests/fixtures/tiny_gguf.py` writes each file at test time (F32 weights from a fixed seed,
//! the tokenizer of llama.cpp's matching vocabulary-only file) and computes the same model's
//! forward pass in NumPy, the independent reference the engine's scores and greedy choices are
//! compared with. Needs `RIGHTFIT_TEST_PYTHON` (with `gguf` and `numpy`) and
//! `RIGHTFIT_TEST_LLAMA_VOCAB`.

use std::path::{Path, PathBuf};
use std::process::Command;

use futures::executor::block_on;
use rightfit_llama::gguf::{read_header, shape::shape_of};
use rightfit_llama::{Engine, EngineOptions, Vocabulary};
use rightfit_types::{ChatRequest, FinishReason, LoglikelihoodRequest, Message};

use crate::reference::{llama_reference, reference_template_cases};
use crate::support::complete;

/// The shape a fixture is written with.
#[derive(Debug, Clone, Copy)]
struct Dims {
    arch: &'static str,
    vocab_file: &'static str,
    vocab: u64,
    layers: u64,
    heads: u64,
    kv_heads: u64,
    embd: u64,
    ff: u64,
    context: u64,
    rope_base: f64,
}

/// Phi-3-mini's layout (fused QKV and gate/up, NeoX rotary, as many KV heads as heads), tiny.
const PHI3: Dims = Dims {
    arch: "phi3",
    vocab_file: "ggml-vocab-phi-3.gguf",
    vocab: 32_064,
    layers: 2,
    heads: 4,
    kv_heads: 4,
    embd: 64,
    ff: 128,
    context: 4096,
    rope_base: 10_000.0,
};

/// Mistral-7B's layout (separate Q, K, V; grouped-query attention, 4 query heads per KV head as
/// in the real 32/8; rotary base 1e6 and 32k context as in v0.2), tiny.
const MISTRAL: Dims = Dims {
    arch: "llama",
    vocab_file: "ggml-vocab-llama-spm.gguf",
    vocab: 32_000,
    layers: 2,
    heads: 8,
    kv_heads: 2,
    embd: 64,
    ff: 128,
    context: 32_768,
    rope_base: 1_000_000.0,
};

impl Dims {
    /// Elements of every tensor the fixture writes.
    fn params(&self) -> u64 {
        let (e, f) = (self.embd, self.ff);
        let kv = e / self.heads * self.kv_heads;
        let attention = e * e + 2 * kv * e + e * e; // Q, K, V, output
        let ffn = 3 * e * f; // gate, up, down
        2 * self.vocab * e + e + self.layers * (2 * e + attention + ffn)
    }
}

fn python() -> PathBuf {
    let var = rightfit_config::env::TEST_PYTHON;
    std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        panic!(
            "{var} is not set: run the tests with scripts/test (scripts/test-tools makes a venv \
             with the gguf package)"
        )
    })
}

fn fixture_script(args: &[&str]) -> Vec<u8> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tiny_gguf.py");
    let out = Command::new(python())
        .arg(script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python().display()));
    assert!(
        out.status.success(),
        "tiny_gguf.py {args:?} failed ({}); if gguf is missing, run scripts/test-tools:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A tiny model of `dims` in a temporary directory; `template` replaces the vocabulary's chat
/// template.
struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn fixture(dims: &Dims, template: Option<&str>) -> Fixture {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join(format!("tiny-{}.gguf", dims.arch));
    let vocab = llama_reference().join(dims.vocab_file);
    let n = |v: u64| v.to_string();
    let (layers, heads, kv, embd, ff, ctx) = (
        n(dims.layers),
        n(dims.heads),
        n(dims.kv_heads),
        n(dims.embd),
        n(dims.ff),
        n(dims.context),
    );
    let base = dims.rope_base.to_string();
    let mut args = vec![
        "write",
        "--arch",
        dims.arch,
        "--vocab",
        vocab.to_str().expect("utf-8 path"),
        "--out",
        path.to_str().expect("utf-8 path"),
        "--layers",
        &layers,
        "--heads",
        &heads,
        "--kv-heads",
        &kv,
        "--embd",
        &embd,
        "--ff",
        &ff,
        "--context",
        &ctx,
        "--rope-base",
        &base,
    ];
    let template_file = dir.path().join("template.jinja");
    if let Some(t) = template {
        std::fs::write(&template_file, t).expect("write template");
        args.extend(["--chat-template", template_file.to_str().expect("utf-8")]);
    }
    fixture_script(&args);
    Fixture { _dir: dir, path }
}

/// What the NumPy forward pass says about `tokens`.
#[derive(Debug, serde::Deserialize)]
struct Reference {
    /// `logprobs[i]`: log-probability of `tokens[i + 1]` after `tokens[..=i]`.
    logprobs: Vec<f64>,
    /// `argmax[i]`: the most likely token after `tokens[..=i]`.
    argmax: Vec<u32>,
    greedy: Option<Greedy>,
}

#[derive(Debug, serde::Deserialize)]
struct Greedy {
    tokens: Vec<u32>,
    min_margin: f64,
}

/// The reference for each token sequence, from one run of the script.
fn references(model: &Path, sequences: &[Vec<u32>], greedy: usize) -> Vec<Reference> {
    let lists: Vec<String> = sequences
        .iter()
        .map(|s| s.iter().map(u32::to_string).collect::<Vec<_>>().join(","))
        .collect();
    let greedy = greedy.to_string();
    let mut args = vec!["forward", "--model", model.to_str().expect("utf-8")];
    for list in &lists {
        args.extend(["--tokens", list.as_str()]);
    }
    args.extend(["--greedy", &greedy]);
    let out = fixture_script(&args);
    let refs: Vec<Reference> = serde_json::from_slice(&out).expect("reference JSON");
    assert_eq!(refs.len(), sequences.len());
    refs
}

fn options(parallel: u32) -> EngineOptions {
    EngineOptions {
        context_size: 512,
        parallel,
        threads: 2,
        batch_invariant: true,
        ..EngineOptions::default()
    }
}

fn load(f: &Fixture, parallel: u32) -> Engine {
    Engine::load(&f.path, options(parallel)).unwrap_or_else(|e| panic!("{e}"))
}

fn greedy(prompt: &str, n: u32) -> ChatRequest {
    let mut r = ChatRequest::completion(prompt).with_max_tokens(n);
    r.ignore_eos = true;
    r
}

const PROMPT: &str = "The capital of France is";

#[test]
fn tiny_phi3_and_mistral_report_the_shape_they_were_written_with() {
    for dims in [PHI3, MISTRAL] {
        let f = fixture(&dims, None);
        let header = read_header(&f.path).expect("header");
        assert_eq!(header.architecture(), Some(dims.arch));
        let key = |k: &str| header.get_u64(&format!("{}.{k}", dims.arch));
        assert_eq!(key("embedding_length"), Some(dims.embd));
        assert_eq!(key("feed_forward_length"), Some(dims.ff));
        let s = shape_of(&f.path).expect("shape");
        let head = u32::try_from(dims.embd / dims.heads).expect("small");
        assert_eq!(
            (
                u64::from(s.layers),
                u64::from(s.heads),
                u64::from(s.kv_heads)
            ),
            (dims.layers, dims.heads, dims.kv_heads),
            "{}",
            dims.arch
        );
        assert_eq!((s.key_length, s.value_length), (head, head));
        assert_eq!(u64::from(s.train_context), dims.context);
        assert_eq!(s.params, dims.params(), "{}", dims.arch);
        assert_eq!(s.weights_bytes, dims.params() * 4, "all F32");
        assert_eq!(s.quantization, "F32");
        // llama.cpp reads the same shape.
        let e = load(&f, 1);
        let info = e.info();
        assert_eq!(info.architecture, dims.arch);
        assert_eq!(info.parameters, dims.params());
        assert_eq!(u64::from(info.embedding_size), dims.embd);
        assert_eq!(u64::from(info.vocab_size), dims.vocab);
        assert_eq!(u64::from(info.context_train), dims.context);
        assert_eq!(info.context_size, 512);
    }
}

#[test]
fn tiny_phi3_and_mistral_generate_what_a_numpy_forward_pass_says() {
    const N: u32 = 8;
    for dims in [PHI3, MISTRAL] {
        let f = fixture(&dims, None);
        let e = load(&f, 2);
        let r = complete(&e, greedy(PROMPT, N));
        assert_eq!(r.usage.completion_tokens, N, "{}", dims.arch);
        assert_eq!(r.choices[0].finish_reason, FinishReason::Length);
        let prompt = block_on(e.tokenize(PROMPT)).expect("tokens");
        assert_eq!(prompt[0], 1, "{}: BOS first", dims.arch);
        let reference = references(&f.path, std::slice::from_ref(&prompt), N as usize);
        let g = reference
            .into_iter()
            .next()
            .and_then(|r| r.greedy)
            .expect("greedy");
        // A fixture sanity check: no near-tie that float32 rounding could flip.
        assert!(g.min_margin > 0.05, "{}: {g:?}", dims.arch);
        // The engine's text is the text of the reference's tokens.
        let vocab = Vocabulary::load(&f.path).expect("the fixture's vocabulary");
        let before = vocab
            .detokenize_bytes(&prompt, false, false)
            .expect("prompt");
        let all = [prompt.clone(), g.tokens.clone()].concat();
        let after = vocab.detokenize_bytes(&all, false, false).expect("all");
        let expected = String::from_utf8_lossy(&after[before.len()..]);
        assert_eq!(
            r.text(),
            expected,
            "{}: reference ids {:?}",
            dims.arch,
            g.tokens
        );
        // Greedy decoding is the same on a second engine.
        drop(e);
        assert_eq!(complete(&load(&f, 1), greedy(PROMPT, N)).text(), r.text());
    }
}

#[test]
fn tiny_phi3_and_mistral_score_continuations_as_a_numpy_forward_pass_does() {
    for dims in [PHI3, MISTRAL] {
        let f = fixture(&dims, None);
        let e = load(&f, 4);
        // The engine's greedy next token, as text: a continuation greedy decoding gives.
        let first = complete(&e, greedy(PROMPT, 1)).text().to_owned();
        let continuations = vec![
            " Paris".to_owned(),
            " Berlin".to_owned(),
            " a city in Germany".to_owned(),
            first.clone(),
        ];
        let scores = block_on(e.loglikelihood(LoglikelihoodRequest {
            model: String::new(),
            context: PROMPT.to_owned(),
            continuations: continuations.clone(),
            normalize: Default::default(),
        }))
        .expect("scores");
        let context = block_on(e.tokenize(PROMPT)).expect("context");
        assert_eq!(scores.context_tokens as usize, context.len());
        let wholes: Vec<Vec<u32>> = continuations
            .iter()
            .map(|c| block_on(e.tokenize(&format!("{PROMPT}{c}"))).expect("whole"))
            .collect();
        let refs = references(&f.path, &wholes, 0);
        for (((cont, score), whole), r) in continuations
            .iter()
            .zip(&scores.scores)
            .zip(&wholes)
            .zip(&refs)
        {
            assert_eq!(whole[..context.len()], context[..], "{cont:?}");
            let n = whole.len() - context.len();
            assert_eq!(score.tokens as usize, n, "{}: {cont:?}", dims.arch);
            let at = context.len() - 1..whole.len() - 1;
            let expected: f64 = r.logprobs[at.clone()].iter().sum();
            assert!(
                (score.logprob - expected).abs() < 0.01 * n as f64,
                "{}: {cont:?}: engine {} vs NumPy {expected}",
                dims.arch,
                score.logprob
            );
            let greedy = at
                .zip(&whole[context.len()..])
                .all(|(i, t)| r.argmax[i] == *t);
            assert_eq!(score.is_greedy, greedy, "{}: {cont:?}", dims.arch);
        }
        // The generated token is one token, and greedy; the others are not.
        assert_eq!(scores.scores[3].tokens, 1, "{first:?}");
        assert!(scores.scores[3].is_greedy, "{first:?}: {scores:?}");
        assert_eq!(scores.best(), Some(3), "{scores:?}");
    }
}

#[test]
fn tiny_phi3_and_mistral_decode_together_as_they_do_alone() {
    let prompts = [
        "The capital of France is",
        "Write a haiku about the sea.",
        "List three prime numbers:",
        "Why is the sky blue? Because",
        "Once upon a time",
        "12 times 12 is",
    ];
    for dims in [PHI3, MISTRAL] {
        let f = fixture(&dims, None);
        let solo = Engine::load(
            &f.path,
            EngineOptions {
                prefix_cache: false,
                ..options(1)
            },
        )
        .expect("solo");
        let separate: Vec<String> = prompts
            .iter()
            .map(|p| complete(&solo, greedy(p, 6)).text().to_owned())
            .collect();
        drop(solo);
        let batched = load(&f, 6);
        let provider = rightfit_llama::LocalProvider::new(dims.arch, batched.clone());
        let together =
            block_on(futures::future::join_all(prompts.iter().map(|p| {
                rightfit_providers::Provider::complete(&provider, greedy(p, 6))
            })));
        for (i, r) in together.into_iter().enumerate() {
            let r = r.expect("ok");
            assert_eq!(r.usage.completion_tokens, 6);
            assert_eq!(r.text(), separate[i], "{}: prompt {i}", dims.arch);
        }
        let stats = block_on(batched.stats()).expect("stats");
        // Fewer decode calls than generated tokens: the sequences shared decode steps.
        assert!(stats.decode_calls < stats.generated_tokens, "{stats:?}");
    }
}

#[test]
fn tiny_phi3_and_mistral_render_chats_with_their_embedded_templates() {
    let cases = reference_template_cases();
    let case = |name: &str| {
        cases
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no case {name:?}"))
    };
    // Phi-3 keeps the vocabulary file's own template; the Mistral file gets the template
    // Mistral-7B-Instruct-v0.2 ships (llama.cpp renders it as its `llama2` format).
    let mistral =
        case("mistralai/Mistral-7B-Instruct-v0.2 (NOTE: Old pre-v1 without a system prompt)");
    for (dims, template, expected) in [
        (PHI3, None, &case("Phi-3-mini").expected),
        (MISTRAL, Some(mistral.template.as_str()), &mistral.expected),
    ] {
        let f = fixture(&dims, template);
        let e = load(&f, 1);
        assert!(e.info().has_chat_template, "{}", dims.arch);
        let messages = vec![
            Message::system("You are a helpful assistant"),
            Message::user("Hello"),
            Message::assistant("Hi there"),
            Message::user("Who are you"),
            Message::assistant("   I am an assistant   "),
            Message::user("Another question"),
        ];
        let mut request = ChatRequest::chat(messages.clone()).with_max_tokens(3);
        request.ignore_eos = true;
        let r = complete(&e, request);
        assert_eq!(r.usage.completion_tokens, 3);
        // The prompt is the reference rendering, tokenised with BOS and special tokens.
        let vocab = Vocabulary::load(&f.path).expect("vocabulary");
        assert_eq!(
            &vocab.render_chat(&messages, None).expect("render"),
            expected
        );
        let prompt = vocab.tokenize(expected, true, true).expect("tokenise");
        assert_eq!(
            r.usage.prompt_tokens as usize,
            prompt.len(),
            "{}",
            dims.arch
        );
    }
}
