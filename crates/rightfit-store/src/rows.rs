//! Conversions between the domain types of `rightfit-types` and the values of SQLite columns.
//!
//! Writing checks what SQLite cannot keep faithfully: integers past `i64::MAX` and non-finite
//! floats (SQLite turns NaN into NULL, and JSON has no NaN or infinity) are refused with an error
//! that names the field. The one exception is the run's `seed`, which is an identifier rather
//! than a quantity: it is stored bit for bit as a signed integer, so every `u64` survives.
//! Reading checks that stored values still fit their types and reports the row and column of
//! any that do not.

use std::collections::BTreeMap;
use std::path::Path;

use rightfit_types::{CachedResponse, CandidateInfo, ExampleRecord, RunInfo, RunStatus};
use serde::de::DeserializeOwned;

use crate::error::StoreError;

/// A run, as stored.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct RunRow {
    pub id: String,
    pub component: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub status: String,
    pub config_hash: String,
    pub dataset: String,
    pub rows_used: i64,
    pub rows_skipped: i64,
    pub row_limit: Option<i64>,
    pub seed: i64,
    pub meta: String,
}

/// The columns of [`RunRow`], for `SELECT`.
pub(crate) const RUN_COLUMNS: &str = "id, component, started_at, finished_at, status, \
     config_hash, dataset, rows_used, rows_skipped, row_limit, seed, meta";

impl RunRow {
    /// Checks and converts a run for writing.
    pub(crate) fn encode(run: &RunInfo) -> Result<Self, StoreError> {
        let what = format!("run '{}'", run.id);
        Ok(Self {
            id: run.id.clone(),
            component: run.component.clone(),
            started_at: run.started_at.clone(),
            finished_at: run.finished_at.clone(),
            status: run.status.as_str().to_owned(),
            config_hash: run.config_hash.clone(),
            dataset: run.dataset.clone(),
            rows_used: to_i64(&what, "rows_used", run.rows_used)?,
            rows_skipped: to_i64(&what, "rows_skipped", run.rows_skipped)?,
            row_limit: run
                .limit
                .map(|limit| to_i64(&what, "limit", limit))
                .transpose()?,
            seed: i64::from_ne_bytes(run.seed.to_ne_bytes()),
            meta: run.meta.to_string(),
        })
    }

    /// Converts a stored run back.
    pub(crate) fn decode(self, path: &Path) -> Result<RunInfo, StoreError> {
        let bad = Bad::new(path, format!("run '{}'", self.id));
        Ok(RunInfo {
            status: RunStatus::parse(&self.status).ok_or_else(|| {
                bad.field(
                    "status",
                    format!("'{}' is not running, interrupted or finished", self.status),
                )
            })?,
            rows_used: bad.u64("rows_used", self.rows_used)?,
            rows_skipped: bad.u64("rows_skipped", self.rows_skipped)?,
            limit: self
                .row_limit
                .map(|limit| bad.u64("row_limit", limit))
                .transpose()?,
            seed: u64::from_ne_bytes(self.seed.to_ne_bytes()),
            meta: bad.json("meta", &self.meta)?,
            id: self.id,
            component: self.component,
            started_at: self.started_at,
            finished_at: self.finished_at,
            config_hash: self.config_hash,
            dataset: self.dataset,
        })
    }
}

/// A candidate, as stored.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct CandidateRow {
    pub run_id: String,
    pub name: String,
    pub model: String,
    pub strategy: String,
    pub params: String,
    pub peak_memory_bytes: Option<i64>,
    pub model_memory_bytes: Option<i64>,
}

/// The columns of [`CandidateRow`], for `SELECT`.
pub(crate) const CANDIDATE_COLUMNS: &str =
    "run_id, name, model, strategy, params, peak_memory_bytes, model_memory_bytes";

impl CandidateRow {
    /// Checks and converts a candidate for writing.
    pub(crate) fn encode(c: &CandidateInfo) -> Result<Self, StoreError> {
        let what = format!("candidate '{}' of run '{}'", c.name, c.run_id);
        let bytes = |field, value: Option<u64>| value.map(|v| to_i64(&what, field, v)).transpose();
        Ok(Self {
            run_id: c.run_id.clone(),
            name: c.name.clone(),
            model: c.model.clone(),
            strategy: c.strategy.clone(),
            params: c.params.to_string(),
            peak_memory_bytes: bytes("peak_memory_bytes", c.peak_memory_bytes)?,
            model_memory_bytes: bytes("model_memory_bytes", c.model_memory_bytes)?,
        })
    }

    /// Converts a stored candidate back.
    pub(crate) fn decode(self, path: &Path) -> Result<CandidateInfo, StoreError> {
        let bad = Bad::new(
            path,
            format!("candidate '{}' of run '{}'", self.name, self.run_id),
        );
        let bytes = |field, value: Option<i64>| value.map(|v| bad.u64(field, v)).transpose();
        Ok(CandidateInfo {
            params: bad.json("params", &self.params)?,
            peak_memory_bytes: bytes("peak_memory_bytes", self.peak_memory_bytes)?,
            model_memory_bytes: bytes("model_memory_bytes", self.model_memory_bytes)?,
            run_id: self.run_id,
            name: self.name,
            model: self.model,
            strategy: self.strategy,
        })
    }
}

/// An example record, as stored.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct RecordRow {
    pub run_id: String,
    pub candidate: String,
    pub example_id: String,
    pub position: i64,
    pub input: String,
    pub output: Option<String>,
    pub reference: String,
    pub score: Option<f64>,
    pub scores: String,
    pub parsed: Option<String>,
    pub unparseable: bool,
    pub latency_ms: f64,
    pub ttft_ms: Option<f64>,
    pub tokens_in: i64,
    pub tokens_out: i64,
    pub cost_usd: Option<f64>,
    pub calls: i64,
    pub cached: bool,
    pub error: Option<String>,
    pub confidence: Option<f64>,
    pub steps: String,
}

/// The columns of [`RecordRow`], for `SELECT`; prefix them with the table's alias.
pub(crate) const RECORD_COLUMNS: [&str; 21] = [
    "run_id",
    "candidate",
    "example_id",
    "position",
    "input",
    "output",
    "reference",
    "score",
    "scores",
    "parsed",
    "unparseable",
    "latency_ms",
    "ttft_ms",
    "tokens_in",
    "tokens_out",
    "cost_usd",
    "calls",
    "cached",
    "error",
    "confidence",
    "steps",
];

impl RecordRow {
    /// Checks and converts a record for writing.
    pub(crate) fn encode(r: &ExampleRecord) -> Result<Self, StoreError> {
        let what = format!(
            "record (run '{}', candidate '{}', example '{}')",
            r.run_id, r.candidate, r.example_id
        );
        let optional =
            |field, value: Option<f64>| value.map(|v| finite(&what, field, v)).transpose();
        let mut scores = serde_json::Map::new();
        for (metric, &value) in &r.scores {
            let number = serde_json::Number::from_f64(value)
                .ok_or_else(|| not_finite(&what, &format!("scores.{metric}"), value))?;
            scores.insert(metric.clone(), serde_json::Value::Number(number));
        }
        Ok(Self {
            run_id: r.run_id.clone(),
            candidate: r.candidate.clone(),
            example_id: r.example_id.clone(),
            position: to_i64(&what, "position", r.position)?,
            input: r.input.to_string(),
            output: r.output.clone(),
            reference: r.reference.to_string(),
            score: optional("score", r.score)?,
            scores: serde_json::Value::Object(scores).to_string(),
            parsed: r.parsed.as_ref().map(serde_json::Value::to_string),
            unparseable: r.unparseable,
            latency_ms: finite(&what, "latency_ms", r.latency_ms)?,
            ttft_ms: optional("ttft_ms", r.ttft_ms)?,
            tokens_in: to_i64(&what, "tokens_in", r.tokens_in)?,
            tokens_out: to_i64(&what, "tokens_out", r.tokens_out)?,
            cost_usd: optional("cost_usd", r.cost_usd)?,
            calls: i64::from(r.calls),
            cached: r.cached,
            error: r.error.clone(),
            confidence: optional("confidence", r.confidence)?,
            steps: serde_json::to_string(&r.steps).map_err(|e| StoreError::InvalidValue {
                what: what.clone(),
                field: "steps".to_owned(),
                value: e.to_string(),
                rule: "the steps must be serialisable as JSON",
            })?,
        })
    }

    /// Converts a stored record back.
    pub(crate) fn decode(self, path: &Path) -> Result<ExampleRecord, StoreError> {
        let bad = Bad::new(
            path,
            format!(
                "record (run '{}', candidate '{}', example '{}')",
                self.run_id, self.candidate, self.example_id
            ),
        );
        Ok(ExampleRecord {
            position: bad.u64("position", self.position)?,
            input: bad.json("input", &self.input)?,
            reference: bad.json("reference", &self.reference)?,
            scores: bad.json::<BTreeMap<String, f64>>("scores", &self.scores)?,
            parsed: self
                .parsed
                .as_deref()
                .map(|text| bad.json("parsed", text))
                .transpose()?,
            tokens_in: bad.u64("tokens_in", self.tokens_in)?,
            steps: bad.json("steps", &self.steps)?,
            confidence: self.confidence,
            tokens_out: bad.u64("tokens_out", self.tokens_out)?,
            calls: u32::try_from(self.calls)
                .map_err(|_| bad.field("calls", format!("{} is not a call count", self.calls)))?,
            run_id: self.run_id,
            candidate: self.candidate,
            example_id: self.example_id,
            output: self.output,
            score: self.score,
            unparseable: self.unparseable,
            latency_ms: self.latency_ms,
            ttft_ms: self.ttft_ms,
            cost_usd: self.cost_usd,
            cached: self.cached,
            error: self.error,
        })
    }
}

/// Binds a [`RunRow`]'s values in [`RUN_COLUMNS`] order: `$q.$bind(value)` chained, so it
/// serves a query (`bind`) and a multi-row builder (`push_bind`) on either backend alike.
macro_rules! bind_run {
    ($q:expr, $bind:ident, $row:expr) => {
        $q.$bind(&$row.id)
            .$bind(&$row.component)
            .$bind(&$row.started_at)
            .$bind(&$row.finished_at)
            .$bind(&$row.status)
            .$bind(&$row.config_hash)
            .$bind(&$row.dataset)
            .$bind($row.rows_used)
            .$bind($row.rows_skipped)
            .$bind($row.row_limit)
            .$bind($row.seed)
            .$bind(&$row.meta)
    };
}

/// Binds a [`CandidateRow`]'s values in [`CANDIDATE_COLUMNS`] order (see [`bind_run`]).
macro_rules! bind_candidate {
    ($q:expr, $bind:ident, $row:expr) => {
        $q.$bind(&$row.run_id)
            .$bind(&$row.name)
            .$bind(&$row.model)
            .$bind(&$row.strategy)
            .$bind(&$row.params)
            .$bind($row.peak_memory_bytes)
            .$bind($row.model_memory_bytes)
    };
}

/// Binds a [`RecordRow`]'s values in [`RECORD_COLUMNS`] order (see [`bind_run`]).
macro_rules! bind_record {
    ($q:expr, $bind:ident, $row:expr) => {
        $q.$bind(&$row.run_id)
            .$bind(&$row.candidate)
            .$bind(&$row.example_id)
            .$bind($row.position)
            .$bind(&$row.input)
            .$bind(&$row.output)
            .$bind(&$row.reference)
            .$bind($row.score)
            .$bind(&$row.scores)
            .$bind(&$row.parsed)
            .$bind($row.unparseable)
            .$bind($row.latency_ms)
            .$bind($row.ttft_ms)
            .$bind($row.tokens_in)
            .$bind($row.tokens_out)
            .$bind($row.cost_usd)
            .$bind($row.calls)
            .$bind($row.cached)
            .$bind(&$row.error)
            .$bind($row.confidence)
            .$bind(&$row.steps)
    };
}

pub(crate) use {bind_candidate, bind_record, bind_run};

/// A cached response, as stored.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct CacheRow {
    pub key: String,
    pub provider: String,
    pub response: String,
    pub created_at: String,
}

impl CacheRow {
    /// Converts a cache entry for writing.
    pub(crate) fn encode(entry: &CachedResponse) -> Self {
        Self {
            key: entry.key.clone(),
            provider: entry.provider.clone(),
            response: entry.response.to_string(),
            created_at: entry.created_at.clone(),
        }
    }

    /// Converts a stored cache entry back.
    pub(crate) fn decode(self, path: &Path) -> Result<CachedResponse, StoreError> {
        let bad = Bad::new(path, format!("cached response '{}'", self.key));
        Ok(CachedResponse {
            response: bad.json("response", &self.response)?,
            key: self.key,
            provider: self.provider,
            created_at: self.created_at,
        })
    }
}

pub(crate) fn to_i64(what: &str, field: &str, value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::InvalidValue {
        what: what.to_owned(),
        field: field.to_owned(),
        value: value.to_string(),
        rule: "the store keeps whole numbers up to 9223372036854775807 (i64::MAX)",
    })
}

pub(crate) fn finite(what: &str, field: &str, value: f64) -> Result<f64, StoreError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(not_finite(what, field, value))
    }
}

pub(crate) fn not_finite(what: &str, field: &str, value: f64) -> StoreError {
    StoreError::InvalidValue {
        what: what.to_owned(),
        field: field.to_owned(),
        value: value.to_string(),
        rule: "the store keeps finite numbers only (a failed example has no score: use None)",
    }
}

/// Builds [`StoreError::Corrupt`] for one stored row.
pub(crate) struct Bad<'a> {
    path: &'a Path,
    what: String,
}

impl<'a> Bad<'a> {
    pub(crate) fn new(path: &'a Path, what: String) -> Self {
        Self { path, what }
    }

    pub(crate) fn field(&self, field: &str, problem: String) -> StoreError {
        StoreError::Corrupt {
            path: self.path.to_path_buf(),
            what: self.what.clone(),
            field: field.to_owned(),
            problem,
        }
    }

    pub(crate) fn u64(&self, field: &str, value: i64) -> Result<u64, StoreError> {
        u64::try_from(value).map_err(|_| self.field(field, format!("{value} is negative")))
    }

    pub(crate) fn json<T: DeserializeOwned>(
        &self,
        field: &str,
        text: &str,
    ) -> Result<T, StoreError> {
        serde_json::from_str(text)
            .map_err(|e| self.field(field, format!("not the JSON expected: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> ExampleRecord {
        ExampleRecord {
            run_id: "r".into(),
            candidate: "c".into(),
            example_id: "e".into(),
            position: 0,
            input: serde_json::json!({"prompt": "hi"}),
            output: Some("ok".into()),
            reference: serde_json::json!("ok"),
            score: Some(1.0),
            scores: BTreeMap::from([("exact_match".to_owned(), 1.0)]),
            parsed: None,
            unparseable: false,
            latency_ms: 12.5,
            ttft_ms: None,
            tokens_in: 3,
            tokens_out: 1,
            cost_usd: None,
            calls: 1,
            cached: false,
            error: None,
            confidence: None,
            steps: Vec::new(),
        }
    }

    fn invalid_field(result: Result<RecordRow, StoreError>) -> String {
        match result {
            Err(StoreError::InvalidValue { field, .. }) => field,
            other => panic!("expected InvalidValue, got {other:?}"),
        }
    }

    #[test]
    fn non_finite_numbers_are_refused_by_field() {
        let mut r = record();
        r.score = Some(f64::NAN);
        assert_eq!(invalid_field(RecordRow::encode(&r)), "score");

        let mut r = record();
        r.latency_ms = f64::INFINITY;
        assert_eq!(invalid_field(RecordRow::encode(&r)), "latency_ms");

        let mut r = record();
        r.ttft_ms = Some(f64::NEG_INFINITY);
        assert_eq!(invalid_field(RecordRow::encode(&r)), "ttft_ms");

        let mut r = record();
        r.cost_usd = Some(f64::NAN);
        assert_eq!(invalid_field(RecordRow::encode(&r)), "cost_usd");

        let mut r = record();
        r.scores.insert("f1".into(), f64::NAN);
        assert_eq!(invalid_field(RecordRow::encode(&r)), "scores.f1");
    }

    #[test]
    fn the_message_says_which_record_and_what_to_do() {
        let mut r = record();
        r.score = Some(f64::NAN);
        let message = RecordRow::encode(&r).unwrap_err().to_string();
        assert_eq!(
            message,
            "record (run 'r', candidate 'c', example 'e'): score is NaN; the store keeps finite \
             numbers only (a failed example has no score: use None)"
        );
    }

    #[test]
    fn integers_past_i64_max_are_refused() {
        let mut r = record();
        r.tokens_out = u64::MAX;
        assert_eq!(invalid_field(RecordRow::encode(&r)), "tokens_out");
        r.tokens_out = i64::MAX as u64;
        assert!(RecordRow::encode(&r).is_ok());
    }

    #[test]
    fn scores_keep_exact_floats() {
        let mut r = record();
        r.scores = BTreeMap::from([("a".to_owned(), 0.1 + 0.2), ("b".to_owned(), 1e-300)]);
        let row = RecordRow::encode(&r).unwrap();
        let back: BTreeMap<String, f64> = serde_json::from_str(&row.scores).unwrap();
        assert_eq!(back, r.scores);
    }

    #[test]
    fn every_seed_survives_the_signed_column() {
        let mut run = RunInfo {
            id: "r".into(),
            component: "c".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            finished_at: None,
            status: RunStatus::Running,
            config_hash: "h".into(),
            dataset: "d".into(),
            rows_used: 0,
            rows_skipped: 0,
            limit: None,
            seed: 0,
            meta: serde_json::Value::Null,
        };
        for seed in [0, 1, i64::MAX as u64, i64::MAX as u64 + 1, u64::MAX] {
            run.seed = seed;
            let row = RunRow::encode(&run).unwrap();
            assert_eq!(row.decode(Path::new("x")).unwrap().seed, seed);
        }
    }

    #[test]
    fn negative_stored_counts_are_reported_as_corrupt() {
        let row = RunRow {
            id: "r".into(),
            component: "c".into(),
            started_at: "t".into(),
            finished_at: None,
            status: "running".into(),
            config_hash: "h".into(),
            dataset: "d".into(),
            rows_used: -1,
            rows_skipped: 0,
            row_limit: None,
            seed: 0,
            meta: "null".into(),
        };
        let message = row.decode(Path::new("/x/runs.db")).unwrap_err().to_string();
        assert_eq!(
            message,
            "/x/runs.db: run 'r' holds a bad value in 'rows_used': -1 is negative"
        );
    }

    #[test]
    fn an_unknown_stored_status_is_reported_as_corrupt() {
        let row = RunRow {
            id: "r".into(),
            component: "c".into(),
            started_at: "t".into(),
            finished_at: None,
            status: "paused".into(),
            config_hash: "h".into(),
            dataset: "d".into(),
            rows_used: 0,
            rows_skipped: 0,
            row_limit: None,
            seed: 0,
            meta: "null".into(),
        };
        let err = row.decode(Path::new("x")).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { ref field, .. } if field == "status"));
    }
}
