//! A request as the gateway keeps it while answering (who sent it, what it asks, when it came)
//! and the traffic record made from it: the primary's, or a shadow's beside it.

use std::sync::Arc;
use std::time::Instant;

use rightfit_types::{Message, TrafficRecord};
use serde_json::{Value, json};

use crate::answer::Answered;
use crate::api::Api;
use crate::auth::KeyState;
use crate::metrics::InFlightGuard;
use crate::redact::Redactor;
use crate::wire::GatewayRequest;

/// The status recorded when the client went away before its answer was complete (nginx's).
pub const CLIENT_CLOSED: u16 = 499;

/// Everything known about a request before it is answered.
pub(crate) struct Request {
    pub(crate) id: String,
    /// RFC 3339 UTC with milliseconds.
    pub(crate) at: String,
    pub(crate) arrived: Instant,
    pub(crate) api: Api,
    pub(crate) key: Option<Arc<KeyState>>,
    pub(crate) req: Arc<GatewayRequest>,
    /// The component the client named, when it named one rather than a model.
    pub(crate) component: Option<String>,
    /// Counts the request in flight until its answer is complete (a stream's last frame).
    pub(crate) _in_flight: Option<InFlightGuard>,
}

impl Request {
    /// The same request sent to shadow number `i` (from 0): its own id and clock, no key (a
    /// shadow's cost is not the client's), not counted in flight.
    pub(crate) fn shadow(&self, i: usize) -> Self {
        Self {
            id: format!("{}-shadow-{}", self.id, i + 1),
            at: self.at.clone(),
            arrived: Instant::now(),
            api: self.api,
            key: None,
            req: self.req.clone(),
            component: self.component.clone(),
            _in_flight: None,
        }
    }

    /// Its traffic record before the answer is known: the input redacted, status 200, the
    /// latency so far.
    pub(crate) fn record(
        &self,
        redactor: &Redactor,
        route: &str,
        candidate: &str,
        parent: Option<String>,
    ) -> TrafficRecord {
        let messages: Vec<Value> = self
            .req
            .messages
            .iter()
            .map(|m: &Message| json!({"role": m.role.as_str(), "content": redactor.text(&m.content)}))
            .collect();
        TrafficRecord {
            id: self.id.clone(),
            at: self.at.clone(),
            api: self.api.as_str().into(),
            key_id: self.key.as_ref().map(|k| k.id()),
            component: self.component.clone(),
            requested: self.req.model.clone(),
            route: route.into(),
            candidate: candidate.into(),
            role: "primary".into(),
            parent,
            input: json!({"messages": messages, "params": redactor.params(&self.req.params)}),
            output: None,
            finish_reason: None,
            stream: self.req.stream,
            status: 200,
            error: None,
            latency_ms: self.arrived.elapsed().as_secs_f64() * 1000.0,
            ttft_ms: None,
            tokens_in: 0,
            tokens_out: 0,
            cost_usd: None,
            escalated: false,
            confidence: None,
            score: None,
            steps: Vec::new(),
        }
    }
}

/// Copies a whole answer's figures into its record.
pub(crate) fn fill(record: &mut TrafficRecord, a: &Answered, redactor: &Redactor) {
    record.output = Some(redactor.text(a.response.text()));
    record.finish_reason = a
        .response
        .choices
        .first()
        .map(|c| c.finish_reason.as_str().to_owned());
    record.tokens_in = u64::from(a.response.usage.prompt_tokens);
    record.tokens_out = u64::from(a.response.usage.completion_tokens);
    record.cost_usd = a.cost_usd;
    record.confidence = a.confidence;
    record.escalated = a.escalated;
    record.steps.extend(a.steps.iter().cloned());
}
