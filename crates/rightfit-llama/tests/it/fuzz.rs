//! Fuzz test of the GGUF header reader (`rightfit_testkit::fuzz`: a small valid GGUF mutated,
//! `RIGHTFIT_FUZZ_CASES` cases): any file is a header or an error naming the file — no panic, and
//! no allocation sized by a count the file claims (a claimed 2^64 tensors must not abort).

use std::io::Write;

use proptest::prelude::*;
use rightfit_llama::gguf::read_header;
use rightfit_llama::gguf::shape::shape_from_header;
use rightfit_testkit::fuzz;

fn string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// A GGUF v3 file with three metadata entries (a string, a u32, an array of strings) and one
/// 4x2 F32 tensor, aligned to 32 bytes.
fn tiny_gguf() -> Vec<u8> {
    let mut b = b"GGUF".to_vec();
    b.extend_from_slice(&3u32.to_le_bytes());
    b.extend_from_slice(&1u64.to_le_bytes());
    b.extend_from_slice(&3u64.to_le_bytes());
    string(&mut b, "general.architecture");
    b.extend_from_slice(&8u32.to_le_bytes());
    string(&mut b, "llama");
    string(&mut b, "llama.context_length");
    b.extend_from_slice(&4u32.to_le_bytes());
    b.extend_from_slice(&2048u32.to_le_bytes());
    string(&mut b, "tokenizer.ggml.tokens");
    b.extend_from_slice(&9u32.to_le_bytes());
    b.extend_from_slice(&8u32.to_le_bytes());
    b.extend_from_slice(&2u64.to_le_bytes());
    string(&mut b, "a");
    string(&mut b, "b");
    string(&mut b, "token_embd.weight");
    b.extend_from_slice(&2u32.to_le_bytes());
    b.extend_from_slice(&4u64.to_le_bytes());
    b.extend_from_slice(&2u64.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes());
    b.resize(b.len().div_ceil(32) * 32, 0);
    b.extend_from_slice(&[0u8; 32]);
    b
}

#[test]
fn the_seed_is_a_valid_gguf() {
    let mut f = tempfile::NamedTempFile::new().expect("temp");
    f.write_all(&tiny_gguf()).expect("write");
    let h = read_header(f.path()).expect("the seed reads");
    assert_eq!(h.tensors.len(), 1);
    assert_eq!(h.get_str("general.architecture"), Some("llama"));
}

/// Found by the fuzz test: dimensions whose product passes 2^64 panicked (`attempt to multiply
/// with overflow`) in a debug build and gave a wrong size in a release one.
#[test]
fn dimensions_that_overflow_are_corruption_not_a_panic() {
    let mut bytes = tiny_gguf();
    // The tensor's dims follow its name and dimension count: make them 2^40 x 2^40.
    let name = b"token_embd.weight";
    let at = bytes
        .windows(name.len())
        .position(|w| w == name)
        .expect("tensor name")
        + name.len()
        + 4;
    bytes[at..at + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    bytes[at + 8..at + 16].copy_from_slice(&(1u64 << 40).to_le_bytes());
    let mut f = tempfile::NamedTempFile::new().expect("temp");
    f.write_all(&bytes).expect("write");
    let e = read_header(f.path()).expect_err("refused").to_string();
    assert!(e.contains("more than 2^64 bytes"), "{e}");
    assert!(e.contains(&f.path().display().to_string()), "{e}");
}

proptest! {
    #![proptest_config(fuzz::config())]

    #[test]
    fn any_file_is_a_header_or_an_error_naming_it(bytes in fuzz::bytes(vec![tiny_gguf()])) {
        let mut f = tempfile::NamedTempFile::new().expect("temp");
        f.write_all(&bytes).expect("write");
        match read_header(f.path()) {
            Err(e) => {
                let path = f.path().display().to_string();
                prop_assert!(e.to_string().contains(&path), "{}", e);
            }
            // What the rest of rightfit reads from a header that passed.
            Ok(h) => {
                let _ = (h.parameter_count(), h.quantization(), h.tensor_types());
                let _ = (h.context_length(), h.chat_template());
                let _ = shape_from_header(&h);
            }
        }
    }
}
