//! What a test server's connections share ([`Shared`]: its config, script, records and rate
//! limits) and a request as the protocol handlers see it ([`Req`]). Below the server and the
//! protocol handlers, so that they can use these without importing each other.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use tokio::sync::watch;

use crate::limits::RateCheck;
use crate::script::{Recorded, ServerConfig, Step};

/// State every connection shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: ServerConfig,
    pub(crate) script: Mutex<VecDeque<Step>>,
    /// Steps in `script`, so that the common unscripted case takes no lock.
    pub(crate) scripted: AtomicUsize,
    pub(crate) records: Mutex<Vec<Recorded>>,
    pub(crate) recording: AtomicBool,
    pub(crate) count: AtomicUsize,
    pub(crate) ids: AtomicU64,
    pub(crate) rate: Mutex<RateCheck>,
    /// Whether requests are held before their answer.
    pub(crate) held: watch::Sender<bool>,
}

impl Shared {
    pub(crate) fn new(config: ServerConfig) -> Self {
        Self {
            config,
            script: Mutex::new(VecDeque::new()),
            scripted: AtomicUsize::new(0),
            records: Mutex::new(Vec::new()),
            recording: AtomicBool::new(true),
            count: AtomicUsize::new(0),
            ids: AtomicU64::new(1),
            rate: Mutex::new(RateCheck::default()),
            held: watch::Sender::new(false),
        }
    }

    /// The next scripted step, if any.
    pub(crate) fn take_step(&self) -> Option<Step> {
        if self.scripted.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut script = lock(&self.script);
        let step = script.pop_front();
        self.scripted.store(script.len(), Ordering::Release);
        step
    }

    /// Notes a request that takes a script step now, answered with `reply` if it answers with one
    /// (see [`crate::TestServer::too_soon`]).
    pub(crate) fn arrive(&self, step: Option<&Step>) {
        let reply = match step {
            None => Some(&self.config.default_reply),
            Some(
                Step::Reply(r)
                | Step::Delay(_, r)
                | Step::Slow { reply: r, .. }
                | Step::Truncate { reply: r, .. }
                | Step::StreamError { reply: r, .. },
            ) => Some(r),
            Some(Step::RateLimited { .. } | Step::Status(_) | Step::Drop | Step::MalformedJson) => {
                None
            }
        };
        let tokens = reply.map_or(0, |r| r.prompt_tokens.saturating_add(r.completion_tokens));
        let now = std::time::Instant::now();
        let mut rate = lock(&self.rate);
        rate.arrive(now, tokens);
        if let Some(Step::RateLimited {
            retry_after_s: Some(seconds),
        }) = step
        {
            rate.retry_after(now, *seconds);
        }
    }

    /// Waits while the server holds requests (see [`crate::TestServer::hold`]).
    pub(crate) async fn wait_while_held(&self) {
        let mut held = self.held.subscribe();
        let _ = held.wait_for(|h| !h).await;
    }

    /// A number for ids, unique within this server.
    pub(crate) fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed)
    }

    /// Whether `model` is one this server knows.
    pub(crate) fn knows_model(&self, model: &str) -> bool {
        self.config.models.is_empty() || self.config.models.iter().any(|m| m == model)
    }
}

/// Locks a mutex, ignoring poisoning: the data (a queue, a log) stays consistent even if a
/// holder panicked, because every critical section is a single push or pop.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A request as the protocol handlers see it.
#[derive(Debug)]
pub(crate) struct Req {
    pub(crate) method: http::Method,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) headers: http::HeaderMap,
    /// The body as JSON; `None` when it was empty or not JSON.
    pub(crate) json: Option<serde_json::Value>,
}

impl Req {
    /// A header's value, if present and text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A query parameter's raw (not percent-decoded) value.
    pub(crate) fn query_param(&self, name: &str) -> Option<&str> {
        self.query.as_deref()?.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then_some(v)
        })
    }
}
