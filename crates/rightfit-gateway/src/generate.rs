//! `POST /v1/chat/completions` and `POST /v1/messages`, from arrival to answer: key, body,
//! parse, plan, shadows, fallback chain, the answer (whole or streamed), and its traffic record.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use http::{HeaderMap, HeaderValue, header};
use rightfit_config::project::Sticky;
use rightfit_config::time::{now_rfc3339_millis, unix_now};
use rightfit_types::{
    FinishReason, Step, StreamEvent, ToolCall, TrafficRecord, Usage, add_streamed_call,
};
use tokio::sync::{mpsc, watch};

use crate::answer::{Answered, ModelAccess, Started, Target};
use crate::api::Api;
use crate::app::App;
use crate::auth::KeyState;
use crate::error::GatewayError;
use crate::plan::{Plan, RouteKind, plan};
use crate::request::{CLIENT_CLOSED, Request, fill, redact_calls};
use crate::shadow;
use crate::sse::Sse;
use crate::state::{Served, State};
use crate::wire::{anthropic, openai};

/// Answers one generation request in the shape of `api`.
pub async fn generate(app: Arc<App>, api: Api, headers: HeaderMap, body: Body) -> Response {
    let arrived = Instant::now();
    let in_flight = app.metrics.in_flight_guard();
    let key = match app.admit(&headers).await {
        Ok(k) => k,
        Err(e) => return app.refuse(api, e),
    };
    let bytes = match read_body(&headers, body, app.body_limit).await {
        Ok(b) => b,
        Err(e) => return app.refuse(api, e),
    };
    let req = match api {
        Api::OpenAi => openai::parse(&bytes),
        Api::Anthropic => anthropic::parse(&bytes),
    };
    let req = match req {
        Ok(r) => Arc::new(r),
        Err(e) => return app.refuse(api, e),
    };
    let state = app.state();
    let r = Request {
        id: new_id(),
        at: now_rfc3339_millis(),
        arrived,
        api,
        key,
        component: state
            .components
            .contains_key(&req.model)
            .then(|| req.model.clone()),
        req,
        _in_flight: Some(in_flight),
    };
    route(&app, &state, r, &headers).await
}

async fn route(app: &Arc<App>, state: &Arc<State>, r: Request, headers: &HeaderMap) -> Response {
    let (plan, served) = if let Some(served) = state.components.get(&r.req.model) {
        let key = match &served.policy.sticky {
            Sticky::User => r.req.user.clone(),
            Sticky::Header(h) => headers
                .get(h.as_str())
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            Sticky::None => None,
        };
        let mut draw = fastrand::f64;
        (
            plan(&served.policy, key.as_deref(), &mut draw),
            Some(served),
        )
    } else if state.project.models.contains_key(&r.req.model) {
        let p = Plan {
            route: RouteKind::Direct,
            chain: vec![r.req.model.clone()],
            shadows: Vec::new(),
        };
        (p, None)
    } else {
        let mut names: Vec<&str> = state.components.keys().map(String::as_str).collect();
        names.extend(state.project.models.keys().map(String::as_str));
        let e = GatewayError::model_not_found(&r.req.model, &names);
        return app.refuse(r.api, e);
    };
    // Shadows start now and wait for the primary's answer only to score themselves.
    let (primary_tx, primary_rx) = watch::channel(None::<Option<String>>);
    for (i, name) in plan.shadows.iter().enumerate() {
        if let Some(served) = served {
            shadow::spawn(app, state, served, &r, name, i, primary_rx.clone());
        }
    }
    let timeout = served
        .and_then(|s| s.policy.timeout_s)
        .unwrap_or(state.project.gateway.request_timeout_s);
    let timeout = Duration::from_secs_f64(timeout);
    let access = ModelAccess {
        state,
        factory: &*app.factory,
        store: &*app.store,
    };
    let mut tried: Vec<Step> = Vec::new();
    let mut last_error = None;
    for (i, name) in plan.chain.iter().enumerate() {
        let Some(target) = target(state, served, name) else {
            continue;
        };
        let started_at = Instant::now();
        match access.start(target, &r.req, r.req.stream, timeout).await {
            Ok(started) => {
                let route = if i == 0 {
                    plan.route.as_str()
                } else {
                    "fallback"
                };
                return respond(app, r, route, name, started, tried, primary_tx).await;
            }
            Err(e) => {
                tried.push(Step {
                    kind: "attempt".into(),
                    by: name.clone(),
                    output: String::new(),
                    answer: None,
                    confidence: None,
                    latency_ms: started_at.elapsed().as_secs_f64() * 1000.0,
                    tokens_in: 0,
                    tokens_out: 0,
                    cost_usd: None,
                    cached: false,
                    error: Some(e.message().to_owned()),
                    logprobs: None,
                });
                let status = e.status().as_u16();
                let retryable = status >= 500 || status == 429;
                last_error = Some(e);
                if !retryable {
                    break;
                }
            }
        }
    }
    let _ = primary_tx.send(Some(None));
    let e = last_error.unwrap_or_else(|| GatewayError::internal("nothing to route to"));
    let name = plan.chain.first().cloned().unwrap_or_default();
    let route = if tried.len() > 1 {
        "fallback"
    } else {
        plan.route.as_str()
    };
    let mut record = r.record(&app.state().redactor, route, &name, None);
    record.status = e.status().as_u16();
    record.error = Some(e.message().to_owned());
    record.steps = tried;
    finish(app, record, r.key.clone()).await;
    e.into_response(r.api)
}

/// [`App::finish`], waited for. When it adds a budgeted key's spend to the store it runs in a
/// task of its own: a client that goes away meanwhile (which drops this request's future)
/// stops neither the spend nor the record.
async fn finish(app: &Arc<App>, record: TrafficRecord, key: Option<Arc<KeyState>>) {
    let budgeted = key.as_ref().is_some_and(|k| k.budget_usd().is_some());
    if !(budgeted && record.cost_usd.is_some_and(|c| c > 0.0)) {
        // Nothing to wait for: the record is queued without a store round trip.
        app.finish(record, key.as_deref()).await;
        return;
    }
    let task = app.clone();
    let done = app
        .tasks
        .spawn(async move { task.finish(record, key.as_deref()).await });
    if let Err(e) = done.await {
        tracing::error!("recording a finished request failed: {e}");
    }
}

fn target<'a>(state: &'a State, served: Option<&'a Served>, name: &str) -> Option<Target<'a>> {
    match served {
        Some(s) => s.component.candidate(name).map(|c| Target::Candidate(s, c)),
        None => state.project.models.get(name).map(Target::Model),
    }
}

/// Sends the answer to the client and records it.
async fn respond(
    app: &Arc<App>,
    r: Request,
    route: &str,
    name: &str,
    started: Started,
    tried: Vec<Step>,
    primary: watch::Sender<Option<Option<String>>>,
) -> Response {
    let mut record = r.record(&app.state().redactor, route, name, None);
    record.steps = tried;
    match started {
        Started::Whole(answered) => {
            let text = answered.response.text().to_owned();
            fill(&mut record, &answered, &app.state().redactor);
            record.latency_ms = r.arrived.elapsed().as_secs_f64() * 1000.0;
            let _ = primary.send(Some(Some(text)));
            let response = if r.req.stream {
                whole_as_stream(&r, &answered)
            } else {
                let body = match r.api {
                    Api::OpenAi => {
                        openai::response(&r.id, &r.req.model, unix_now(), &answered.response)
                    }
                    Api::Anthropic => anthropic::response(&r.id, &r.req.model, &answered.response),
                };
                axum::Json(body).into_response()
            };
            finish(app, record, r.key.clone()).await;
            response
        }
        Started::Stream { first, rest, model } => {
            let (tx, rx) = mpsc::channel::<Bytes>(64);
            let sse = Sse::new(
                r.api,
                &r.id,
                &r.req.model,
                unix_now(),
                r.req.include_usage,
                r.req.chat.n,
            );
            let app = app.clone();
            let tasks = app.tasks.clone();
            tasks.spawn(async move {
                let last = pump(&app, &r, sse, first, rest, &model, &tx, &mut record).await;
                let text = record.output.clone();
                let _ = primary.send(Some(text.filter(|_| record.error.is_none())));
                // Recorded (journalled) before the client sees the stream end: a gateway
                // killed after that loses nothing the client was told is complete.
                app.finish(record, r.key.as_deref()).await;
                for frame in last {
                    if tx.send(frame).await.is_err() {
                        break;
                    }
                }
            });
            let body = futures::stream::unfold(rx, |mut rx| async move {
                rx.recv()
                    .await
                    .map(|b| (Ok::<_, std::convert::Infallible>(b), rx))
            });
            sse_response(Body::from_stream(body))
        }
    }
}

/// Forwards a model's stream to the client, frame by frame, until it ends, fails, passes its
/// deadline, or the client goes away (which drops the upstream stream: the work is cancelled).
/// The frames that end a complete stream (usage, `[DONE]`) are returned unsent, for the caller
/// to send once the request is recorded.
#[allow(clippy::too_many_arguments)]
async fn pump(
    app: &App,
    r: &Request,
    mut sse: Sse,
    first: StreamEvent,
    mut rest: rightfit_providers::EventStream,
    model: &rightfit_config::project::ModelConfig,
    tx: &mpsc::Sender<Bytes>,
    record: &mut TrafficRecord,
) -> Vec<Bytes> {
    let mut last = Vec::new();
    let mut text = String::new();
    let mut calls: Vec<ToolCall> = Vec::new();
    let mut finish: Option<FinishReason> = None;
    let mut usage: Option<Usage> = None;
    let mut error: Option<(u16, String)> = None;
    let mut ttft: Option<f64> = None;
    let mut next = Some(Ok(first));
    'outer: loop {
        let event = match next.take() {
            Some(e) => Some(e),
            None => tokio::select! {
                e = rest.next() => e,
                () = tx.closed() => {
                    error = Some((CLIENT_CLOSED, "the client closed the connection".into()));
                    break 'outer;
                }
            },
        };
        let event = match event {
            Some(Ok(e)) => e,
            Some(Err(e)) => {
                let ge = GatewayError::from_provider(&e);
                tracing::warn!("stream from {}: {e}", model.name);
                let _ = tx.send(sse.error(&ge)).await;
                error = Some((ge.status().as_u16(), e.to_string()));
                break;
            }
            None => {
                let ge = GatewayError::upstream(format!("'{}' ended its stream early", model.name));
                let _ = tx.send(sse.error(&ge)).await;
                error = Some((ge.status().as_u16(), ge.message().to_owned()));
                break;
            }
        };
        if let StreamEvent::Delta { index: 0, text: t } = &event {
            if ttft.is_none() && !t.is_empty() {
                ttft = Some(r.arrived.elapsed().as_secs_f64() * 1000.0);
            }
            text.push_str(t);
        }
        if let StreamEvent::ToolCall {
            index: 0,
            call,
            id,
            name,
            arguments,
        } = &event
        {
            if ttft.is_none() {
                ttft = Some(r.arrived.elapsed().as_secs_f64() * 1000.0);
            }
            // Providers check the order of calls before the gateway sees them.
            if let Err(e) =
                add_streamed_call(&mut calls, *call, id.as_deref(), name.as_deref(), arguments)
            {
                tracing::warn!("stream from {}: {e}", model.name);
            }
        }
        if let StreamEvent::Finish { index: 0, reason } = &event {
            finish = Some(*reason);
        }
        let done = matches!(event, StreamEvent::Done { .. });
        if let StreamEvent::Done { usage: u, .. } = &event {
            usage = Some(*u);
        }
        if done {
            last = sse.frames(&event);
            break;
        }
        for frame in sse.frames(&event) {
            if tx.send(frame).await.is_err() {
                error = Some((CLIENT_CLOSED, "the client closed the connection".into()));
                break 'outer;
            }
        }
    }
    drop(rest);
    let redactor = &app.state().redactor;
    let latency = r.arrived.elapsed().as_secs_f64() * 1000.0;
    let usage = usage.unwrap_or_default();
    record.output = Some(redactor.text(&text));
    record.tool_calls = redact_calls(redactor, &calls);
    record.finish_reason = finish.map(|f| f.as_str().to_owned());
    record.ttft_ms = ttft;
    record.latency_ms = latency;
    record.tokens_in = u64::from(usage.prompt_tokens);
    record.tokens_out = u64::from(usage.completion_tokens);
    record.cost_usd = model.request_cost(record.tokens_in, record.tokens_out, latency);
    if let Some((status, e)) = error {
        record.status = status;
        record.error = Some(e);
    }
    last
}

/// A whole answer sent as the events of a stream.
fn whole_as_stream(r: &Request, a: &Answered) -> Response {
    let mut sse = Sse::new(
        r.api,
        &r.id,
        &r.req.model,
        unix_now(),
        r.req.include_usage,
        1,
    );
    let mut frames: Vec<Bytes> = Vec::new();
    let text = a.response.text().to_owned();
    let calls = a
        .response
        .choices
        .first()
        .map(|c| c.tool_calls.as_slice())
        .unwrap_or_default();
    let mut events = vec![StreamEvent::Delta { index: 0, text }];
    events.extend(calls.iter().zip(0..).map(|(c, k)| StreamEvent::ToolCall {
        index: 0,
        call: k,
        id: Some(c.id.clone()),
        name: Some(c.name.clone()),
        arguments: c.arguments.clone(),
    }));
    events.extend([
        StreamEvent::Finish {
            index: 0,
            reason: a
                .response
                .choices
                .first()
                .map_or(FinishReason::Stop, |c| c.finish_reason),
        },
        StreamEvent::Done {
            usage: a.response.usage,
            timings: a.response.timings,
        },
    ]);
    for e in &events {
        frames.extend(sse.frames(e));
    }
    let body = futures::stream::iter(frames.into_iter().map(Ok::<_, std::convert::Infallible>));
    sse_response(Body::from_stream(body))
}

fn sse_response(body: Body) -> Response {
    let mut response = Response::new(body);
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, GatewayError> {
    let too_large = || GatewayError::body_too_large(limit);
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > limit as u64
    {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())
}

/// A request id: `req_` and 24 random hex digits.
pub fn new_id() -> String {
    format!("req_{:024x}", fastrand::u128(..) >> 32)
}
