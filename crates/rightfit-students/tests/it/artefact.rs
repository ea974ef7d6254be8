//! The artefact on disk: a round trip, and each corruption a located error, never a panic.

use std::collections::BTreeMap;
use std::path::Path;

use rightfit_students::artefact::{self, TrainingSummary};
use rightfit_students::{
    ArtefactInfo, Classifier, EmbedderRef, ModelKind, Provenance, StudentError, TrainOptions, train,
};

use crate::support::clusters;

fn trained(model: ModelKind) -> (Classifier, ArtefactInfo) {
    let (x, y, labels) = clusters(10, 9);
    let options = TrainOptions {
        model,
        max_epochs: 20,
        ..TrainOptions::default()
    };
    let (c, report) = train(&x, &y, &labels, &options, &mut |_| {}).expect("trains");
    let info = ArtefactInfo {
        embedder: EmbedderRef {
            model: "toy".into(),
            sha256: "ab".repeat(32),
            normalize: true,
        },
        options,
        training: TrainingSummary::from(&report),
        metrics: BTreeMap::from([("test_accuracy".to_owned(), 1.0)]),
        provenance: Provenance {
            data_sha256: Some("cd".repeat(32)),
            teacher: None,
            notes: BTreeMap::from([("component".to_owned(), "intent".to_owned())]),
        },
    };
    (c, info)
}

#[test]
fn an_artefact_round_trips_and_replaces_the_old_one_whole() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("intent");
    for model in [ModelKind::Linear, ModelKind::Mlp { hidden: 6 }] {
        let (c, info) = trained(model);
        artefact::save(&path, &c, &info).expect("saves");
        let back = artefact::load(&path).expect("loads");
        assert_eq!(back.classifier, c);
        assert_eq!(back.manifest.embedder, info.embedder);
        assert_eq!(back.manifest.provenance, info.provenance);
        assert_eq!(back.manifest.metrics["test_accuracy"], 1.0);
        assert_eq!(back.manifest.format_version, artefact::FORMAT_VERSION);
        assert_eq!(back.manifest.dims, 4);
        back.check_embedder("toy", Some(&"ab".repeat(32)), 4)
            .expect("the same embedder fits");
    }
    // Only the artefact is left: no staging or old directories beside it.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["intent".to_owned()]);
}

fn saved() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("intent");
    let (c, info) = trained(ModelKind::Linear);
    artefact::save(&path, &c, &info).expect("saves");
    (dir, path)
}

fn artefact_error(path: &Path) -> (std::path::PathBuf, String) {
    match artefact::load(path).expect_err("refused") {
        StudentError::Artefact { path, detail } => (path, detail),
        other => panic!("expected an artefact error, got {other}"),
    }
}

fn edit_manifest(path: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let file = path.join("manifest.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("read")).expect("json");
    edit(&mut v);
    std::fs::write(&file, serde_json::to_string(&v).expect("json")).expect("write");
}

#[test]
fn truncated_weights_are_a_located_error() {
    let (_dir, path) = saved();
    let weights = path.join("weights.f32");
    let bytes = std::fs::read(&weights).expect("read");
    std::fs::write(&weights, &bytes[..bytes.len() - 10]).expect("truncate");
    let (at, detail) = artefact_error(&path);
    assert_eq!(at, weights);
    assert!(
        detail.contains("truncated") && detail.contains("layer0.bias"),
        "{detail}"
    );
}

#[test]
fn changed_weights_are_a_located_error() {
    let (_dir, path) = saved();
    let weights = path.join("weights.f32");
    let mut bytes = std::fs::read(&weights).expect("read");
    bytes[20] ^= 0x40;
    std::fs::write(&weights, &bytes).expect("write");
    let (at, detail) = artefact_error(&path);
    assert_eq!(at, weights);
    assert!(detail.contains("SHA-256"), "{detail}");
}

#[test]
fn an_unknown_format_version_is_a_located_error() {
    let (_dir, path) = saved();
    edit_manifest(&path, |v| v["format_version"] = 7.into());
    let (at, detail) = artefact_error(&path);
    assert_eq!(at, path.join("manifest.json"));
    assert!(
        detail.contains("format version 7") && detail.contains("reads version 1"),
        "{detail}"
    );
}

#[test]
fn a_manifest_that_does_not_fit_its_weights_is_a_located_error() {
    let (_dir, path) = saved();
    edit_manifest(&path, |v| v["dims"] = 384.into());
    let (at, detail) = artefact_error(&path);
    assert_eq!(at, path.join("manifest.json"));
    assert!(detail.contains("384 dimensions"), "{detail}");

    let (_dir, path) = saved();
    std::fs::write(
        path.join("manifest.json"),
        "{\"format\": \"rightfit-classifier\",",
    )
    .expect("write");
    let (_, detail) = artefact_error(&path);
    assert!(detail.contains("not valid JSON"), "{detail}");

    let (_dir, path) = saved();
    edit_manifest(&path, |v| v["labels"] = serde_json::json!(["a", "a", "c"]));
    assert!(artefact_error(&path).1.contains("'a' appears twice"));
}

#[test]
fn an_embedder_of_other_dimensions_or_weights_does_not_fit() {
    let (_dir, path) = saved();
    let a = artefact::load(&path).expect("loads");
    let e = a.check_embedder("toy", None, 384).expect_err("dims");
    assert!(
        e.to_string().contains("4-dimensional") && e.to_string().contains("384"),
        "{e}"
    );
    let e = a.check_embedder("other", None, 4).expect_err("name");
    assert!(e.to_string().contains("'toy'"), "{e}");
    let e = a.check_embedder("toy", Some("00"), 4).expect_err("hash");
    assert!(e.to_string().contains("changed since training"), "{e}");
}

#[test]
fn a_missing_artefact_names_the_file() {
    let dir = tempfile::tempdir().expect("dir");
    let e = artefact::load(&dir.path().join("nothing")).expect_err("missing");
    assert!(e.to_string().contains("nothing/manifest.json"), "{e}");
}
