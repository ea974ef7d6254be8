//! A validated `[[components.NAME.students]]` table: a small model `rightfit distill` trains for
//! one component, from which data, and how.

use std::path::PathBuf;

use super::dataset::DatasetConfig;

/// One student of a component.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Student {
    /// Unique within the component.
    pub name: String,
    /// What is trained.
    pub kind: StudentKind,
    /// Where its training rows come from.
    pub data: TrainingData,
    /// At most this many training rows (a seeded sample; `None`: all).
    pub limit: Option<usize>,
    /// Share of the training rows held out to stop early and to report (0 < v < 1).
    pub validation: f64,
    /// Passes over the training rows at most.
    pub epochs: u32,
    /// Epochs without improvement on the validation rows before training stops.
    pub patience: u32,
    /// The optimiser's step size.
    pub learning_rate: f64,
    /// Sampling, splitting, initialisation and shuffling seed.
    pub seed: u64,
    /// The directory its artefact is kept in (`<students dir>/<component>/<name>`).
    pub artefact: PathBuf,
    /// The model name candidates answer with (`<component>.<name>`), added to the project's
    /// models.
    pub model: String,
}

/// How a student answers.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum StudentKind {
    /// A classifier over a model's embeddings (label components): multinomial logistic
    /// regression, or a one-hidden-layer network when `hidden > 0`.
    Classifier {
        /// The model whose embeddings it reads (a `[models]` entry).
        embedder: String,
        /// Hidden units (0: logistic regression).
        hidden: usize,
        /// L2 penalty on the weights.
        l2: f64,
    },
    /// A LoRA adapter fine-tuned on a local GGUF model (any contract), served on that model.
    Lora {
        /// The local model it adapts (a `[models]` entry).
        base: String,
        /// The adapter's rank.
        rank: usize,
        /// Its scale numerator (the update is scaled by `alpha / rank`).
        alpha: f64,
        /// Adapt only the top N transformer layers (`None`: all).
        layers: Option<usize>,
        /// Training rows per optimiser step.
        batch_size: usize,
        /// Rows whose prompt and answer are longer than this many tokens are dropped.
        max_tokens: usize,
    },
}

impl StudentKind {
    /// `classifier` or `lora`.
    pub fn name(&self) -> &'static str {
        match self {
            StudentKind::Classifier { .. } => "classifier",
            StudentKind::Lora { .. } => "lora",
        }
    }
}

/// Where training rows come from. Rows that are also in the component's evaluation data (same
/// id or same normalised input) are refused, so a student is never scored on what it learned.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "from", rename_all = "kebab-case")]
pub enum TrainingData {
    /// A dataset with references, read the component's way (its prompt fields, its `reference`).
    Dataset {
        /// The file.
        dataset: DatasetConfig,
    },
    /// The train part of the component's own `split` (its test part is what is evaluated).
    Split,
    /// Inputs answered by a teacher candidate of the component (any model and strategy); its
    /// answers are parsed into the contract and unparseable ones dropped and counted.
    Teacher {
        /// The teacher candidate.
        candidate: String,
        /// The inputs: a dataset (references ignored), or `None` for the split's train part.
        inputs: Option<DatasetConfig>,
    },
    /// Requests the gateway served for this component (`rightfit traffic export`): the
    /// answering candidate's outputs, or a shadow's.
    Traffic {
        /// Take the answers of this candidate (a shadow) instead of the ones served.
        reference_from: Option<String>,
    },
}

impl TrainingData {
    /// A short description for tables and manifests.
    pub fn describe(&self) -> String {
        match self {
            TrainingData::Dataset { dataset } => format!("dataset {}", dataset.path.display()),
            TrainingData::Split => "the split's train part".to_owned(),
            TrainingData::Teacher { candidate, inputs } => match inputs {
                Some(d) => format!("teacher {candidate} on {}", d.path.display()),
                None => format!("teacher {candidate} on the split's train part"),
            },
            TrainingData::Traffic { reference_from } => match reference_from {
                Some(c) => format!("gateway traffic, answers of {c}"),
                None => "gateway traffic, answers served".to_owned(),
            },
        }
    }
}

/// The adapter file in a LoRA student's directory.
pub const ADAPTER_FILE: &str = "adapter.gguf";
