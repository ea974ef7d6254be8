//! Conversions between traffic records and gateway keys and the values of SQLite columns, with
//! the same checks as `rows.rs`: non-finite floats and integers past `i64::MAX` are refused by
//! field on the way in; stored values that no longer fit their types are reported with their
//! row and column on the way out.

use std::path::Path;

use rightfit_types::{GatewayKey, MAX_RECORD_DEPTH, Step, TrafficRecord, json_depth};

use crate::error::StoreError;
use crate::rows::{Bad, finite, to_i64};

/// The roles a traffic record may have.
const ROLES: [&str; 2] = ["primary", "shadow"];

/// A traffic record, as stored.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct TrafficRow {
    pub id: String,
    pub at: String,
    pub api: String,
    pub key_id: Option<String>,
    pub component: Option<String>,
    pub requested: String,
    pub route: String,
    pub candidate: String,
    pub role: String,
    pub parent: Option<String>,
    pub input: String,
    pub output: Option<String>,
    pub tool_calls: String,
    pub finish_reason: Option<String>,
    pub stream: bool,
    pub status: i64,
    pub error: Option<String>,
    pub latency_ms: f64,
    pub ttft_ms: Option<f64>,
    pub tokens_in: i64,
    pub tokens_out: i64,
    pub cost_usd: Option<f64>,
    pub escalated: bool,
    pub confidence: Option<f64>,
    pub score: Option<f64>,
    pub steps: String,
}

/// The columns of [`TrafficRow`], in the order `put_traffic` binds them.
pub(crate) const TRAFFIC_COLUMNS: [&str; 26] = [
    "id",
    "at",
    "api",
    "key_id",
    "component",
    "requested",
    "route",
    "candidate",
    "role",
    "parent",
    "input",
    "output",
    "finish_reason",
    "stream",
    "status",
    "error",
    "latency_ms",
    "ttft_ms",
    "tokens_in",
    "tokens_out",
    "cost_usd",
    "escalated",
    "confidence",
    "score",
    "steps",
    "tool_calls",
];

/// Binds a [`TrafficRow`]'s values in [`TRAFFIC_COLUMNS`] order: `$q.$bind(value)` chained, so
/// it serves a query (`bind`) and a multi-row builder (`push_bind`) on either backend alike.
macro_rules! bind_traffic {
    ($q:expr, $bind:ident, $row:expr) => {
        $q.$bind(&$row.id)
            .$bind(&$row.at)
            .$bind(&$row.api)
            .$bind(&$row.key_id)
            .$bind(&$row.component)
            .$bind(&$row.requested)
            .$bind(&$row.route)
            .$bind(&$row.candidate)
            .$bind(&$row.role)
            .$bind(&$row.parent)
            .$bind(&$row.input)
            .$bind(&$row.output)
            .$bind(&$row.finish_reason)
            .$bind($row.stream)
            .$bind($row.status)
            .$bind(&$row.error)
            .$bind($row.latency_ms)
            .$bind($row.ttft_ms)
            .$bind($row.tokens_in)
            .$bind($row.tokens_out)
            .$bind($row.cost_usd)
            .$bind($row.escalated)
            .$bind($row.confidence)
            .$bind($row.score)
            .$bind(&$row.steps)
            .$bind(&$row.tool_calls)
    };
}

/// Binds a [`KeyRow`]'s values in [`KEY_COLUMNS`] order (see [`bind_traffic`]).
macro_rules! bind_key {
    ($q:expr, $bind:ident, $row:expr) => {
        $q.$bind(&$row.id)
            .$bind(&$row.name)
            .$bind(&$row.hash)
            .$bind(&$row.prefix)
            .$bind(&$row.created_at)
            .$bind(&$row.revoked_at)
            .$bind($row.requests_per_minute)
            .$bind($row.budget_usd)
            .$bind($row.spent_usd)
    };
}

pub(crate) use {bind_key, bind_traffic};

impl TrafficRow {
    /// Checks and converts a record for writing.
    pub(crate) fn encode(r: &TrafficRecord) -> Result<Self, StoreError> {
        let what = format!("traffic record '{}'", r.id);
        let optional =
            |field, value: Option<f64>| value.map(|v| finite(&what, field, v)).transpose();
        if !ROLES.contains(&r.role.as_str()) {
            return Err(StoreError::InvalidValue {
                what: what.clone(),
                field: "role".to_owned(),
                value: format!("'{}'", r.role),
                rule: "a traffic record's role is 'primary' or 'shadow'",
            });
        }
        check_steps(&what, &r.steps)?;
        let depth = json_depth(&r.input);
        if depth > MAX_RECORD_DEPTH {
            return Err(StoreError::InvalidValue {
                what: what.clone(),
                field: "input".to_owned(),
                value: format!("JSON nested {depth} levels deep"),
                rule: "a traffic record's input nests at most 64 levels (MAX_RECORD_DEPTH), so that every reader reads it back",
            });
        }
        Ok(Self {
            id: r.id.clone(),
            at: r.at.clone(),
            api: r.api.clone(),
            key_id: r.key_id.clone(),
            component: r.component.clone(),
            requested: r.requested.clone(),
            route: r.route.clone(),
            candidate: r.candidate.clone(),
            role: r.role.clone(),
            parent: r.parent.clone(),
            input: r.input.to_string(),
            output: r.output.clone(),
            tool_calls: serde_json::to_string(&r.tool_calls).map_err(|e| {
                StoreError::InvalidValue {
                    what: what.clone(),
                    field: "tool_calls".to_owned(),
                    value: e.to_string(),
                    rule: "the tool calls must be serialisable as JSON",
                }
            })?,
            finish_reason: r.finish_reason.clone(),
            stream: r.stream,
            status: i64::from(r.status),
            error: r.error.clone(),
            latency_ms: finite(&what, "latency_ms", r.latency_ms)?,
            ttft_ms: optional("ttft_ms", r.ttft_ms)?,
            tokens_in: to_i64(&what, "tokens_in", r.tokens_in)?,
            tokens_out: to_i64(&what, "tokens_out", r.tokens_out)?,
            cost_usd: optional("cost_usd", r.cost_usd)?,
            escalated: r.escalated,
            confidence: optional("confidence", r.confidence)?,
            score: optional("score", r.score)?,
            steps: serde_json::to_string(&r.steps).map_err(|e| StoreError::InvalidValue {
                what: what.clone(),
                field: "steps".to_owned(),
                value: e.to_string(),
                rule: "the steps must be serialisable as JSON",
            })?,
        })
    }

    /// Converts a stored record back.
    pub(crate) fn decode(self, path: &Path) -> Result<TrafficRecord, StoreError> {
        let bad = Bad::new(path, format!("traffic record '{}'", self.id));
        Ok(TrafficRecord {
            input: bad.json("input", &self.input)?,
            status: u16::try_from(self.status).map_err(|_| {
                bad.field("status", format!("{} is not an HTTP status", self.status))
            })?,
            tokens_in: bad.u64("tokens_in", self.tokens_in)?,
            tokens_out: bad.u64("tokens_out", self.tokens_out)?,
            steps: bad.json("steps", &self.steps)?,
            tool_calls: bad.json("tool_calls", &self.tool_calls)?,
            id: self.id,
            at: self.at,
            api: self.api,
            key_id: self.key_id,
            component: self.component,
            requested: self.requested,
            route: self.route,
            candidate: self.candidate,
            role: self.role,
            parent: self.parent,
            output: self.output,
            finish_reason: self.finish_reason,
            stream: self.stream,
            error: self.error,
            latency_ms: self.latency_ms,
            ttft_ms: self.ttft_ms,
            cost_usd: self.cost_usd,
            escalated: self.escalated,
            confidence: self.confidence,
            score: self.score,
        })
    }
}

/// Steps go into JSON, which has no NaN: serde_json would write `null`, and the record would
/// not read back. Refuse them by field instead.
fn check_steps(what: &str, steps: &[Step]) -> Result<(), StoreError> {
    for (i, step) in steps.iter().enumerate() {
        finite(what, &format!("steps[{i}].latency_ms"), step.latency_ms)?;
        if let Some(c) = step.confidence {
            finite(what, &format!("steps[{i}].confidence"), c)?;
        }
        if let Some(c) = step.cost_usd {
            finite(what, &format!("steps[{i}].cost_usd"), c)?;
        }
        for (j, t) in step.logprobs.iter().flatten().enumerate() {
            finite(what, &format!("steps[{i}].logprobs[{j}]"), t.logprob)?;
            for a in &t.top {
                finite(what, &format!("steps[{i}].logprobs[{j}].top"), a.logprob)?;
            }
        }
    }
    Ok(())
}

/// A gateway key, as stored.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct KeyRow {
    pub id: String,
    pub name: String,
    pub hash: String,
    pub prefix: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
    pub requests_per_minute: Option<i64>,
    pub budget_usd: Option<f64>,
    pub spent_usd: f64,
}

/// The columns of [`KeyRow`], in the order `put_key` binds them.
pub(crate) const KEY_COLUMNS: &str = "id, name, hash, prefix, created_at, revoked_at, \
     requests_per_minute, budget_usd, spent_usd";

impl KeyRow {
    /// Checks and converts a key for writing.
    pub(crate) fn encode(k: &GatewayKey) -> Result<Self, StoreError> {
        let what = format!("gateway key '{}'", k.name);
        Ok(Self {
            id: k.id.clone(),
            name: k.name.clone(),
            hash: k.hash.clone(),
            prefix: k.prefix.clone(),
            created_at: k.created_at.clone(),
            revoked_at: k.revoked_at.clone(),
            requests_per_minute: k.requests_per_minute.map(i64::from),
            budget_usd: k
                .budget_usd
                .map(|b| finite(&what, "budget_usd", b))
                .transpose()?,
            spent_usd: finite(&what, "spent_usd", k.spent_usd)?,
        })
    }

    /// Converts a stored key back.
    pub(crate) fn decode(self, path: &Path) -> Result<GatewayKey, StoreError> {
        let bad = Bad::new(path, format!("gateway key '{}'", self.name));
        Ok(GatewayKey {
            requests_per_minute: self
                .requests_per_minute
                .map(|n| {
                    u32::try_from(n)
                        .map_err(|_| bad.field("requests_per_minute", format!("{n} is not a rate")))
                })
                .transpose()?,
            id: self.id,
            name: self.name,
            hash: self.hash,
            prefix: self.prefix,
            created_at: self.created_at,
            revoked_at: self.revoked_at,
            budget_usd: self.budget_usd,
            spent_usd: self.spent_usd,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> TrafficRecord {
        TrafficRecord {
            id: "req_1".into(),
            at: "2026-11-30T03:42:07.123Z".into(),
            api: "openai".into(),
            key_id: None,
            component: Some("intent".into()),
            requested: "intent".into(),
            route: "pinned".into(),
            candidate: "qwen/zero-shot".into(),
            role: "primary".into(),
            parent: None,
            input: serde_json::json!({"messages": [], "params": {}}),
            output: Some("ok".into()),
            tool_calls: Vec::new(),
            finish_reason: Some("stop".into()),
            stream: false,
            status: 200,
            error: None,
            latency_ms: 12.0,
            ttft_ms: None,
            tokens_in: 3,
            tokens_out: 1,
            cost_usd: None,
            escalated: false,
            confidence: None,
            score: None,
            steps: Vec::new(),
        }
    }

    fn invalid_field(result: Result<TrafficRow, StoreError>) -> String {
        match result {
            Err(StoreError::InvalidValue { field, .. }) => field,
            other => panic!("expected InvalidValue, got {other:?}"),
        }
    }

    #[test]
    fn non_finite_numbers_and_unknown_roles_are_refused_by_field() {
        let mut r = record();
        r.latency_ms = f64::NAN;
        assert_eq!(invalid_field(TrafficRow::encode(&r)), "latency_ms");
        let mut r = record();
        r.score = Some(f64::INFINITY);
        assert_eq!(invalid_field(TrafficRow::encode(&r)), "score");
        let mut r = record();
        r.cost_usd = Some(f64::NAN);
        assert_eq!(invalid_field(TrafficRow::encode(&r)), "cost_usd");
        let mut r = record();
        r.steps.push(Step {
            kind: "stage".into(),
            by: "small".into(),
            output: String::new(),
            answer: None,
            confidence: Some(f64::NAN),
            latency_ms: 1.0,
            tokens_in: 0,
            tokens_out: 0,
            cost_usd: None,
            cached: false,
            error: None,
            logprobs: None,
        });
        assert_eq!(invalid_field(TrafficRow::encode(&r)), "steps[0].confidence");
        let mut r = record();
        r.role = "Primary".into();
        assert_eq!(invalid_field(TrafficRow::encode(&r)), "role");
        let mut r = record();
        r.tokens_in = u64::MAX;
        assert_eq!(invalid_field(TrafficRow::encode(&r)), "tokens_in");
        assert!(TrafficRow::encode(&record()).is_ok());
    }

    #[test]
    fn a_negative_stored_rate_is_reported_as_corrupt() {
        let row = KeyRow {
            id: "key_1".into(),
            name: "ci".into(),
            hash: "h".into(),
            prefix: "rf-".into(),
            created_at: "t".into(),
            revoked_at: None,
            requests_per_minute: Some(-1),
            budget_usd: None,
            spent_usd: 0.0,
        };
        let err = row.decode(Path::new("x.db")).unwrap_err();
        assert!(
            matches!(err, StoreError::Corrupt { ref field, .. } if field == "requests_per_minute"),
            "{err:?}"
        );
    }
}
