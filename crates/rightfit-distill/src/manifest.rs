//! A student's directory: its manifest (provenance, settings, figures), read and written
//! atomically, checked against the files it lists; and the students a project has.

use std::io::Read;
use std::path::{Path, PathBuf};

use rightfit_types::{STUDENT_FORMAT, StudentManifest};
use sha2::{Digest, Sha256};

use crate::error::{DistillError, Result, io_err};

/// The manifest's file name in a student's directory.
pub const MANIFEST: &str = "student.json";

/// SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| io_err(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Writes `bytes` to `path` through a temporary file in the same directory, so that a crash
/// leaves the old file or the new one, never half of one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| io_err(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io_err(path, e))
}

/// Writes a student's manifest.
pub fn write(dir: &Path, manifest: &StudentManifest) -> Result<()> {
    let text = serde_json::to_vec_pretty(manifest)
        .map_err(|e| DistillError::Data(format!("manifest: {e}")))?;
    write_atomic(&dir.join(MANIFEST), &text)
}

/// Reads a student's manifest and checks that every file it lists is there with its hash: a
/// student whose files were changed or damaged is an error naming the file, never served.
pub fn read(dir: &Path) -> Result<StudentManifest> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&path).map_err(|e| io_err(&path, e))?;
    let m: StudentManifest = serde_json::from_str(&text).map_err(|e| DistillError::Artefact {
        path: path.clone(),
        detail: format!(
            "not a student manifest (line {}, column {}): {e}",
            e.line(),
            e.column()
        ),
    })?;
    if m.format > STUDENT_FORMAT {
        return Err(DistillError::Artefact {
            path,
            detail: format!(
                "format {} is newer than this rightfit reads ({STUDENT_FORMAT}): upgrade rightfit",
                m.format
            ),
        });
    }
    for (file, want) in &m.files {
        let p = dir.join(file);
        let have = sha256_file(&p)?;
        if &have != want {
            return Err(DistillError::Artefact {
                path: p,
                detail: format!(
                    "SHA-256 {have} is not the {want} the manifest records: the file was changed or damaged — train the student again with 'rightfit distill'"
                ),
            });
        }
    }
    Ok(m)
}

/// Every student directory under a project's students directory
/// (`<dir>/<component>/<student>/manifest.json`), sorted.
pub fn list(students_dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(components) = std::fs::read_dir(students_dir) else {
        return out;
    };
    for c in components.flatten() {
        let Ok(students) = std::fs::read_dir(c.path()) else {
            continue;
        };
        for s in students.flatten() {
            if s.path().join(MANIFEST).is_file() {
                out.push(s.path());
            }
        }
    }
    out.sort();
    out
}
