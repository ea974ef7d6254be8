//! A file that is not a model must give a clear error: no crash, no hang.

use std::io::Write;

use rightfit_llama::{Engine, EngineError, EngineOptions};

use crate::support::smollm2;

fn load_err(bytes: &[u8]) -> String {
    let mut f = tempfile::Builder::new()
        .suffix(".gguf")
        .tempfile()
        .expect("temp");
    f.write_all(bytes).expect("write");
    load_path_err(f.path())
}

fn load_path_err(path: &std::path::Path) -> String {
    match Engine::load(
        path,
        EngineOptions {
            threads: 1,
            ..EngineOptions::default()
        },
    ) {
        Ok(_) => panic!("{} loaded but should not have", path.display()),
        Err(e) => {
            assert!(
                matches!(e, EngineError::Model(_) | EngineError::Load { .. }),
                "{e:?}"
            );
            e.to_string()
        }
    }
}

#[test]
fn an_empty_file_is_named_as_empty() {
    let msg = load_err(b"");
    assert!(msg.contains("empty"), "{msg}");
}

#[test]
fn a_foreign_file_is_not_gguf() {
    let msg = load_err(b"<!DOCTYPE html><title>404</title>");
    assert!(msg.contains("not a GGUF file"), "{msg}");
}

#[test]
fn a_missing_path_is_named() {
    let msg = load_path_err(std::path::Path::new("/no/such/dir/model.gguf"));
    assert!(
        msg.contains("/no/such/dir/model.gguf") && msg.contains("no such file"),
        "{msg}"
    );
}

#[test]
fn truncated_copies_of_the_real_model_are_refused_smollm2() {
    let full = std::fs::read(smollm2()).expect("read model");
    // Cut inside the header, and inside the tensor data.
    for cut in [100, 4096, full.len() / 2, full.len() - 1] {
        let msg = load_err(&full[..cut]);
        assert!(msg.contains("truncated"), "cut at {cut}: {msg}");
    }
}

#[test]
fn a_corrupt_header_is_refused_smollm2() {
    let mut bytes = std::fs::read(smollm2()).expect("read model");
    // The version field: an impossible version.
    bytes[4..8].copy_from_slice(&99u32.to_le_bytes());
    let msg = load_err(&bytes);
    assert!(msg.contains("version 99"), "{msg}");
}
