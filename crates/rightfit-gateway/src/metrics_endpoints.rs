//! The per-endpoint series: each hosted model's endpoints (one, or several for a fleet) with
//! the counts its provider keeps (`Provider::endpoints`). They are not accumulated here: the
//! caller reads them from the providers at scrape time, so a reload that swaps a provider shows
//! the new one's endpoints (and its counts from zero, which Prometheus reads as a counter reset).
//!
//! Label values are a model's name and an endpoint's base URL, both from configuration.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use rightfit_providers::EndpointStats;

use crate::prom_text::{escape, family};

/// Each model's endpoints, by model name, as read from its provider. Models whose list is empty
/// (run in-process) are left out of the output.
pub type Endpoints = BTreeMap<String, Vec<EndpointStats>>;

/// One family: its name, type, help, and the sample of one endpoint.
struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    value: fn(&EndpointStats) -> u64,
}

const FAMILIES: [Family; 5] = [
    Family {
        name: "rightfit_endpoint_requests_total",
        kind: "counter",
        help: "Attempts sent to a model's endpoint (a request moved to another endpoint counts once on each).",
        value: |e| e.requests,
    },
    Family {
        name: "rightfit_endpoint_failures_total",
        kind: "counter",
        help: "Attempts that failed by the endpoint's fault: no connection, a timeout, a cut answer, 5xx or 429.",
        value: |e| e.failures,
    },
    Family {
        name: "rightfit_endpoint_ejections_total",
        kind: "counter",
        help: "Times the endpoint was taken out of rotation after failing.",
        value: |e| e.ejections,
    },
    Family {
        name: "rightfit_endpoint_in_flight",
        kind: "gauge",
        help: "Attempts under way at the endpoint now.",
        value: |e| e.in_flight as u64,
    },
    Family {
        name: "rightfit_endpoint_ejected",
        kind: "gauge",
        help: "1 while the endpoint is out of rotation (cooling down after failing), else 0.",
        value: |e| u64::from(e.ejected_for.is_some()),
    },
];

/// Appends the endpoint families to `out`, each with its help and type even when no model has
/// endpoints; rows ordered by model, then URL.
pub(super) fn render(out: &mut String, endpoints: &Endpoints) {
    let mut rows: Vec<(String, &EndpointStats)> = Vec::new();
    for (model, list) in endpoints {
        let mut list: Vec<&EndpointStats> = list.iter().collect();
        list.sort_by(|a, b| a.url.cmp(&b.url));
        for e in list {
            let labels = format!("model=\"{}\",url=\"{}\"", escape(model), escape(&e.url));
            rows.push((labels, e));
        }
    }
    for f in &FAMILIES {
        family(out, f.name, f.kind, f.help);
        for (labels, e) in &rows {
            let _ = writeln!(out, "{}{{{labels}}} {}", f.name, (f.value)(e));
        }
    }
}
