//! Tokenisation and chat templates of the Phi-3 and Mistral (Llama SentencePiece) vocabularies,
//! checked against llama.cpp's own reference files from the pinned llama-cpp-python sdist
//! (`scripts/test-tools` extracts them; `RIGHTFIT_TEST_LLAMA_VOCAB` names the directory):
//! `ggml-vocab-*.gguf` with the inputs and expected ids of its `test-tokenizer-0`, and
//! `tests/test-chat-template.cpp` with its reference renderings.

use std::io::Write;
use std::path::Path;

use rightfit_llama::{EngineError, Vocabulary};
use rightfit_types::Message;

use crate::reference::{llama_reference, reference_template_cases};

/// The vocabulary-only files this checks, both SentencePiece (`tokenizer.ggml.model = llama`).
const VOCABS: &[&str] = &["ggml-vocab-phi-3.gguf", "ggml-vocab-llama-spm.gguf"];

/// The `.inp`/`.out` pairs of llama.cpp's `test-tokenizer-0`, read as its `read_tests` does:
/// inputs separated by `\n__ggml_vocab_test__\n`, one line of space-separated ids per input.
fn tokenizer_cases(vocab: &Path) -> Vec<(String, Vec<u32>)> {
    let read = |ext: &str| {
        let path = vocab.with_extension(format!("gguf.{ext}"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let (inp, out) = (read("inp"), read("out"));
    let sep = "\n__ggml_vocab_test__\n";
    let mut inputs = Vec::new();
    let mut rest = inp.as_str();
    while !rest.is_empty() {
        match rest.find(sep) {
            Some(i) => {
                inputs.push(rest[..i].to_owned());
                rest = &rest[i + sep.len()..];
            }
            None => {
                inputs.push(rest.to_owned());
                rest = "";
            }
        }
    }
    let outputs: Vec<Vec<u32>> = out
        .lines()
        .map(|l| {
            l.split_whitespace()
                .map(|t| t.parse().expect("a token id"))
                .collect()
        })
        .collect();
    assert_eq!(inputs.len(), outputs.len(), "{}", vocab.display());
    assert!(
        inputs.len() > 30,
        "{}: {} cases",
        vocab.display(),
        inputs.len()
    );
    inputs.into_iter().zip(outputs).collect()
}

#[test]
fn phi3_and_llama_spm_tokenise_every_reference_case_exactly() {
    let dir = llama_reference();
    for name in VOCABS {
        let path = dir.join(name);
        let vocab = Vocabulary::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let mut failures = Vec::new();
        let cases = tokenizer_cases(&path);
        for (text, expected) in &cases {
            // test-tokenizer-0 calls common_tokenize(ctx, text, add_special = false,
            // parse_special = false).
            let got = vocab.tokenize(text, false, false).expect("tokenise");
            if &got != expected {
                failures.push(format!("{text:?}: expected {expected:?}, got {got:?}"));
            }
        }
        assert!(
            failures.is_empty(),
            "{name}: {} of {} cases differ:\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n")
        );
    }
}

#[test]
fn phi3_and_llama_spm_reference_ids_detokenise_to_their_text() {
    let dir = llama_reference();
    for name in VOCABS {
        let path = dir.join(name);
        let vocab = Vocabulary::load(&path).unwrap_or_else(|e| panic!("{e}"));
        for (text, expected) in tokenizer_cases(&path) {
            // common_detokenize(ctx, tokens, special = true): remove_special false, unparse true.
            let back = vocab
                .detokenize(&expected, false, true)
                .expect("detokenise");
            assert_eq!(back, text, "{name}: {expected:?}");
        }
    }
}

/// llama.cpp's `test-tokenizer-1-spm`: every token's text tokenises (special tokens parsed) and
/// detokenises back to itself, and so does every Unicode code point it checks.
#[test]
fn phi3_and_llama_spm_round_trip_every_token_and_code_point() {
    let dir = llama_reference();
    for name in VOCABS {
        let vocab = Vocabulary::load(&dir.join(name)).unwrap_or_else(|e| panic!("{e}"));
        for id in 0..vocab.token_count() {
            let piece = vocab.detokenize_bytes(&[id], false, true).expect("piece");
            // The byte tokens <0x80>..<0xFF> are not UTF-8 text on their own and `tokenize`
            // takes text: they are left out (the C++ test feeds their raw bytes back).
            let Ok(text) = std::str::from_utf8(&piece) else {
                continue;
            };
            let tokens = vocab.tokenize(text, false, true).expect("tokenise");
            let back = vocab.detokenize_bytes(&tokens, false, true).expect("back");
            assert_eq!(back, piece, "{name}: token {id} ({text:?}) -> {tokens:?}");
        }
        // Every code point except surrogates, the unassigned planes 4-14, and U+2581 (the
        // SentencePiece space marker, which reads back as a space).
        let points = (0u32..0x11_0000)
            .filter(|&c| !(0xD800..=0xDFFF).contains(&c) && !(0x4_0000..=0xE_0000).contains(&c))
            .filter(|&c| c != 0x2581)
            .filter_map(char::from_u32);
        for c in points {
            let s = c.to_string();
            let tokens = vocab.tokenize(&s, false, true).expect("tokenise");
            let back = vocab.detokenize(&tokens, false, true).expect("detokenise");
            assert_eq!(back, s, "{name}: U+{:04X} -> {tokens:?}", c as u32);
        }
    }
}

#[test]
fn vocabularies_report_their_special_tokens_and_templates() {
    let dir = llama_reference();
    let phi3 = Vocabulary::load(&dir.join("ggml-vocab-phi-3.gguf")).expect("phi-3");
    // Phi-3's 32,000 Llama tokens plus its 64 added ones; <|endoftext|> ends a sequence.
    assert_eq!(phi3.token_count(), 32_064);
    assert_eq!((phi3.bos(), phi3.eos()), (1, 32_000));
    assert!(phi3.adds_bos());
    // "Hello world" is 15043 3186 in the reference files; add_special puts BOS first.
    assert_eq!(
        phi3.tokenize("Hello world", true, false).expect("tokenise"),
        [1, 15043, 3186]
    );
    // Its special tokens are one token each when parsed, characters when not.
    let end = phi3.tokenize("<|end|>", false, true).expect("tokenise");
    assert_eq!(end.len(), 1, "{end:?}");
    assert!(phi3.tokenize("<|end|>", false, false).expect("plain").len() > 1);
    assert_eq!(phi3.detokenize(&end, false, true).expect("text"), "<|end|>");
    assert_eq!(phi3.detokenize(&end, false, false).expect("hidden"), "");
    assert!(
        phi3.chat_template()
            .is_some_and(|t| t.contains("<|assistant|>"))
    );

    let spm = Vocabulary::load(&dir.join("ggml-vocab-llama-spm.gguf")).expect("llama-spm");
    assert_eq!(spm.token_count(), 32_000);
    assert_eq!((spm.bos(), spm.eos()), (1, 2));
    assert!(spm.chat_template().is_none());
    // A model without a template of its own renders with a named one, and only then.
    let hello = [Message::user("Hello")];
    let err = spm.render_chat(&hello, None).expect_err("no template");
    assert!(err.to_string().contains("mistral-v1"), "{err}");
    assert_eq!(
        spm.render_chat(&hello, Some("mistral-v1")).expect("named"),
        " [INST] Hello [/INST]"
    );
}

#[test]
fn bad_vocabulary_files_and_token_ids_are_refused_clearly() {
    let dir = tempfile::tempdir().expect("dir");
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::File::create(&path)
            .and_then(|mut f| f.write_all(bytes))
            .expect("write");
        path
    };
    let err = |path: &Path| Vocabulary::load(path).expect_err("refused").to_string();
    let empty = write("empty.gguf", b"");
    let msg = err(&empty);
    assert!(msg.contains("empty.gguf") && msg.contains("empty"), "{msg}");
    let html = write("page.gguf", b"<!DOCTYPE html><title>404</title>");
    let msg = err(&html);
    assert!(
        msg.contains("page.gguf") && msg.contains("not a GGUF file"),
        "{msg}"
    );
    let missing = dir.path().join("missing.gguf");
    assert!(err(&missing).contains("missing.gguf"));
    // A well-formed GGUF header with an architecture and no tokenizer.
    let mut gguf = b"GGUF".to_vec();
    gguf.extend(3u32.to_le_bytes());
    gguf.extend(0u64.to_le_bytes()); // tensors
    gguf.extend(1u64.to_le_bytes()); // metadata entries
    let key = b"general.architecture";
    gguf.extend((key.len() as u64).to_le_bytes());
    gguf.extend(key);
    gguf.extend(8u32.to_le_bytes()); // string
    gguf.extend(5u64.to_le_bytes());
    gguf.extend(b"llama");
    let bare = write("bare.gguf", &gguf);
    let msg = err(&bare);
    assert!(
        msg.contains("bare.gguf") && msg.contains("no tokenizer"),
        "{msg}"
    );

    // Ids outside the vocabulary would abort inside llama.cpp; they are refused first.
    let vocab =
        Vocabulary::load(&llama_reference().join("ggml-vocab-llama-spm.gguf")).expect("llama-spm");
    for bad in [32_000, u32::MAX] {
        let e = vocab
            .detokenize(&[1, bad], false, true)
            .expect_err("refused");
        assert!(matches!(e, EngineError::InvalidRequest(_)), "{e:?}");
        assert!(e.to_string().contains(&bad.to_string()), "{e}");
    }
    assert_eq!(vocab.detokenize(&[], true, true).expect("empty"), "");
    // A lone byte token is not text: the text call says so, the bytes call gives the byte
    // (ids 3..=258 are the byte tokens <0x00>..<0xFF>).
    let lead = 3 + 0xC3;
    assert_eq!(
        vocab
            .detokenize_bytes(&[lead], false, false)
            .expect("bytes"),
        [0xC3]
    );
    let e = vocab
        .detokenize(&[lead], false, false)
        .expect_err("not text");
    assert!(e.to_string().contains("UTF-8"), "{e}");
}

/// The conversation of llama.cpp's `test-chat-template.cpp`.
fn conversation() -> Vec<Message> {
    vec![
        Message::system("You are a helpful assistant"),
        Message::user("Hello"),
        Message::assistant("Hi there"),
        Message::user("Who are you"),
        Message::assistant("   I am an assistant   "),
        Message::user("Another question"),
    ]
}

/// Reference cases (by their name in `test-chat-template.cpp`) and the built-in template
/// llama.cpp detects for each one's Jinja text.
const BUILTIN_CASES: &[(&str, &str)] = &[
    ("Phi-3-mini", "phi3"),
    ("Phi-3-small", "phi3"),
    ("Phi-3-medium", "phi3"),
    ("Phi-3-vision", "phi3"),
    (
        "mistralai/Mistral-7B-Instruct-v0.2 (NOTE: Old pre-v1 without a system prompt)",
        "llama2",
    ),
    ("TheBloke/FusionNet_34Bx2_MoE-AWQ", "llama2-sys-bos"),
    ("bofenghuang/vigogne-2-70b-chat", "llama2-sys-strip"),
    (
        "mistralai/Mistral-7B-Instruct-v0.2 (mistralai 'v1' template with a system prompt)",
        "mistral-v1",
    ),
    (
        "Mistral-Large-Instruct-2407 (mistralai 'v3' template; modified to have system prompt at start)",
        "mistral-v3",
    ),
    (
        "Mistral-Nemo-Instruct-2407 (mistralai 'v3-tekken' template; modified to have system prompt at start)",
        "mistral-v3-tekken",
    ),
    (
        "mistralai/Mistral-Large-Instruct-2411 (mistralai 'v7' template)",
        "mistral-v7",
    ),
    ("Llama-3", "llama3"),
];

#[test]
fn builtin_templates_render_llama_cpps_reference_conversation() {
    let cases = reference_template_cases();
    let builtins = rightfit_llama::engine::builtin_templates();
    // Rendering needs no weights: the Llama SentencePiece vocabulary carries no template, so
    // only the one asked for is used.
    let vocab =
        Vocabulary::load(&llama_reference().join("ggml-vocab-llama-spm.gguf")).expect("llama-spm");
    for (case, builtin) in BUILTIN_CASES {
        assert!(
            builtins.iter().any(|b| b == builtin),
            "{builtin}: {builtins:?}"
        );
        let reference = cases
            .iter()
            .find(|c| c.name == *case)
            .unwrap_or_else(|| panic!("no case {case:?} in test-chat-template.cpp"));
        // By name, and by the model's own Jinja text (llama.cpp recognises it).
        for template in [*builtin, reference.template.as_str()] {
            let got = vocab
                .render_chat(&conversation(), Some(template))
                .unwrap_or_else(|e| panic!("{case} with {builtin}: {e}"));
            assert_eq!(got, reference.expected, "{case} rendered with {builtin}");
        }
    }
}

#[test]
fn phi3_renders_with_its_embedded_template_as_the_reference_says() {
    let cases = reference_template_cases();
    let expected = &cases
        .iter()
        .find(|c| c.name == "Phi-3-mini")
        .expect("Phi-3-mini case")
        .expected;
    let phi3 = Vocabulary::load(&llama_reference().join("ggml-vocab-phi-3.gguf")).expect("phi-3");
    assert_eq!(
        &phi3.render_chat(&conversation(), None).expect("render"),
        expected
    );
    // As a prompt: BOS, then <|system|>, <|end|>, <|user|>, <|assistant|> as single tokens.
    let ids = phi3.tokenize(expected, true, true).expect("tokenise");
    assert_eq!(ids[0], phi3.bos());
    let specials: Vec<u32> = ["<|system|>", "<|end|>", "<|user|>", "<|assistant|>"]
        .iter()
        .map(|s| {
            let t = phi3.tokenize(s, false, true).expect("special");
            assert_eq!(t.len(), 1, "{s}: {t:?}");
            t[0]
        })
        .collect();
    assert_eq!(ids[1], specials[0]);
    for s in &specials {
        assert!(ids.contains(s), "{s} in {ids:?}");
    }
}

/// The catalogue's Phi-3-mini shape (used by `rightfit devices` before the 2.4 GB file is
/// downloaded) against the one llama.cpp's Phi-3 vocabulary file carries in its header.
#[test]
fn the_phi3_catalogue_shape_matches_llama_cpps_phi3_header() {
    use rightfit_llama::gguf::{Value, read_header};
    let header = read_header(&llama_reference().join("ggml-vocab-phi-3.gguf")).expect("header");
    let get = |k: &str| header.get_u64(&format!("phi3.{k}")).expect(k);
    let (layers, heads, kv_heads, embd, ff) = (
        get("block_count"),
        get("attention.head_count"),
        get("attention.head_count_kv"),
        get("embedding_length"),
        get("feed_forward_length"),
    );
    let Some(Value::Array { len: vocab, .. }) = header.metadata.get("tokenizer.ggml.tokens") else {
        panic!("no token list")
    };
    let kv = embd / heads * kv_heads;
    // Embeddings and output, final norm; per layer two norms, fused QKV, output, gate+up, down.
    let params = 2 * vocab * embd
        + embd
        + layers * (2 * embd + embd * (embd + 2 * kv) + embd * embd + 3 * embd * ff);
    let entry = rightfit_llama::catalog::find("phi3-mini-4k").expect("in the catalogue");
    let shape = entry.shape().expect("a shape");
    assert_eq!(shape.params, params);
    assert_eq!(
        (
            u64::from(shape.layers),
            u64::from(shape.heads),
            u64::from(shape.kv_heads)
        ),
        (layers, heads, kv_heads)
    );
    assert_eq!(u64::from(shape.key_length), embd / heads);
    assert_eq!(
        Some(u64::from(shape.train_context)),
        header.context_length()
    );
}
