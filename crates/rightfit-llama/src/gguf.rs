//! A small, dependency-free reader for GGUF headers.
//!
//! It reads the metadata and tensor table of a `.gguf` file without loading any weights, and checks
//! that every tensor's data lies inside the file. The engine runs it before handing a file to
//! llama.cpp, so that an empty, truncated or foreign file becomes a clear error instead of a
//! failure deep inside C code; `rightfit models info` prints what it finds.

use std::fs::File;
use std::io::{self, BufReader};
use std::path::Path;

mod ggml_types;
mod header;
mod reader;
pub mod shape;

pub use ggml_types::type_name;
pub use header::{GgufError, GgufHeader, MAGIC, TensorInfo, Value};
use reader::Reader;

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
