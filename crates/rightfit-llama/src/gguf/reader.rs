//! Reading a GGUF header field by field, with every count and length bounded and every tensor
//! checked to lie inside the file ([`read_header`](crate::gguf::read_header) opens the file and calls it).

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::Path;

use super::ggml_types::type_layout;
use super::header::{
    GgufError, GgufHeader, MAGIC, MAX_ARRAY_LEN, MAX_COUNT, MAX_DIMS, MAX_STRING_LEN, TensorInfo,
    Value,
};

pub(super) struct Reader<'a, R> {
    pub(super) inner: R,
    pub(super) pos: u64,
    pub(super) path: &'a Path,
    pub(super) file_size: u64,
}

impl<R: Read> Reader<'_, R> {
    pub(super) fn header(&mut self) -> Result<GgufHeader, GgufError> {
        let mut magic = [0u8; 4];
        let got = self.read_up_to(&mut magic)?;
        if got < 4 || &magic != MAGIC {
            return Err(GgufError::NotGguf {
                path: self.path.to_owned(),
                found: magic[..got].escape_ascii().to_string(),
            });
        }
        let version = self.u32()?;
        if !(2..=3).contains(&version) {
            return Err(GgufError::UnsupportedVersion {
                path: self.path.to_owned(),
                version,
            });
        }
        let n_tensors = self.count("tensor count")?;
        let n_kv = self.count("metadata count")?;
        let mut metadata = BTreeMap::new();
        for _ in 0..n_kv {
            let key = self.string()?;
            let value_type = self.u32()?;
            let value = self.value(value_type, 0)?;
            metadata.insert(key, value);
        }
        let mut tensors = Vec::with_capacity(n_tensors.min(4096) as usize);
        for _ in 0..n_tensors {
            let name = self.string()?;
            let n_dims = self.u32()?;
            if n_dims > MAX_DIMS {
                return Err(self.corrupt(format!("tensor {name} has {n_dims} dimensions")));
            }
            let dims = (0..n_dims)
                .map(|_| self.u64())
                .collect::<Result<Vec<_>, _>>()?;
            let ggml_type = self.u32()?;
            let offset = self.u64()?;
            tensors.push(TensorInfo {
                name,
                dims,
                ggml_type,
                offset,
            });
        }
        let alignment = metadata
            .get("general.alignment")
            .and_then(Value::as_u64)
            .unwrap_or(32);
        if alignment == 0 || !alignment.is_power_of_two() {
            return Err(self.corrupt(format!("general.alignment is {alignment}")));
        }
        let data_offset = self.pos.div_ceil(alignment) * alignment;
        let header = GgufHeader {
            version,
            metadata,
            tensors,
            data_offset,
            file_size: self.file_size,
        };
        self.check_extents(&header)?;
        Ok(header)
    }

    /// Every tensor's data must lie inside the file. A file without tensors (llama.cpp's
    /// vocabulary-only files) has no data section, so no alignment padding after its header.
    fn check_extents(&self, header: &GgufHeader) -> Result<(), GgufError> {
        let mut needed = if header.tensors.is_empty() {
            0
        } else {
            header.data_offset
        };
        for t in &header.tensors {
            // Found by the fuzz test: dimensions whose product overflows (a panic in a debug
            // build, a wrong size in a release one) are corruption, named as such.
            if type_layout(t.ggml_type).is_some() && t.bytes().is_none() {
                return Err(self.corrupt(format!(
                    "tensor {} has dimensions {:?}: more than 2^64 bytes",
                    t.name, t.dims
                )));
            }
            let Some(bytes) = t.bytes() else { continue };
            let end = header
                .data_offset
                .checked_add(t.offset)
                .and_then(|v| v.checked_add(bytes))
                .ok_or_else(|| self.corrupt(format!("tensor {} lies past 2^64", t.name)))?;
            needed = needed.max(end);
        }
        if needed > self.file_size {
            return Err(GgufError::Truncated {
                path: self.path.to_owned(),
                detail: format!(
                    "tensor data needs {needed} bytes but the file has {}",
                    self.file_size
                ),
            });
        }
        Ok(())
    }

    fn corrupt(&self, detail: String) -> GgufError {
        GgufError::Corrupt {
            path: self.path.to_owned(),
            detail,
        }
    }

    fn read_up_to(&mut self, buf: &mut [u8]) -> Result<usize, GgufError> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.inner.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(GgufError::Io {
                        path: self.path.to_owned(),
                        source,
                    });
                }
            }
        }
        self.pos += filled as u64;
        Ok(filled)
    }

    fn exact(&mut self, buf: &mut [u8]) -> Result<(), GgufError> {
        let at = self.pos;
        if self.read_up_to(buf)? < buf.len() {
            return Err(GgufError::Truncated {
                path: self.path.to_owned(),
                detail: format!("the header ends at byte {at} of {}", self.file_size),
            });
        }
        Ok(())
    }

    fn u8(&mut self) -> Result<u8, GgufError> {
        let mut b = [0u8; 1];
        self.exact(&mut b)?;
        Ok(b[0])
    }
    fn u16(&mut self) -> Result<u16, GgufError> {
        let mut b = [0u8; 2];
        self.exact(&mut b)?;
        Ok(u16::from_le_bytes(b))
    }
    fn u32(&mut self) -> Result<u32, GgufError> {
        let mut b = [0u8; 4];
        self.exact(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn u64(&mut self) -> Result<u64, GgufError> {
        let mut b = [0u8; 8];
        self.exact(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn count(&mut self, what: &str) -> Result<u64, GgufError> {
        let n = self.u64()?;
        if n > MAX_COUNT {
            return Err(self.corrupt(format!("{what} is {n}")));
        }
        Ok(n)
    }

    fn string(&mut self) -> Result<String, GgufError> {
        let len = self.u64()?;
        if len > MAX_STRING_LEN || len > self.file_size.saturating_sub(self.pos) {
            return Err(GgufError::Truncated {
                path: self.path.to_owned(),
                detail: format!(
                    "a {len}-byte string at byte {} does not fit in the file",
                    self.pos
                ),
            });
        }
        let mut buf = vec![0u8; len as usize];
        self.exact(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }

    fn value(&mut self, value_type: u32, depth: u32) -> Result<Value, GgufError> {
        Ok(match value_type {
            0 => Value::U64(u64::from(self.u8()?)),
            1 => Value::I64(i64::from(self.u8()? as i8)),
            2 => Value::U64(u64::from(self.u16()?)),
            3 => Value::I64(i64::from(self.u16()? as i16)),
            4 => Value::U64(u64::from(self.u32()?)),
            5 => Value::I64(i64::from(self.u32()? as i32)),
            6 => Value::F64(f64::from(f32::from_bits(self.u32()?))),
            7 => Value::Bool(self.u8()? != 0),
            8 => Value::String(self.string()?),
            9 => {
                if depth > 2 {
                    return Err(self.corrupt("arrays nested too deeply".to_owned()));
                }
                let item_type = self.u32()?;
                let len = self.u64()?;
                if len > MAX_ARRAY_LEN {
                    return Err(self.corrupt(format!("an array of {len} elements")));
                }
                let mut head = Vec::new();
                for i in 0..len {
                    let v = self.value(item_type, depth + 1)?;
                    if i < 16 {
                        head.push(v);
                    }
                }
                Value::Array {
                    item_type,
                    len,
                    head,
                }
            }
            10 => Value::U64(self.u64()?),
            11 => Value::I64(self.u64()? as i64),
            12 => Value::F64(f64::from_bits(self.u64()?)),
            other => return Err(self.corrupt(format!("unknown metadata type {other}"))),
        })
    }
}
