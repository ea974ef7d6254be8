//! A trained classifier on disk: a directory with `manifest.json` (format version, labels, the
//! embedding model it was trained on and that model's SHA-256, dimensions, options, metrics and
//! provenance, and the weights file's size, SHA-256 and tensor table) and `weights.f32` (the
//! tensors as little-endian `f32`, in the table's order).
//!
//! Saving writes a fresh directory beside the destination and renames it into place, so a reader
//! sees the old artefact or the new one, never half of one. Loading checks everything it reads
//! and answers a located error for a corrupt, truncated, foreign or mismatched artefact.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::classifier::{Classifier, Dense, ModelKind, TrainOptions, TrainReport};
use crate::error::StudentError;

/// The format this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;
const FORMAT: &str = "rightfit-classifier";
const MANIFEST: &str = "manifest.json";
const WEIGHTS: &str = "weights.f32";

/// The embedding model a classifier reads, as the caller knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbedderRef {
    /// Its name (`all-minilm-l6-v2`, a GGUF model's name).
    pub model: String,
    /// SHA-256 of its weights file, lowercase hex.
    pub sha256: String,
    /// Whether the embeddings were scaled to unit length.
    pub normalize: bool,
}

/// Where a classifier came from; filled by the caller.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// SHA-256 of the training data, as the caller defines it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_sha256: Option<String>,
    /// The teacher whose answers were the targets, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teacher: Option<String>,
    /// Anything else worth keeping (component, data file, creation time).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub notes: BTreeMap<String, String>,
}

/// One tensor in the weights file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TensorEntry {
    /// `mean`, `scale`, `layer0.weight`, `layer0.bias`, …
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
}

impl TensorEntry {
    fn len(&self) -> usize {
        self.shape.iter().product()
    }
}

/// The weights file as the manifest describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightsEntry {
    /// File name inside the artefact directory.
    pub file: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its SHA-256.
    pub sha256: String,
    /// The tensors, in file order.
    pub tensors: Vec<TensorEntry>,
}

/// A summary of training, kept in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingSummary {
    /// Rows trained on.
    pub train_examples: usize,
    /// Rows held out for early stopping.
    pub validation_examples: usize,
    /// Epochs run.
    pub epochs: usize,
    /// The epoch kept.
    pub best_epoch: usize,
    /// Seconds spent training.
    pub seconds: f64,
}

impl From<&TrainReport> for TrainingSummary {
    fn from(r: &TrainReport) -> Self {
        Self {
            train_examples: r.train_examples,
            validation_examples: r.validation_examples,
            epochs: r.epochs.len(),
            best_epoch: r.best_epoch,
            seconds: r.seconds,
        }
    }
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always `rightfit-classifier`.
    pub format: String,
    /// [`FORMAT_VERSION`] when written by this code.
    pub format_version: u32,
    /// The labels, in output order.
    pub labels: Vec<String>,
    /// Linear or MLP.
    pub model: ModelKind,
    /// Embedding dimensions.
    pub dims: usize,
    /// The embedding model.
    pub embedder: EmbedderRef,
    /// The training options used.
    pub options: TrainOptions,
    /// What training did.
    pub training: TrainingSummary,
    /// Figures the caller measured (`validation_accuracy`, `test_accuracy`, …).
    pub metrics: BTreeMap<String, f64>,
    /// Where it came from.
    pub provenance: Provenance,
    /// The weights file.
    pub weights: WeightsEntry,
}

/// What the caller supplies beside the classifier when saving.
#[derive(Debug, Clone, PartialEq)]
pub struct ArtefactInfo {
    /// The embedding model.
    pub embedder: EmbedderRef,
    /// The options it was trained with.
    pub options: TrainOptions,
    /// What training did.
    pub training: TrainingSummary,
    /// Figures to keep.
    pub metrics: BTreeMap<String, f64>,
    /// Where it came from.
    pub provenance: Provenance,
}

/// A classifier read back, with its manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Artefact {
    /// The classifier.
    pub classifier: Classifier,
    /// Everything the manifest says.
    pub manifest: Manifest,
    /// The directory it was read from.
    pub dir: PathBuf,
}

impl Artefact {
    /// Checks that an embedding model fits this classifier: the same name and dimensions, and
    /// the same weights when `sha256` is given. The error says which differs.
    pub fn check_embedder(
        &self,
        model: &str,
        sha256: Option<&str>,
        dims: usize,
    ) -> Result<(), StudentError> {
        let m = &self.manifest;
        let mismatch = |detail: String| StudentError::Artefact {
            path: self.dir.join(MANIFEST),
            detail,
        };
        if dims != m.dims {
            return Err(mismatch(format!(
                "trained on {}-dimensional embeddings from '{}', but '{model}' gives {dims} — \
                 serve it with the model it was trained on, or train again",
                m.dims, m.embedder.model
            )));
        }
        if model != m.embedder.model {
            return Err(mismatch(format!(
                "trained on embeddings from '{}', not '{model}'",
                m.embedder.model
            )));
        }
        if let Some(sha) = sha256.filter(|s| *s != m.embedder.sha256) {
            return Err(mismatch(format!(
                "trained on '{}' with SHA-256 {}, but the model file has {sha} — it changed \
                 since training; train again",
                m.embedder.model, m.embedder.sha256
            )));
        }
        Ok(())
    }
}

fn tensors(c: &Classifier) -> Vec<(TensorEntry, &[f32])> {
    let mut out = vec![
        (entry("mean", vec![c.dims()]), c.mean.as_slice()),
        (entry("scale", vec![c.dims()]), c.scale.as_slice()),
    ];
    for (i, l) in c.layers.iter().enumerate() {
        out.push((
            entry(&format!("layer{i}.weight"), vec![l.inputs, l.outputs]),
            &l.weight,
        ));
        out.push((entry(&format!("layer{i}.bias"), vec![l.outputs]), &l.bias));
    }
    out
}

fn entry(name: &str, shape: Vec<usize>) -> TensorEntry {
    TensorEntry {
        name: name.to_owned(),
        shape,
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StudentError + '_ {
    move |source| StudentError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes `classifier` to the directory `dir` (replacing what is there), atomically.
pub fn save(dir: &Path, classifier: &Classifier, info: &ArtefactInfo) -> Result<(), StudentError> {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(parent).map_err(io(parent))?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "classifier".to_owned());
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}.new-"))
        .tempdir_in(parent)
        .map_err(io(parent))?;
    let mut bytes = Vec::new();
    let mut table = Vec::new();
    for (t, values) in tensors(classifier) {
        values
            .iter()
            .for_each(|v| bytes.extend_from_slice(&v.to_le_bytes()));
        table.push(t);
    }
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        format_version: FORMAT_VERSION,
        labels: classifier.labels.clone(),
        model: classifier.kind,
        dims: classifier.dims(),
        embedder: info.embedder.clone(),
        options: info.options.clone(),
        training: info.training.clone(),
        metrics: info.metrics.clone(),
        provenance: info.provenance.clone(),
        weights: WeightsEntry {
            file: WEIGHTS.to_owned(),
            bytes: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(&bytes)),
            tensors: table,
        },
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| StudentError::Artefact {
        path: dir.join(MANIFEST),
        detail: format!("cannot serialise the manifest: {e}"),
    })?;
    for (file, data) in [(WEIGHTS, &bytes), (MANIFEST, &json)] {
        let path = staging.path().join(file);
        let mut f = std::fs::File::create(&path).map_err(io(&path))?;
        f.write_all(data).map_err(io(&path))?;
        f.sync_all().map_err(io(&path))?;
    }
    let staged = staging.keep();
    // Move any previous artefact aside first: rename cannot replace a non-empty directory.
    let old = dir
        .exists()
        .then(|| parent.join(format!(".{name}.old-{}", std::process::id())));
    if let Some(old) = &old {
        std::fs::rename(dir, old).map_err(io(dir))?;
    }
    if let Err(e) = std::fs::rename(&staged, dir) {
        if let Some(old) = &old {
            let _ = std::fs::rename(old, dir);
        }
        let _ = std::fs::remove_dir_all(&staged);
        return Err(io(dir)(e));
    }
    if let Some(old) = old {
        std::fs::remove_dir_all(&old).map_err(io(&old))?;
    }
    Ok(())
}

/// Reads an artefact directory written by [`save`].
pub fn load(dir: &Path) -> Result<Artefact, StudentError> {
    let manifest_path = dir.join(MANIFEST);
    let bad = |path: &Path, detail: String| StudentError::Artefact {
        path: path.to_owned(),
        detail,
    };
    let text = std::fs::read_to_string(&manifest_path).map_err(io(&manifest_path))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| bad(&manifest_path, format!("not valid JSON: {e}")))?;
    if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(bad(
            &manifest_path,
            format!("not a rightfit classifier (\"format\" is not \"{FORMAT}\")"),
        ));
    }
    match value
        .get("format_version")
        .and_then(serde_json::Value::as_u64)
    {
        Some(v) if v == u64::from(FORMAT_VERSION) => {}
        other => {
            return Err(bad(
                &manifest_path,
                format!(
                    "format version {} is not supported (this rightfit reads version \
                     {FORMAT_VERSION}) — train it again with this version",
                    other.map_or_else(|| "(missing)".to_owned(), |v| v.to_string())
                ),
            ));
        }
    }
    let manifest: Manifest = serde_json::from_value(value)
        .map_err(|e| bad(&manifest_path, format!("bad manifest: {e}")))?;
    check_manifest(&manifest).map_err(|d| bad(&manifest_path, d))?;
    let weights_path = dir.join(&manifest.weights.file);
    let bytes = std::fs::read(&weights_path).map_err(io(&weights_path))?;
    let values = read_weights(&manifest.weights, &bytes).map_err(|d| bad(&weights_path, d))?;
    let mut values = values.into_iter();
    let mut take = || values.next().unwrap_or_default();
    let mean = take();
    let scale = take();
    let mut layers = Vec::new();
    for t in manifest.weights.tensors[2..].chunks(2) {
        layers.push(Dense {
            inputs: t[0].shape[0],
            outputs: t[0].shape[1],
            weight: take(),
            bias: take(),
        });
    }
    if let Some(i) = scale.iter().position(|s| *s <= 0.0) {
        return Err(bad(
            &weights_path,
            format!("tensor 'scale' has a non-positive value at {i}"),
        ));
    }
    let classifier = Classifier {
        labels: manifest.labels.clone(),
        kind: manifest.model,
        mean,
        scale,
        layers,
    };
    Ok(Artefact {
        classifier,
        manifest,
        dir: dir.to_owned(),
    })
}

/// The tensor table must describe the network the manifest names.
fn check_manifest(m: &Manifest) -> Result<(), String> {
    if m.labels.len() < 2 {
        return Err(format!(
            "{} labels; a classifier has at least two",
            m.labels.len()
        ));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = m.labels.iter().find(|l| !seen.insert(l.as_str())) {
        return Err(format!("label '{dup}' appears twice"));
    }
    if m.weights.file.contains(['/', '\\']) || m.weights.file.starts_with('.') {
        return Err(format!(
            "weights.file '{}' must be a plain file name",
            m.weights.file
        ));
    }
    let k = m.labels.len();
    let d = m.dims;
    let widths: Vec<(usize, usize)> = match m.model {
        ModelKind::Linear => vec![(d, k)],
        ModelKind::Mlp { hidden } => vec![(d, hidden), (hidden, k)],
    };
    let mut expected = vec![entry("mean", vec![d]), entry("scale", vec![d])];
    for (i, (a, b)) in widths.iter().enumerate() {
        expected.push(entry(&format!("layer{i}.weight"), vec![*a, *b]));
        expected.push(entry(&format!("layer{i}.bias"), vec![*b]));
    }
    if m.weights.tensors != expected {
        let describe = |v: &[TensorEntry]| {
            v.iter()
                .map(|t| format!("{}{:?}", t.name, t.shape))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(format!(
            "the tensor table does not fit a {:?} classifier of {d} dimensions and {k} labels: \
             expected [{}], found [{}]",
            m.model,
            describe(&expected),
            describe(&m.weights.tensors)
        ));
    }
    Ok(())
}

/// Splits the weights file into the table's tensors, checking size, hash and values.
fn read_weights(w: &WeightsEntry, bytes: &[u8]) -> Result<Vec<Vec<f32>>, String> {
    let needed: usize = w.tensors.iter().map(|t| t.len() * 4).sum();
    if bytes.len() < needed {
        let mut offset = 0;
        let cut = w
            .tensors
            .iter()
            .find(|t| {
                offset += t.len() * 4;
                offset > bytes.len()
            })
            .map_or_else(String::new, |t| {
                format!(" — it ends inside tensor '{}' {:?}", t.name, t.shape)
            });
        return Err(format!(
            "truncated: {} bytes, but the tensor table needs {needed}{cut}",
            bytes.len()
        ));
    }
    if bytes.len() != needed || w.bytes != needed as u64 {
        return Err(format!(
            "{} bytes, but the manifest says {} and the tensor table needs {needed}",
            bytes.len(),
            w.bytes
        ));
    }
    let actual = hex::encode(Sha256::digest(bytes));
    if actual != w.sha256 {
        return Err(format!(
            "corrupt: SHA-256 is {actual}, the manifest says {} — the file changed after it \
             was written",
            w.sha256
        ));
    }
    let mut out = Vec::new();
    let mut offset = 0;
    for t in &w.tensors {
        let n = t.len();
        let v: Vec<f32> = bytes[offset..offset + n * 4]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            return Err(format!("tensor '{}' has a non-finite value at {i}", t.name));
        }
        offset += n * 4;
        out.push(v);
    }
    Ok(out)
}
