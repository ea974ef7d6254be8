//! The calibrations `rightfit bench-model` saves to `$RIGHTFIT_HOME/calibration.json` (one
//! record per model measured): reading them, checked, and adding one. The records' type is
//! `rightfit_types::device`'s; what they mean for a device estimate, `rightfit_decide::device`'s.

use std::path::{Path, PathBuf};

use rightfit_types::device::{CalibrationRecord, model_file_name};

use crate::Settings;

/// The calibration file's name under `$RIGHTFIT_HOME`.
pub const CALIBRATION_FILE: &str = "calibration.json";

/// Where `bench-model` saves the calibrations: `$RIGHTFIT_HOME/calibration.json`.
pub fn calibration_path(settings: &Settings) -> PathBuf {
    settings.home().join(CALIBRATION_FILE)
}

/// Why a saved calibration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CalibrationError {
    /// Not the JSON `bench-model` writes.
    #[error("not a calibration record: {0}")]
    Json(#[from] serde_json::Error),
    /// A figure that cannot be right.
    #[error("{field} is {value}; expected a positive, finite number")]
    Invalid {
        field: &'static str,
        /// Its value.
        value: f64,
    },
}

/// Reads and checks one saved record.
pub fn parse_calibration(text: &str) -> Result<CalibrationRecord, CalibrationError> {
    let record: CalibrationRecord = serde_json::from_str(text)?;
    let checks = [
        (
            "calibration.decode_efficiency",
            record.calibration.decode_efficiency,
        ),
        (
            "calibration.prefill_efficiency",
            record.calibration.prefill_efficiency,
        ),
        ("figures.bandwidth_gbs", record.figures.bandwidth_gbs),
        ("figures.compute_tflops", record.figures.compute_tflops),
    ];
    for (field, value) in checks {
        if !(value.is_finite() && value > 0.0) {
            return Err(CalibrationError::Invalid { field, value });
        }
    }
    Ok(record)
}

/// Reads a saved calibration file: a list of records (one per model measured), or a single
/// record (as files written before the list).
pub fn parse_calibrations(text: &str) -> Result<Vec<CalibrationRecord>, CalibrationError> {
    let value: serde_json::Value = serde_json::from_str(text)?;
    match value {
        serde_json::Value::Array(items) => items
            .into_iter()
            .map(|item| parse_calibration(&item.to_string()))
            .collect(),
        single => Ok(vec![parse_calibration(&single.to_string())?]),
    }
}

/// `records` with `new` in place of any record of the same model file (newest last).
pub fn merge_calibration(
    records: Vec<CalibrationRecord>,
    new: CalibrationRecord,
) -> Vec<CalibrationRecord> {
    let mut out: Vec<CalibrationRecord> = records
        .into_iter()
        .filter(|r| model_file_name(&r.model_path) != model_file_name(&new.model_path))
        .collect();
    out.push(new);
    out
}

/// A calibration file that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CalibrationFileError {
    /// The file exists but cannot be read.
    #[error("reading {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file holds no usable records.
    #[error(
        "{}: unusable calibration — run 'rightfit bench-model' to measure it again",
        path.display()
    )]
    Unusable {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        source: CalibrationError,
    },
    /// The data directory cannot be made, or the file written.
    #[error("{action} {}", path.display())]
    Write {
        /// `creating` or `writing`.
        action: &'static str,
        /// The directory or file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The calibrations saved (empty when `bench-model` never ran).
pub fn load_calibrations(
    settings: &Settings,
) -> Result<Vec<CalibrationRecord>, CalibrationFileError> {
    let path = calibration_path(settings);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(CalibrationFileError::Read { path, source }),
    };
    parse_calibrations(&text).map_err(|source| CalibrationFileError::Unusable { path, source })
}

/// The newest calibration saved (this machine's profile comes from it), if any.
pub fn latest_calibration(records: &[CalibrationRecord]) -> Option<&CalibrationRecord> {
    records
        .iter()
        .max_by(|a, b| a.measured_at.cmp(&b.measured_at))
}

/// Where [`save_calibration`] wrote, and the earlier file it replaced because it could not
/// use it.
#[derive(Debug)]
pub struct Saved {
    /// The file.
    pub path: PathBuf,
    /// Why the earlier records were dropped, when they were.
    pub replaced: Option<CalibrationFileError>,
}

/// Adds `record` to the calibration file, replacing an earlier record of the same model file;
/// an unusable file is replaced whole (said in [`Saved::replaced`]).
pub fn save_calibration(
    settings: &Settings,
    record: &CalibrationRecord,
) -> Result<Saved, CalibrationFileError> {
    let failed = |action, path: &Path| {
        let path = path.to_owned();
        move |source| CalibrationFileError::Write {
            action,
            path,
            source,
        }
    };
    let path = calibration_path(settings);
    std::fs::create_dir_all(settings.home()).map_err(failed("creating", settings.home()))?;
    let (earlier, replaced) = match load_calibrations(settings) {
        Ok(records) => (records, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    let records = merge_calibration(earlier, record.clone());
    // A list of records of plain numbers and strings always serialises.
    let text = serde_json::to_string_pretty(&records).unwrap_or_default();
    std::fs::write(&path, text + "\n").map_err(failed("writing", &path))?;
    Ok(Saved { path, replaced })
}

#[cfg(test)]
mod tests {
    use rightfit_types::device::{BenchFigures, Calibration};

    use super::*;

    fn figures() -> BenchFigures {
        BenchFigures {
            prompt_tokens: 256.0,
            prompt_tokens_per_s: 500.0,
            generation_prompt_tokens: 4.0,
            generated_tokens: 128.0,
            generation_tokens_per_s: 100.0,
            bandwidth_gbs: 15.0,
            compute_tflops: 0.3328,
        }
    }

    #[test]
    fn parse_rejects_impossible_figures_and_round_trips() {
        // Figures that print exactly in JSON, so that the round trip compares equal.
        let mut record = CalibrationRecord {
            calibration: Calibration {
                decode_efficiency: 0.5,
                prefill_efficiency: 0.25,
                source: "test".into(),
            },
            measured_at: "2026-11-30T00:00:00Z".into(),
            model: "toy".into(),
            model_path: "/toy.gguf".into(),
            quantization: "Q4_0".into(),
            threads: 2,
            figures: figures(),
            decode_bytes_per_token: 1.0,
            prefill_flops_per_token: 1.0,
            bandwidth_method: "m".into(),
            compute_method: "c".into(),
            memory_bytes: 1,
            available_memory_bytes: 1,
        };
        let text = serde_json::to_string(&record).expect("serialise");
        assert_eq!(parse_calibration(&text).expect("valid"), record);
        record.calibration.decode_efficiency = 0.0;
        let text = serde_json::to_string(&record).expect("serialise");
        let err = parse_calibration(&text).expect_err("zero efficiency");
        assert!(err.to_string().contains("decode_efficiency"), "{err}");
        assert!(matches!(
            parse_calibration("{\"calibration\": 1}"),
            Err(CalibrationError::Json(_))
        ));
    }
}
