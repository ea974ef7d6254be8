//! What every request shares: the state it starts on (swapped whole on reload), the providers'
//! factory, the store, the traffic recorder, metrics, keys, and the tasks that outlive a
//! response (streams, shadows). The request flow and the server use it; it uses neither.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::response::Response;
use rightfit_registry::ProviderFactory;
use rightfit_store::Store;
use rightfit_types::TrafficRecord;
use tokio_util::task::TaskTracker;

use crate::api::Api;
use crate::auth::{self, KeyState, Keys};
use crate::error::GatewayError;
use crate::journal::Spend;
use crate::metrics::{Metrics, Observation};
use crate::recorder::TrafficRecorder;
use crate::spend::add_now;
use crate::state::State;

/// What every request shares.
pub struct App {
    state: RwLock<Arc<State>>,
    /// Builds providers not built yet.
    pub factory: Arc<dyn ProviderFactory>,
    /// Traffic, keys, and the strategies' store API.
    pub store: Arc<dyn Store>,
    /// Queues traffic records for the background writer.
    pub recorder: TrafficRecorder,
    pub metrics: Metrics,
    /// Gateway keys, as of the last refresh.
    pub keys: Keys,
    /// Largest request body, bytes.
    pub body_limit: usize,
    /// Streams and shadow calls still running (waited for at shutdown: each ends with a
    /// traffic record).
    pub tasks: TaskTracker,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

impl App {
    pub(crate) fn new(
        state: State,
        factory: Arc<dyn ProviderFactory>,
        store: Arc<dyn Store>,
        recorder: TrafficRecorder,
        metrics: Metrics,
        keys: Keys,
        body_limit: usize,
    ) -> Self {
        Self {
            state: RwLock::new(Arc::new(state)),
            factory,
            store,
            recorder,
            metrics,
            keys,
            body_limit,
            tasks: TaskTracker::new(),
        }
    }

    /// The state requests start on now.
    pub fn state(&self) -> Arc<State> {
        match self.state.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Swaps in a new state; requests in flight finish on the old one.
    pub fn swap(&self, next: State) {
        let next = Arc::new(next);
        match self.state.write() {
            Ok(mut s) => *s = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
    }

    /// The key a generation request carries, admitted by its limits as the store holds them
    /// ([`auth::admit`]); `None` when keys are not required.
    pub(crate) async fn admit(
        &self,
        headers: &http::HeaderMap,
    ) -> Result<Option<Arc<KeyState>>, GatewayError> {
        let key = self.keys.authenticate(headers)?;
        if let Some(k) = &key {
            auth::admit(k, &*self.store, &self.metrics).await?;
        }
        Ok(key)
    }

    /// Counts a finished record in the metrics and queues it (journalled first). A key with a
    /// budget has the cost added to its stored spend first, before the caller completes the
    /// answer, so that its next request, on any replica, is checked against it; other keys'
    /// costs are added by the traffic writer once the record is stored.
    pub(crate) async fn finish(&self, record: TrafficRecord, key: Option<&KeyState>) {
        let spend = match (key, record.cost_usd) {
            (Some(k), Some(cost)) if k.budget_usd().is_some() => {
                add_now(&*self.store, &self.metrics, &k.id(), cost).await
            }
            _ => Spend::Pending,
        };
        self.observe(&record);
        self.recorder.record(record, spend);
    }

    /// A request refused before routing: an error response, counted but not logged (there
    /// is nothing to learn from it in the traffic log, and refusing must stay cheap).
    pub(crate) fn refuse(&self, api: Api, e: GatewayError) -> Response {
        self.metrics.observe_request(&Observation {
            component: "-",
            candidate: "-",
            route: "refused",
            status: e.status().as_u16(),
            error: Some(e.kind().as_str()),
            ..Observation::default()
        });
        e.into_response(api)
    }

    fn observe(&self, r: &TrafficRecord) {
        let error_kind = r.error.as_ref().map(|_| error_kind(r.status));
        self.metrics.observe_request(&Observation {
            component: r.component.as_deref().unwrap_or(&r.requested),
            candidate: &r.candidate,
            route: &r.route,
            status: r.status,
            error: error_kind,
            tokens_in: r.tokens_in,
            tokens_out: r.tokens_out,
            cost_usd: r.cost_usd.unwrap_or(0.0),
            escalations: u32::from(r.escalated),
            shadow: r.role == "shadow",
            duration: Duration::from_secs_f64(r.latency_ms.max(0.0) / 1000.0),
            upstream: None,
        });
    }
}

/// The error kind a recorded status stands for (metrics labels).
fn error_kind(status: u16) -> &'static str {
    match status {
        400 => "invalid_request",
        401 => "authentication",
        404 => "not_found",
        429 => "rate_limit",
        499 => "client_closed",
        504 => "upstream_timeout",
        503 => "unavailable",
        500 => "internal",
        _ => "upstream",
    }
}
