//! What a GGUF header holds: its metadata values, tensor table and the errors of reading one.

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;

use super::ggml_types::{file_type_name, type_layout, type_name};

/// The four bytes every GGUF file starts with.
pub const MAGIC: &[u8; 4] = b"GGUF";

/// Upper bounds that keep a corrupt header from making us allocate without limit.
pub(super) const MAX_STRING_LEN: u64 = 64 << 20;
pub(super) const MAX_ARRAY_LEN: u64 = 1 << 28;
pub(super) const MAX_COUNT: u64 = 1 << 24;
pub(super) const MAX_DIMS: u32 = 8;

/// Why a file is not a usable GGUF file.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    /// No file at that path.
    #[error("{path}: no such file")]
    NotFound {
        /// The path that was tried.
        path: PathBuf,
    },
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The file has no bytes.
    #[error("{path}: the file is empty (0 bytes) — not a GGUF model; download it again")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The file does not start with the GGUF magic.
    #[error("{path}: not a GGUF file (it starts with {found:?}, expected \"GGUF\")")]
    NotGguf {
        /// The file.
        path: PathBuf,
        /// The first bytes, escaped.
        found: String,
    },
    /// A GGUF version this reader does not know.
    #[error("{path}: GGUF version {version} is not supported (2 and 3 are)")]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version found.
        version: u32,
    },
    /// The file ends before its header or its tensor data does.
    #[error("{path}: truncated: {detail} — the file is incomplete; download it again")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// What was missing.
        detail: String,
    },
    /// The header holds values that cannot be right.
    #[error("{path}: corrupt header: {detail}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
}

/// A metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Any unsigned integer type.
    U64(u64),
    /// Any signed integer type.
    I64(i64),
    /// f32 or f64.
    F64(f64),
    /// A boolean.
    Bool(bool),
    /// A string.
    String(String),
    /// An array; long arrays (vocabularies) keep only their length.
    Array {
        /// Type id of the elements.
        item_type: u32,
        /// Number of elements.
        len: u64,
        /// The first elements (up to 16), for display.
        head: Vec<Value>,
    },
}

impl Value {
    /// The value as an unsigned integer, when it is a non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::U64(v) => Some(v),
            Value::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The value as a string, when it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

/// One tensor of the file's table.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    /// Tensor name (`blk.0.attn_q.weight`, ...).
    pub name: String,
    /// Dimensions, innermost first.
    pub dims: Vec<u64>,
    /// ggml type id.
    pub ggml_type: u32,
    /// Offset of its data from the start of the data section.
    pub offset: u64,
}

impl TensorInfo {
    /// Number of elements; `None` when the dimensions multiply past 2^64 (a corrupt file).
    pub fn elements(&self) -> Option<u64> {
        self.dims.iter().try_fold(1u64, |n, &d| n.checked_mul(d))
    }

    /// Bytes of data, when the type is known and the size fits in 64 bits.
    pub fn bytes(&self) -> Option<u64> {
        let (block, size) = type_layout(self.ggml_type)?;
        (self.elements()? / block).checked_mul(size)
    }
}

/// What a GGUF header says.
#[derive(Debug, Clone, PartialEq)]
pub struct GgufHeader {
    /// Format version (2 or 3).
    pub version: u32,
    /// Metadata by key.
    pub metadata: BTreeMap<String, Value>,
    /// The tensor table.
    pub tensors: Vec<TensorInfo>,
    /// Where the tensor data starts.
    pub data_offset: u64,
    /// Size of the whole file.
    pub file_size: u64,
}

impl GgufHeader {
    /// A string value.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).and_then(Value::as_str)
    }

    /// An integer value.
    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.metadata.get(key).and_then(Value::as_u64)
    }

    /// `general.architecture` (llama, gemma3, qwen2, ...).
    pub fn architecture(&self) -> Option<&str> {
        self.get_str("general.architecture")
    }

    /// `general.name`.
    pub fn name(&self) -> Option<&str> {
        self.get_str("general.name")
    }

    /// The context length the model was trained with.
    pub fn context_length(&self) -> Option<u64> {
        self.get_u64(&format!("{}.context_length", self.architecture()?))
    }

    /// Total number of weights (parameters), saturating at 2^64 - 1 for a header whose counts
    /// do not fit (only a corrupt one).
    pub fn parameter_count(&self) -> u64 {
        self.tensors
            .iter()
            .map(|t| t.elements().unwrap_or(u64::MAX))
            .fold(0, u64::saturating_add)
    }

    /// The embedded Jinja chat template, if any.
    pub fn chat_template(&self) -> Option<&str> {
        self.get_str("tokenizer.chat_template")
    }

    /// The quantisation, from `general.file_type` or else the most common weight type.
    pub fn quantization(&self) -> String {
        if let Some(name) = self.get_u64("general.file_type").and_then(file_type_name) {
            return name.to_owned();
        }
        let mut bytes_by_type: BTreeMap<u32, u64> = BTreeMap::new();
        for t in &self.tensors {
            *bytes_by_type.entry(t.ggml_type).or_default() += t.bytes().unwrap_or(0);
        }
        bytes_by_type
            .into_iter()
            .max_by_key(|(_, b)| *b)
            .map_or_else(|| "unknown".to_owned(), |(t, _)| type_name(t).to_owned())
    }

    /// Number of tensors of each ggml type, by type name.
    pub fn tensor_types(&self) -> BTreeMap<&'static str, usize> {
        let mut out = BTreeMap::new();
        for t in &self.tensors {
            *out.entry(type_name(t.ggml_type)).or_default() += 1;
        }
        out
    }
}
