//! Plays a script step for an accepted generation request: the protocol modules render bodies
//! and events, this module decides what is written when, and how it ends.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderValue, Response, StatusCode, header};
use tokio::sync::Notify;

use crate::script::{Reply, Step};
use crate::shared::Shared;

/// How long a cut connection waits after its last write before closing, so the bytes written
/// leave before the socket goes (only on fault paths).
const FLUSH_BEFORE_CUT: Duration = Duration::from_millis(20);

/// The bytes of one streamed answer, already framed as the protocol sends them.
#[derive(Debug, Default)]
pub(crate) struct StreamPlan {
    /// Opening events (Anthropic's `message_start`, ...).
    pub(crate) head: Vec<Bytes>,
    /// One entry per delta, none of them marked final.
    pub(crate) deltas: Vec<Bytes>,
    /// Closing events of a complete answer (final chunk, usage, `[DONE]`, `message_stop`).
    pub(crate) tail: Vec<Bytes>,
    /// The tail repeats the last delta in its final form (Gemini puts `finishReason` on the
    /// chunk with the last text): a complete answer sends all deltas but the last, then the tail.
    pub(crate) last_delta_in_tail: bool,
}

/// How a stream is written to the socket.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Writing {
    /// A `: ping` comment first and a `: keep-alive` comment before every event.
    pub(crate) keep_alives: bool,
    /// Line ending of the comments.
    pub(crate) crlf: bool,
    /// Each event in 3-byte frames, each flushed alone.
    pub(crate) split: bool,
}

/// One accepted generation request, in one protocol.
pub(crate) trait Generation: Send {
    /// Whether the client asked for a stream.
    fn streaming(&self) -> bool;
    /// The whole JSON body of a non-streamed answer.
    fn body(&self, reply: &Reply) -> Vec<u8>;
    /// Where to cut a non-streamed body so that it holds only the first `deltas` deltas.
    fn cut_body_at(&self, body: &[u8], reply: &Reply, deltas: usize) -> usize;
    /// The events of a streamed answer.
    fn stream(&self, reply: &Reply) -> StreamPlan;
    /// The mid-stream error event, after `sent` entries of head and deltas.
    fn stream_error(&self, sent: usize) -> Bytes;
    /// An event whose data is not valid JSON, after `sent` entries.
    fn malformed_event(&self, sent: usize) -> Bytes;
    /// An error response in the protocol's shape.
    fn error(&self, status: u16) -> Response<Body>;
    /// `Content-Type` of a stream.
    fn stream_content_type(&self) -> &'static str;
    /// How streams are written.
    fn writing(&self) -> Writing;
    /// Headers every response of this protocol carries (request ids).
    fn decorate(&self, response: &mut Response<Body>);
}

/// A request a protocol module accepted: a generation (chat, messages, generateContent) or an
/// embeddings request. Both take script steps the same way.
#[derive(Debug)]
pub(crate) enum Accepted<G, E> {
    Generate(G),
    Embed(E),
}

impl<G: Generation, E: Generation> Accepted<G, E> {
    /// Answers with the next step of the script.
    pub(crate) async fn play(self, shared: &Shared, kill: &Arc<Notify>) -> Response<Body> {
        match self {
            Accepted::Generate(call) => play(shared, kill, call).await,
            Accepted::Embed(call) => play(shared, kill, call).await,
        }
    }
}

/// How a streamed answer ends.
#[derive(Debug, Clone, Copy)]
enum End {
    /// With the protocol's end marker.
    Complete,
    /// After this many deltas, by closing the connection.
    Cut(usize),
    /// After this many deltas, with an error event.
    Error(usize),
}

/// Answers with the next step of the script (or the default reply).
pub(crate) async fn play<G: Generation>(
    shared: &Shared,
    kill: &Arc<Notify>,
    call: G,
) -> Response<Body> {
    let step = shared.take_step();
    shared.arrive(step.as_ref());
    shared.wait_while_held().await;
    let Some(step) = step else {
        return answer(
            kill,
            &call,
            &shared.config.default_reply,
            None,
            End::Complete,
        )
        .await;
    };
    match step {
        Step::Reply(reply) => answer(kill, &call, &reply, None, End::Complete).await,
        Step::Delay(wait, reply) => {
            tokio::time::sleep(wait).await;
            answer(kill, &call, &reply, None, End::Complete).await
        }
        Step::Slow { reply, pause } => {
            answer(kill, &call, &reply, Some(pause), End::Complete).await
        }
        Step::RateLimited { retry_after_s } => {
            let mut response = call.error(429);
            if let Some(seconds) = retry_after_s {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            response
        }
        Step::Status(status) => call.error(status),
        Step::Drop => cut_now(kill).await,
        Step::Truncate {
            reply,
            after_chunks,
        } => answer(kill, &call, &reply, None, End::Cut(after_chunks)).await,
        Step::MalformedJson => malformed(&call),
        Step::StreamError {
            reply,
            after_chunks,
        } => {
            if call.streaming() {
                answer(kill, &call, &reply, None, End::Error(after_chunks)).await
            } else {
                call.error(500)
            }
        }
    }
}

/// Closes the connection without a response: the connection task sees the signal and drops the
/// connection while this handler never finishes.
async fn cut_now(kill: &Arc<Notify>) -> Response<Body> {
    kill.notify_one();
    std::future::pending().await
}

fn malformed<G: Generation>(call: &G) -> Response<Body> {
    let mut response = if call.streaming() {
        let event = call.malformed_event(0);
        sse_response(call, Body::from(event))
    } else {
        let mut response = Response::new(Body::from(r#"{"id": "broken", "choices": [{"#));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    };
    call.decorate(&mut response);
    response
}

async fn answer<G: Generation>(
    kill: &Arc<Notify>,
    call: &G,
    reply: &Reply,
    pause: Option<Duration>,
    end: End,
) -> Response<Body> {
    let mut response = if call.streaming() {
        stream_answer(kill, call, reply, pause, end)
    } else {
        if let Some(pause) = pause {
            let deltas = u32::try_from(reply.deltas().len()).unwrap_or(u32::MAX);
            tokio::time::sleep(pause.saturating_mul(deltas)).await;
        }
        let body = call.body(reply);
        match end {
            End::Complete | End::Error(_) => json_response(body),
            End::Cut(deltas) => {
                let cut = call.cut_body_at(&body, reply, deltas).min(body.len());
                let full = body.len();
                let written = Bytes::from(body).slice(..cut);
                let actions = vec![Action::Write(written), Action::Cut];
                let mut response = Response::new(action_body(actions, kill));
                let headers = response.headers_mut();
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                // Announce the whole body, then close early: the client sees a short body.
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(full));
                response
            }
        }
    };
    call.decorate(&mut response);
    response
}

fn json_response(body: Vec<u8>) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn sse_response<G: Generation>(call: &G, body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(call.stream_content_type()),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn stream_answer<G: Generation>(
    kill: &Arc<Notify>,
    call: &G,
    reply: &Reply,
    pause: Option<Duration>,
    end: End,
) -> Response<Body> {
    let plan = call.stream(reply);
    let writing = call.writing();
    let plain =
        pause.is_none() && matches!(end, End::Complete) && !writing.keep_alives && !writing.split;
    if plain {
        // The hot path: pre-rendered frames, no timers, no task switches.
        let kept =
            plan.deltas.len() - usize::from(plan.last_delta_in_tail && !plan.deltas.is_empty());
        let frames: Vec<Bytes> = plan
            .head
            .into_iter()
            .chain(plan.deltas.into_iter().take(kept))
            .chain(plan.tail)
            .collect();
        let body = Body::from_stream(futures::stream::iter(frames).map(Ok::<_, Infallible>));
        return sse_response(call, body);
    }

    let mut events: Vec<Bytes> = Vec::new();
    let mut actions: Vec<Action> = Vec::new();
    let head_len = plan.head.len();
    events.extend(plan.head);
    let push_events = |actions: &mut Vec<Action>, events: &mut Vec<Bytes>| {
        for event in events.drain(..) {
            write_event(actions, event, writing);
        }
    };
    if writing.keep_alives {
        let nl = if writing.crlf { "\r\n" } else { "\n" };
        actions.push(Action::Write(Bytes::from(format!(": ping{nl}{nl}"))));
    }
    push_events(&mut actions, &mut events);
    let total = plan.deltas.len();
    let shown = match end {
        End::Complete => total - usize::from(plan.last_delta_in_tail && total > 0),
        End::Cut(k) | End::Error(k) => k.min(total),
    };
    for delta in plan.deltas.into_iter().take(shown) {
        if let Some(pause) = pause {
            actions.push(Action::Sleep(pause));
        }
        write_event(&mut actions, delta, writing);
    }
    match end {
        End::Complete => {
            if plan.last_delta_in_tail
                && let Some(pause) = pause
            {
                actions.push(Action::Sleep(pause));
            }
            for event in plan.tail {
                write_event(&mut actions, event, writing);
            }
        }
        End::Cut(_) => actions.push(Action::Cut),
        End::Error(_) => write_event(&mut actions, call.stream_error(head_len + shown), writing),
    }
    sse_response(call, action_body(actions, kill))
}

fn write_event(actions: &mut Vec<Action>, event: Bytes, writing: Writing) {
    if writing.keep_alives {
        let nl = if writing.crlf { "\r\n" } else { "\n" };
        actions.push(Action::Write(Bytes::from(format!(": keep-alive{nl}{nl}"))));
    }
    if writing.split {
        let mut start = 0;
        while start < event.len() {
            let end = (start + 3).min(event.len());
            actions.push(Action::Write(event.slice(start..end)));
            actions.push(Action::Yield);
            start = end;
        }
    } else {
        actions.push(Action::Write(event));
    }
}

/// One thing a faulty or paced body does.
#[derive(Debug)]
enum Action {
    Write(Bytes),
    Sleep(Duration),
    /// Return to the connection loop once, so that what was written is flushed alone.
    Yield,
    /// Close the connection (after a short wait so the last write leaves).
    Cut,
}

/// A body that plays actions in order.
fn action_body(actions: Vec<Action>, kill: &Arc<Notify>) -> Body {
    let kill = kill.clone();
    let stream = futures::stream::unfold(
        (actions.into_iter(), kill),
        |(mut actions, kill)| async move {
            loop {
                match actions.next()? {
                    Action::Write(bytes) => {
                        return Some((Ok::<_, Infallible>(bytes), (actions, kill)));
                    }
                    Action::Sleep(wait) => tokio::time::sleep(wait).await,
                    Action::Yield => tokio::task::yield_now().await,
                    Action::Cut => {
                        tokio::time::sleep(FLUSH_BEFORE_CUT).await;
                        kill.notify_one();
                        std::future::pending::<()>().await;
                    }
                }
            }
        },
    );
    Body::from_stream(stream)
}

/// Status codes as `StatusCode`, falling back to 500 for numbers HTTP does not allow.
pub(crate) fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// One SSE event: an optional `event:` line, a `data:` line, a blank line.
pub(crate) fn sse_event(name: Option<&str>, data: &str, nl: &str) -> Bytes {
    let mut out = String::with_capacity(data.len() + 32);
    if let Some(name) = name {
        out.push_str("event: ");
        out.push_str(name);
        out.push_str(nl);
    }
    out.push_str("data: ");
    out.push_str(data);
    out.push_str(nl);
    out.push_str(nl);
    Bytes::from(out)
}

/// Where the JSON string value of the first `"key":` ends its first `prefix` characters, for
/// cutting a body after part of its text. Falls back to half the body.
pub(crate) fn cut_after_text(body: &[u8], key: &str, prefix: &str) -> usize {
    let needle = format!("\"{key}\":\"");
    let escaped = serde_json::to_string(prefix).unwrap_or_default();
    // `escaped` is `"..."`: the escaped prefix sits between the quotes.
    let inner = escaped.len().saturating_sub(2);
    let text = String::from_utf8_lossy(body);
    match text.find(&needle) {
        Some(at) => at + needle.len() + inner,
        None => body.len() / 2,
    }
}

/// A JSON value as bytes (serializing a `Value` cannot fail: its map keys are strings).
pub(crate) fn to_vec(value: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// A JSON value as a string.
pub(crate) fn to_string(value: &serde_json::Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}
