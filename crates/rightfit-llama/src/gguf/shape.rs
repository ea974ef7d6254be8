//! A model's shape from its GGUF header (no weights are loaded): what device estimates need to
//! size its memory and the bytes and operations each token costs.

use std::path::{Path, PathBuf};

use rightfit_types::device::ModelShape;

use super::{GgufError, GgufHeader, Value, read_header};

/// A header that does not describe a transformer's shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    /// No architecture, so no keys to look up.
    #[error("no general.architecture in the GGUF header")]
    NoArchitecture,
    /// A count the shape needs is not there.
    #[error("no {0} in the GGUF header")]
    Missing(String),
    /// A count does not fit.
    #[error("{key} = {value} is out of range")]
    OutOfRange {
        key: String,
        /// Its value.
        value: u64,
    },
    /// A count that cannot be 0 is.
    #[error("{0} is 0")]
    Zero(String),
    /// Neither the key nor the embedding length it defaults from.
    #[error("neither {0} nor the embedding length is given")]
    NoLength(String),
}

/// Why a model file's shape cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ModelShapeError {
    /// The header cannot be read.
    #[error(transparent)]
    Header(#[from] GgufError),
    /// The header does not describe the shape.
    #[error("{}", path.display())]
    Shape {
        /// The file.
        path: PathBuf,
        /// What is missing.
        source: ShapeError,
    },
}

/// A local model's shape from its GGUF header.
pub fn shape_of(path: &Path) -> Result<ModelShape, ModelShapeError> {
    let header = read_header(path)?;
    shape_from_header(&header).map_err(|source| ModelShapeError::Shape {
        path: path.to_owned(),
        source,
    })
}

/// The shape a GGUF header describes: block count, attention heads, KV heads (default: the
/// heads), key and value lengths (default: embedding length ÷ heads), parameters (tensor
/// elements) and weight bytes (tensor data at its type; the data section when a type is
/// unknown).
pub fn shape_from_header(header: &GgufHeader) -> Result<ModelShape, ShapeError> {
    let arch = header.architecture().ok_or(ShapeError::NoArchitecture)?;
    let key = |k: &str| format!("{arch}.{k}");
    let in_range = |key: String, value: u64| {
        u32::try_from(value).map_err(|_| ShapeError::OutOfRange { key, value })
    };
    let required = |k: &str| -> Result<u32, ShapeError> {
        let full = key(k);
        let v = header
            .get_u64(&full)
            .ok_or_else(|| ShapeError::Missing(full.clone()))?;
        in_range(full, v)
    };
    let layers = required("block_count")?;
    let heads = required("attention.head_count")?;
    if heads == 0 {
        return Err(ShapeError::Zero(key("attention.head_count")));
    }
    // Some models give one KV-head count per layer; the largest sizes the cache safely.
    let kv_heads = match header.metadata.get(&key("attention.head_count_kv")) {
        Some(Value::Array { head, .. }) => head.iter().filter_map(Value::as_u64).max(),
        Some(v) => v.as_u64(),
        None => None,
    }
    .map_or(Ok(heads), |v| in_range(key("attention.head_count_kv"), v))?;
    let head_dim = header
        .get_u64(&key("embedding_length"))
        .map(|e| e / u64::from(heads));
    let length = |k: &str| -> Result<u32, ShapeError> {
        let v = header
            .get_u64(&key(k))
            .or(head_dim)
            .ok_or_else(|| ShapeError::NoLength(key(k)))?;
        in_range(key(k), v)
    };
    let tensor_bytes: Option<u64> = header.tensors.iter().map(|t| t.bytes()).sum();
    let weights_bytes =
        tensor_bytes.unwrap_or_else(|| header.file_size.saturating_sub(header.data_offset));
    Ok(ModelShape {
        params: header.parameter_count(),
        weights_bytes,
        layers,
        heads,
        kv_heads,
        key_length: length("attention.key_length")?,
        value_length: length("attention.value_length")?,
        train_context: header
            .context_length()
            .and_then(|c| u32::try_from(c).ok())
            .unwrap_or(0),
        quantization: header.quantization(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::TensorInfo;

    use super::*;

    fn header(metadata: &[(&str, Value)]) -> GgufHeader {
        GgufHeader {
            version: 3,
            metadata: metadata
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect::<BTreeMap<_, _>>(),
            tensors: vec![TensorInfo {
                name: "blk.0.attn_q.weight".into(),
                dims: vec![64, 32],
                ggml_type: 0, // f32: 4 bytes an element
                offset: 0,
            }],
            data_offset: 1000,
            file_size: 1000 + 64 * 32 * 4,
        }
    }

    #[test]
    fn shape_from_a_header_with_defaults() {
        let h = header(&[
            ("general.architecture", Value::String("llama".into())),
            ("llama.block_count", Value::U64(2)),
            ("llama.attention.head_count", Value::U64(4)),
            ("llama.embedding_length", Value::U64(64)),
            ("llama.context_length", Value::U64(2048)),
        ]);
        let s = shape_from_header(&h).expect("shape");
        assert_eq!((s.layers, s.heads, s.kv_heads), (2, 4, 4));
        assert_eq!((s.key_length, s.value_length), (16, 16));
        assert_eq!((s.params, s.weights_bytes), (2048, 8192));
        assert_eq!(s.train_context, 2048);
    }

    #[test]
    fn shape_takes_explicit_lengths_and_per_layer_kv_heads() {
        let h = header(&[
            ("general.architecture", Value::String("gemma3".into())),
            ("gemma3.block_count", Value::U64(2)),
            ("gemma3.attention.head_count", Value::U64(4)),
            (
                "gemma3.attention.head_count_kv",
                Value::Array {
                    item_type: 4,
                    len: 2,
                    head: vec![Value::U64(1), Value::U64(2)],
                },
            ),
            ("gemma3.attention.key_length", Value::U64(256)),
            ("gemma3.attention.value_length", Value::U64(128)),
        ]);
        let s = shape_from_header(&h).expect("shape");
        assert_eq!(s.kv_heads, 2);
        assert_eq!((s.key_length, s.value_length), (256, 128));
        assert_eq!(s.train_context, 0);
    }

    #[test]
    fn a_header_without_the_counts_is_an_error_naming_the_key() {
        let h = header(&[("general.architecture", Value::String("llama".into()))]);
        let err = shape_from_header(&h).expect_err("no block count");
        assert!(err.to_string().contains("llama.block_count"), "{err}");
    }
}
