//! Measurements the other modules share: a file's hash, the process's peak memory, elapsed
//! milliseconds (a leaf: it imports no other module of the crate).

use std::time::Instant;

use crate::error::StudentError;

/// SHA-256 of a file, lowercase hex (for [`EmbedderRef::sha256`](crate::EmbedderRef::sha256)).
pub fn file_sha256(path: &std::path::Path) -> Result<String, StudentError> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let io = |source| StudentError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Peak resident set size of this process (`VmHWM`), where the system reports it.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Milliseconds since `start`.
pub(crate) fn ms_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}
