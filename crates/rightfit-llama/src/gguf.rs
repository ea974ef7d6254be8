//! A small, dependency-free reader for GGUF headers.
//!
//! It reads the metadata and tensor table of a `.gguf` file without loading any weights, and checks
//! that every tensor's data lies inside the file. The engine runs it before handing a file to
//! llama.cpp, so that an empty, truncated or foreign file becomes a clear error instead of a
//! failure deep inside C code; `rightfit models info` prints what it finds.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};

mod ggml_types;
mod reader;
pub mod shape;

pub use ggml_types::type_name;
use ggml_types::{file_type_name, type_layout};
use reader::Reader;

/// The four bytes every GGUF file starts with.
pub const MAGIC: &[u8; 4] = b"GGUF";

/// Upper bounds that keep a corrupt header from making us allocate without limit.
const MAX_STRING_LEN: u64 = 64 << 20;
const MAX_ARRAY_LEN: u64 = 1 << 28;
const MAX_COUNT: u64 = 1 << 24;
const MAX_DIMS: u32 = 8;

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

/// Reads and checks the header of a GGUF file.
pub fn read_header(path: &Path) -> Result<GgufHeader, GgufError> {
    let io_err = |source: io::Error| {
        if source.kind() == io::ErrorKind::NotFound {
            GgufError::NotFound {
                path: path.to_owned(),
            }
        } else {
            GgufError::Io {
                path: path.to_owned(),
                source,
            }
        }
    };
    let file = File::open(path).map_err(io_err)?;
    let meta = file.metadata().map_err(io_err)?;
    if meta.is_dir() {
        return Err(GgufError::Io {
            path: path.to_owned(),
            source: io::Error::other("is a directory, not a model file"),
        });
    }
    let file_size = meta.len();
    if file_size == 0 {
        return Err(GgufError::Empty {
            path: path.to_owned(),
        });
    }
    let mut reader = Reader {
        inner: BufReader::new(file),
        pos: 0,
        path,
        file_size,
    };
    reader.header()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Builds a minimal GGUF v3 file: metadata, one F32 tensor of 4 elements, and its data.
    fn tiny_gguf(data_bytes: usize) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&1u64.to_le_bytes()); // tensors
        b.extend_from_slice(&3u64.to_le_bytes()); // kv
        let s = |b: &mut Vec<u8>, v: &str| {
            b.extend_from_slice(&(v.len() as u64).to_le_bytes());
            b.extend_from_slice(v.as_bytes());
        };
        s(&mut b, "general.architecture");
        b.extend_from_slice(&8u32.to_le_bytes());
        s(&mut b, "llama");
        s(&mut b, "llama.context_length");
        b.extend_from_slice(&4u32.to_le_bytes());
        b.extend_from_slice(&2048u32.to_le_bytes());
        s(&mut b, "tokenizer.ggml.tokens");
        b.extend_from_slice(&9u32.to_le_bytes());
        b.extend_from_slice(&8u32.to_le_bytes());
        b.extend_from_slice(&2u64.to_le_bytes());
        s(&mut b, "a");
        s(&mut b, "b");
        s(&mut b, "w");
        b.extend_from_slice(&2u32.to_le_bytes());
        b.extend_from_slice(&2u64.to_le_bytes());
        b.extend_from_slice(&2u64.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes()); // F32
        b.extend_from_slice(&0u64.to_le_bytes());
        while b.len() % 32 != 0 {
            b.push(0);
        }
        b.extend(std::iter::repeat_n(0u8, data_bytes));
        b
    }

    fn write(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(bytes).expect("write");
        f
    }

    #[test]
    fn reads_metadata_and_tensors() {
        let f = write(&tiny_gguf(16));
        let h = read_header(f.path()).expect("valid file");
        assert_eq!(h.version, 3);
        assert_eq!(h.architecture(), Some("llama"));
        assert_eq!(h.context_length(), Some(2048));
        assert_eq!(h.parameter_count(), 4);
        assert_eq!(h.quantization(), "F32");
        assert_eq!(h.chat_template(), None);
        match h.metadata.get("tokenizer.ggml.tokens") {
            Some(Value::Array { len, head, .. }) => {
                assert_eq!(*len, 2);
                assert_eq!(head[1], Value::String("b".into()));
            }
            other => panic!("tokens: {other:?}"),
        }
    }

    #[test]
    fn a_file_without_tensors_needs_no_padding() {
        // As llama.cpp's ggml-vocab-*.gguf files are: the header, then the end of the file.
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&0u64.to_le_bytes()); // tensors
        b.extend_from_slice(&1u64.to_le_bytes()); // kv
        b.extend_from_slice(&20u64.to_le_bytes());
        b.extend_from_slice(b"general.architecture");
        b.extend_from_slice(&8u32.to_le_bytes());
        b.extend_from_slice(&4u64.to_le_bytes());
        b.extend_from_slice(b"phi3");
        assert_ne!(b.len() % 32, 0);
        let h = read_header(write(&b).path()).expect("valid file");
        assert_eq!(h.architecture(), Some("phi3"));
        assert!(h.tensors.is_empty());
        assert_eq!(h.parameter_count(), 0);
    }

    #[test]
    fn missing_tensor_data_is_truncation() {
        let f = write(&tiny_gguf(15));
        let err = read_header(f.path()).expect_err("one byte short");
        assert!(matches!(err, GgufError::Truncated { .. }), "{err}");
        assert!(err.to_string().contains("download it again"), "{err}");
    }

    #[test]
    fn a_header_cut_anywhere_is_an_error_not_a_panic() {
        let full = tiny_gguf(16);
        for len in 1..full.len() {
            let f = write(&full[..len]);
            let err = read_header(f.path()).expect_err("cut file");
            assert!(
                matches!(err, GgufError::Truncated { .. } | GgufError::NotGguf { .. }),
                "cut at {len}: {err}"
            );
        }
    }

    #[test]
    fn empty_foreign_and_missing_files_are_named() {
        let empty = write(b"");
        assert!(matches!(
            read_header(empty.path()),
            Err(GgufError::Empty { .. })
        ));
        let html = write(b"<html>not found</html>");
        let err = read_header(html.path()).expect_err("html");
        assert!(err.to_string().contains("not a GGUF file"), "{err}");
        let err = read_header(Path::new("/nonexistent/model.gguf")).expect_err("missing");
        assert!(matches!(err, GgufError::NotFound { .. }), "{err}");
    }

    #[test]
    fn absurd_counts_are_corruption() {
        let mut bytes = tiny_gguf(16);
        bytes[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        let f = write(&bytes);
        assert!(matches!(
            read_header(f.path()),
            Err(GgufError::Corrupt { .. })
        ));
    }
}
