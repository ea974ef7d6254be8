//! Shadows: a candidate that answers the same request in the background (the client never waits
//! for it), recorded beside the primary and scored against the primary's answer.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;

use crate::answer::{ModelAccess, Started, Target};
use crate::app::App;
use crate::request::{Request, fill};
use crate::state::{Served, State};

/// Runs one shadow candidate on the request in the background and records it, scored against
/// the primary's answer once that is known.
pub(crate) fn spawn(
    app: &Arc<App>,
    state: &Arc<State>,
    served: &Served,
    r: &Request,
    name: &str,
    i: usize,
    mut primary: watch::Receiver<Option<Option<String>>>,
) {
    let app = app.clone();
    let state = state.clone();
    let component = served.component.name.clone();
    let name = name.to_owned();
    let shadow_req = r.shadow(i);
    let parent = r.id.clone();
    let key_id = r.key.as_ref().map(|k| k.id());
    let tracker = app.tasks.clone();
    tracker.spawn(async move {
        let Some(served) = state.components.get(&component) else {
            return;
        };
        let Some(candidate) = served.component.candidate(&name) else {
            return;
        };
        let access = ModelAccess {
            state: &state,
            factory: &*app.factory,
            store: &*app.store,
        };
        let timeout = Duration::from_secs_f64(
            served
                .policy
                .timeout_s
                .unwrap_or(state.project.gateway.request_timeout_s),
        );
        let result = access
            .start(
                Target::Candidate(served, candidate),
                &shadow_req.req,
                false,
                timeout,
            )
            .await;
        let mut record = shadow_req.record(&app.state().redactor, "shadow", &name, Some(parent));
        record.role = "shadow".into();
        record.key_id = key_id;
        record.latency_ms = shadow_req.arrived.elapsed().as_secs_f64() * 1000.0;
        match result {
            Ok(Started::Whole(answered)) => {
                fill(&mut record, &answered, &state.redactor);
                // The primary's answer is the reference; wait for it (bounded by the
                // request timeout) and score.
                let reference = tokio::time::timeout(timeout, primary.wait_for(Option::is_some))
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .and_then(|v| v.clone().flatten());
                if let Some(reference) = reference {
                    record.score = score(served, answered.response.text(), &reference);
                }
            }
            Ok(Started::Stream { .. }) => {
                record.status = 500;
                record.error = Some("a shadow was streamed".into());
            }
            Err(e) => {
                record.status = e.status().as_u16();
                record.error = Some(e.message().to_owned());
            }
        }
        app.finish(record, None).await;
    });
}

/// A shadow's answer scored with the component's primary metric against the primary's answer
/// (read into the contract the way a reference is), when the primary's answer parses.
fn score(served: &Served, answer: &str, primary: &str) -> Option<f64> {
    let reference = served.scorer.score(primary, &Value::Null);
    if reference.unparseable {
        return None;
    }
    let reference = reference
        .parsed
        .unwrap_or_else(|| Value::String(primary.to_owned()));
    Some(served.scorer.score(answer, &reference).score)
}
