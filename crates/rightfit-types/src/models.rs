//! What `rightfit models` shows: the models this machine knows of, and what one file's GGUF
//! header says (`rightfit-llama` gathers both, `rightfit-report` lays them out).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A catalogue model's published facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogFacts {
    /// One line about it.
    pub description: String,
    /// Its architecture (`llama`, `qwen2`).
    pub architecture: String,
    /// Its parameter count as published (`135M`).
    pub parameters: String,
    /// Its quantisation (`Q4_K_M`).
    pub quantization: String,
    /// The file's SHA-256.
    pub sha256: String,
    /// Where it can be fetched from, one line each.
    pub sources: Vec<String>,
}

/// A model of the catalogue or one a user added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelListing {
    /// Its name.
    pub name: String,
    /// Where its file is (or would be).
    pub path: PathBuf,
    /// Whether the file is there.
    pub present: bool,
    /// Its size on disk (or expected size), bytes.
    pub size: u64,
    /// The catalogue's facts; `None` for an added model.
    pub catalog: Option<CatalogFacts>,
    /// For an added LoRA adapter: the model it is applied to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
}

/// What a model file's GGUF header says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelFileInfo {
    /// The model's name.
    pub name: String,
    /// Its file.
    pub path: PathBuf,
    /// The file's size, bytes.
    pub file_size: u64,
    /// The GGUF format version.
    pub gguf_version: u32,
    /// `general.name`.
    pub general_name: Option<String>,
    /// `general.architecture`.
    pub architecture: Option<String>,
    /// Parameters (tensor elements).
    pub parameters: u64,
    /// The quantisation as llama.cpp names it.
    pub quantization: String,
    /// The context length it was trained for.
    pub context_length: Option<u64>,
    /// The embedded chat template's length, bytes; `None` when there is none.
    pub chat_template_len: Option<usize>,
    /// The built-in template rightfit uses when none is embedded.
    pub chat_template_fallback: Option<String>,
    /// Tensors.
    pub tensors: usize,
    /// Tensors per type.
    pub tensor_types: BTreeMap<String, usize>,
    /// Metadata keys.
    pub metadata_keys: usize,
}
