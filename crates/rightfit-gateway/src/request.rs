//! A request as the gateway keeps it while answering (who sent it, what it asks, when it came)
//! and the traffic record made from it: the primary's, or a shadow's beside it.

use std::sync::Arc;
use std::time::Instant;

use rightfit_types::{ImagePart, Message, ToolCall, TrafficRecord};
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
            .map(|m| logged_message(m, redactor))
            .collect();
        let mut input = json!({"messages": messages, "params": redactor.params(&self.req.params)});
        let chat = &self.req.chat;
        if !chat.tools.is_empty() {
            input["tools"] = json!(chat.tools);
        }
        if !chat.tool_choice.is_auto() {
            input["tool_choice"] = json!(chat.tool_choice);
        }
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
            input,
            output: None,
            tool_calls: Vec::new(),
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
    record.tool_calls = a
        .response
        .choices
        .first()
        .map(|c| redact_calls(redactor, &c.tool_calls))
        .unwrap_or_default();
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

/// A message as the traffic log keeps it: the common [`Message`] shape, its text and its calls'
/// arguments redacted, and inline (`data:`) images replaced by their media type and size (the
/// log keeps remote image URLs, not image bytes).
fn logged_message(m: &Message, redactor: &Redactor) -> Value {
    let logged = Message {
        role: m.role,
        content: redactor.text(&m.content),
        tool_calls: redact_calls(redactor, &m.tool_calls),
        tool_call_id: m.tool_call_id.clone(),
        images: m
            .images
            .iter()
            .map(|image| ImagePart {
                url: match image.data() {
                    Some((media, data)) => {
                        format!("data:{media};base64,[{} bytes not logged]", data.len())
                    }
                    None => image.url.clone(),
                },
                detail: image.detail.clone(),
            })
            .collect(),
    };
    serde_json::to_value(&logged).unwrap_or_else(|_| json!({"role": m.role.as_str()}))
}

/// Tool calls as logged: their arguments redacted like any text.
pub(crate) fn redact_calls(redactor: &Redactor, calls: &[ToolCall]) -> Vec<ToolCall> {
    calls
        .iter()
        .map(|c| ToolCall {
            id: c.id.clone(),
            name: c.name.clone(),
            arguments: redactor.text(&c.arguments),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use rightfit_types::{ImagePart, Message, ToolCall};
    use serde_json::json;

    use super::{logged_message, redact_calls};
    use crate::redact::Redactor;

    fn mails() -> Redactor {
        Redactor::new(&[], &[r"[\w.+-]+@[\w-]+\.[\w.]+".into()], true).expect("pattern")
    }

    #[test]
    fn tool_arguments_and_results_are_redacted_and_inline_images_left_out() {
        let r = mails();
        let call = ToolCall::new("c1", "send_mail", &json!({"to": "ann@example.com"}));
        assert_eq!(
            redact_calls(&r, std::slice::from_ref(&call))[0].arguments,
            r#"{"to":"[redacted]"}"#
        );
        let logged = logged_message(&Message::assistant_calls("", vec![call]), &r);
        assert_eq!(
            logged,
            json!({"role": "assistant", "content": "",
                "tool_calls": [{"id": "c1", "name": "send_mail", "arguments": "{\"to\":\"[redacted]\"}"}]})
        );
        let logged = logged_message(&Message::tool_result("c1", "sent to bob@example.com"), &r);
        assert_eq!(
            logged,
            json!({"role": "tool", "content": "sent to [redacted]", "tool_call_id": "c1"})
        );
        let mut user = Message::user("this?");
        user.images = vec![
            ImagePart {
                url: "data:image/png;base64,iVBORw0KGgo=".into(),
                detail: None,
            },
            ImagePart {
                url: "https://example.com/a.png".into(),
                detail: Some("low".into()),
            },
        ];
        assert_eq!(
            logged_message(&user, &r)["images"],
            json!([{"url": "data:image/png;base64,[12 bytes not logged]"},
                {"url": "https://example.com/a.png", "detail": "low"}])
        );
        // A plain message logs as it always did.
        assert_eq!(
            logged_message(&Message::user("hi"), &r),
            json!({"role": "user", "content": "hi"})
        );
    }
}
