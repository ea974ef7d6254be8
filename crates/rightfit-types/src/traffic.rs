//! What the gateway records: one traffic record per answered (or failed) call, and gateway keys.

use serde::{Deserialize, Serialize};

use crate::eval::Step;
use crate::tools::ToolCall;

/// How deep the gateway lets a request's JSON nest (`{"a": [1]}` is 2 deep). Real requests are
/// a few levels deep; tool schemas a few more.
pub const MAX_REQUEST_DEPTH: usize = 32;

/// How deep a stored traffic record's `input` may nest: the store refuses a deeper one. Room for
/// a request of [`MAX_REQUEST_DEPTH`] inside the record's `{"messages", "params"}` wrapping, and
/// well inside what every reader parses (serde_json stops at 128 levels): whatever the store
/// takes, `rightfit traffic` and the journal read back.
pub const MAX_RECORD_DEPTH: usize = 64;

/// How deep `value` nests: 0 for a scalar, 1 for a flat array or object, one more per level.
/// Walks with its own stack, so a value of any depth is measured without recursion.
pub fn json_depth(value: &serde_json::Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 0usize)];
    while let Some((v, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &serde_json::Value>> = match v {
            serde_json::Value::Array(items) => Box::new(items.iter()),
            serde_json::Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        deepest = deepest.max(depth + 1);
        stack.extend(children.map(|c| (c, depth + 1)));
    }
    deepest
}

/// One request served by the gateway, or one shadow call made for it.
///
/// A request that a component's policy sends to a shadow candidate too yields two records: the
/// primary (what the client got) and the shadow (`role = "shadow"`, `parent` = the primary's
/// id), so both can be compared later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrafficRecord {
    /// Unique id (`req_...` for a primary, `req_...-shadow-N` for a shadow).
    pub id: String,
    /// When the request arrived, RFC 3339 UTC with milliseconds (text order is time order).
    pub at: String,
    /// The API the client spoke: `openai` or `anthropic`.
    pub api: String,
    /// The gateway key that made the request (its id, never the secret); `None` when the
    /// gateway runs without keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// The component the request named; `None` when it named a model directly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// What the request's `model` field said.
    pub requested: String,
    /// How the target was chosen: `direct`, `pinned`, `split`, `fallback`, `shadow`.
    pub route: String,
    /// The candidate (or, for a direct request, the model) that answered this record.
    pub candidate: String,
    /// `primary` (the client's answer) or `shadow`.
    pub role: String,
    /// For a shadow record: the id of the primary it shadows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// The input as the client sent it, after redaction: `{"messages": [...], "params": {...}}`,
    /// each message a [`crate::Message`] (tool turns and assistant calls included), plus
    /// `"tools"` and `"tool_choice"` in their common shapes when the request offered tools.
    pub input: serde_json::Value,
    /// The answer's text (first choice), after redaction; `None` when the call failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// The tools the answer called (first choice), in order, their arguments redacted like
    /// the output; empty when it called none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// Why the answer ended (`stop`, `length`, `content_filter`, `tool_calls`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    /// Whether the client asked for a stream.
    pub stream: bool,
    /// The HTTP status the client got (for a shadow: 200 when it answered, else the status its
    /// error maps to).
    pub status: u16,
    /// What went wrong, as a person can read it (no secrets); `None` on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// From arrival to the last byte of the answer, milliseconds.
    pub latency_ms: f64,
    /// From arrival to the first streamed token, milliseconds (streams only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<f64>,
    /// Prompt tokens of every call made for this record.
    pub tokens_in: u64,
    /// Generated tokens of every call made for this record.
    pub tokens_out: u64,
    /// Cost in US dollars; `None` when a price is unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// A cascade passed the request on past its first stage.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub escalated: bool,
    /// How sure the answering strategy was, where it can say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    /// For a shadow record: its score against the primary's answer under the component's
    /// primary metric (the primary answer taken as the reference), where a scorer applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Targets tried before this one answered (fallbacks), and a strategy's calls.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
}

/// Which traffic records to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrafficFilter {
    /// Only this component's.
    pub component: Option<String>,
    /// Only this candidate's (or model's).
    pub candidate: Option<String>,
    /// Only `primary` or only `shadow` records.
    pub role: Option<String>,
    /// Only records at or after this RFC 3339 time.
    pub since: Option<String>,
    /// Only records without an error.
    pub ok_only: bool,
    /// Only records with an error (with `ok_only` too: none).
    pub errors_only: bool,
    /// At most this many (the newest when `newest_first`, else the oldest).
    pub limit: Option<usize>,
    /// Newest first (listing) instead of oldest first (export).
    pub newest_first: bool,
}

/// A gateway key as stored: never the secret itself, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatewayKey {
    /// Short public id (`key_...`), shown in listings and traffic records.
    pub id: String,
    /// A name a person gave it (unique among keys).
    pub name: String,
    /// SHA-256 of the secret, lowercase hex.
    pub hash: String,
    /// The secret's first characters (`rf-abc123`), so a person can tell keys apart.
    pub prefix: String,
    /// When it was made, RFC 3339 UTC.
    pub created_at: String,
    /// When it was revoked; a revoked key is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    /// Requests allowed per minute; `None`: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_minute: Option<u32>,
    /// Total US dollars this key may spend; `None`: no budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_usd: Option<f64>,
    /// US dollars spent so far (priced requests only).
    pub spent_usd: f64,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::json_depth;

    #[test]
    fn depth_counts_levels_of_arrays_and_objects() {
        assert_eq!(json_depth(&json!(3)), 0);
        assert_eq!(json_depth(&json!([])), 1);
        assert_eq!(json_depth(&json!({"a": [1]})), 2);
        assert_eq!(json_depth(&json!({"a": 1, "b": {"c": [[]]}})), 4);
        // Deeper than serde_json would parse, built by hand: measured without recursion.
        let mut deep = serde_json::Value::Null;
        for _ in 0..100_000 {
            deep = serde_json::Value::Array(vec![deep]);
        }
        assert_eq!(json_depth(&deep), 100_000);
        // Dropping a 100,000-deep value recurses in serde_json: take it apart level by level.
        while let serde_json::Value::Array(mut items) = deep {
            deep = items.pop().unwrap_or_default();
        }
    }
}
