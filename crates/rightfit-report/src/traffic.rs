//! What the gateway served: per-group statistics of traffic records ([`traffic_stats`]) and the
//! tables that show them and a listing of records. Pure: records in, figures and text out.
//!
//! A *group* is one (component, candidate, role): a candidate's primary answers and its shadow
//! answers are counted apart, since only the primary reached a client.

use std::collections::BTreeMap;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table};
use rightfit_types::{GatewayKey, Percentiles, TrafficRecord};
use serde::Serialize;

use crate::fmt::{ms, pct, usd};

/// What the component column shows for a request that named a model directly.
const DIRECT: &str = "(direct)";

/// Characters of an answer a listing shows.
const PREVIEW_CHARS: usize = 40;

/// The figures of one (component, candidate, role).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrafficStatsRow {
    /// The component; `None` for requests that named a model directly.
    pub component: Option<String>,
    /// The candidate (or model) that answered.
    pub candidate: String,
    /// `primary` or `shadow`.
    pub role: String,
    /// Records in the group.
    pub requests: u64,
    /// Records with an error.
    pub errors: u64,
    /// `errors ÷ requests`.
    pub error_rate: f64,
    /// Latency of the records without an error, milliseconds; `None` when every one failed.
    pub latency_ms: Option<Percentiles>,
    /// Prompt tokens, summed over every record.
    pub tokens_in: u64,
    /// Generated tokens, summed over every record.
    pub tokens_out: u64,
    /// US dollars, summed over the records with a known cost; `None` when no record has one.
    pub cost_usd: Option<f64>,
    /// Records without a known cost (not in `cost_usd`).
    pub unpriced: u64,
    /// Share of records that a cascade passed on past its first stage.
    pub escalation_rate: f64,
    /// Mean score of the records that have one (shadows scored against the primary's answer:
    /// agreement); `None` when none has.
    pub mean_score: Option<f64>,
    /// Records with a score.
    pub scored: u64,
}

/// Sort key: components by name (direct requests last), candidates by name, primary first.
type GroupKey = (bool, Option<String>, String, bool, String);

/// One row per (component, candidate, role) of `records`, in that order (direct requests last,
/// primary before shadow).
pub fn traffic_stats(records: &[TrafficRecord]) -> Vec<TrafficStatsRow> {
    let mut groups: BTreeMap<GroupKey, Vec<&TrafficRecord>> = BTreeMap::new();
    for r in records {
        let key = (
            r.component.is_none(),
            r.component.clone(),
            r.candidate.clone(),
            r.role != "primary",
            r.role.clone(),
        );
        groups.entry(key).or_default().push(r);
    }
    groups
        .into_iter()
        .map(|((_, component, candidate, _, role), group)| {
            let requests = group.len() as u64;
            let errors = group.iter().filter(|r| r.error.is_some()).count() as u64;
            let latencies: Vec<f64> = group
                .iter()
                .filter(|r| r.error.is_none())
                .map(|r| r.latency_ms)
                .collect();
            let costs: Vec<f64> = group.iter().filter_map(|r| r.cost_usd).collect();
            let scores: Vec<f64> = group.iter().filter_map(|r| r.score).collect();
            let escalated = group.iter().filter(|r| r.escalated).count() as u64;
            TrafficStatsRow {
                component,
                candidate,
                role,
                requests,
                errors,
                error_rate: share(errors, requests),
                latency_ms: Percentiles::of(&latencies),
                tokens_in: group.iter().map(|r| r.tokens_in).sum(),
                tokens_out: group.iter().map(|r| r.tokens_out).sum(),
                cost_usd: (!costs.is_empty()).then(|| costs.iter().sum()),
                unpriced: requests - costs.len() as u64,
                escalation_rate: share(escalated, requests),
                mean_score: (!scores.is_empty())
                    .then(|| scores.iter().sum::<f64>() / scores.len() as f64),
                scored: scores.len() as u64,
            }
        })
        .collect()
}

/// `part ÷ whole`, 0 for an empty whole.
fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

const STATS_HEADERS: [&str; 13] = [
    "component",
    "candidate",
    "role",
    "requests",
    "errors",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "tokens in",
    "tokens out",
    "cost",
    "escalated",
    "agreement",
];

fn stats_cells(r: &TrafficStatsRow) -> Vec<String> {
    let dash = || "—".to_owned();
    let latency =
        |p: fn(&Percentiles) -> f64| r.latency_ms.as_ref().map_or_else(dash, |l| ms(p(l)));
    let cost = match (r.cost_usd, r.unpriced) {
        (None, _) => dash(),
        (Some(c), 0) => usd(c),
        // Some records have no price: the sum is a floor.
        (Some(c), _) => format!("≥ {}", usd(c)),
    };
    vec![
        r.component.clone().unwrap_or_else(|| DIRECT.to_owned()),
        r.candidate.clone(),
        r.role.clone(),
        r.requests.to_string(),
        format!("{} ({}%)", r.errors, pct(r.error_rate)),
        latency(|l| l.p50),
        latency(|l| l.p95),
        latency(|l| l.p99),
        r.tokens_in.to_string(),
        r.tokens_out.to_string(),
        cost,
        format!("{}%", pct(r.escalation_rate)),
        r.mean_score
            .map_or_else(dash, |s| format!("{}% (n={})", pct(s), r.scored)),
    ]
}

/// The statistics table for the terminal, `width` columns wide (0: no limit).
pub fn traffic_stats_terminal(rows: &[TrafficStatsRow], width: u16) -> String {
    if rows.is_empty() {
        return "no traffic recorded for this selection\n".to_owned();
    }
    let table = right_aligned(
        &STATS_HEADERS,
        rows.iter().map(stats_cells),
        3..STATS_HEADERS.len(),
        width,
    );
    format!("{table}\n")
}

/// The statistics table in Markdown.
pub fn traffic_stats_markdown(rows: &[TrafficStatsRow]) -> String {
    let mut out = format!("| {} |\n", STATS_HEADERS.join(" | "));
    out.push_str(&format!(
        "|{}\n",
        (0..STATS_HEADERS.len())
            .map(|i| if i < 3 { "---|" } else { "---:|" })
            .collect::<String>()
    ));
    for r in rows {
        let cells: Vec<String> = stats_cells(r)
            .iter()
            .map(|c| c.replace('|', "\\|"))
            .collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}

/// A table whose columns in `numbers` are aligned right.
fn right_aligned(
    header: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
    numbers: std::ops::Range<usize>,
    width: u16,
) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_content_arrangement(ContentArrangement::Dynamic);
    if width > 0 {
        table.set_width(width);
    }
    table.set_header(header.to_vec());
    for cells in rows {
        table.add_row(cells.into_iter().enumerate().map(|(i, c)| {
            let cell = Cell::new(c);
            if numbers.contains(&i) {
                cell.set_alignment(CellAlignment::Right)
            } else {
                cell
            }
        }));
    }
    table
}

/// The first [`PREVIEW_CHARS`] characters of an answer on one line (white space runs become one
/// space), with `…` when cut.
pub fn preview(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= PREVIEW_CHARS {
        flat
    } else {
        let cut: String = flat.chars().take(PREVIEW_CHARS - 1).collect();
        format!("{cut}…")
    }
}

/// `2026-11-30T03:42:07.123Z` as `2026-11-30 03:42:07` (the table's header says UTC); any other
/// text as it is.
fn short_time(at: &str) -> String {
    match at.get(..19) {
        Some(head) if at.as_bytes().get(10) == Some(&b'T') => head.replacen('T', " ", 1),
        _ => at.to_owned(),
    }
}

/// Records as a table for the terminal, in the order given, `width` columns wide (0: no limit):
/// time, id, component, route, candidate, status, latency, tokens, cost and the answer's start
/// (or the error's, for a failed record).
pub fn traffic_list_terminal(records: &[TrafficRecord], width: u16) -> String {
    let rows = records.iter().map(|r| {
        let dash = || "—".to_owned();
        vec![
            short_time(&r.at),
            r.id.clone(),
            r.component.clone().unwrap_or_else(|| DIRECT.to_owned()),
            r.route.clone(),
            r.candidate.clone(),
            r.status.to_string(),
            format!("{:.0}", r.latency_ms),
            format!("{}/{}", r.tokens_in, r.tokens_out),
            r.cost_usd.map_or_else(dash, usd),
            match (&r.output, &r.error) {
                (_, Some(error)) => format!("error: {}", preview(error)),
                (Some(output), None) => preview(output),
                (None, None) => dash(),
            },
        ]
    });
    let table = right_aligned(
        &[
            "time (UTC)",
            "id",
            "component",
            "route",
            "candidate",
            "status",
            "ms",
            "tokens in/out",
            "cost",
            "output",
        ],
        rows,
        5..9,
        width,
    );
    format!("{table}\n")
}

/// `rightfit traffic list`: the table, and how to see more when `total` records matched but
/// fewer are shown; where traffic comes from when there is none.
pub fn traffic_list_page(records: &[TrafficRecord], total: u64, width: u16) -> String {
    if records.is_empty() {
        return "no traffic recorded for this selection — see 'rightfit serve'\n".to_owned();
    }
    let mut out = traffic_list_terminal(records, width).trim_end().to_owned();
    if total > records.len() as u64 {
        out.push_str(&format!(
            "\nthe newest {} of {total} records; --limit shows more",
            records.len()
        ));
    }
    out.push('\n');
    out
}

/// `rightfit keys list`: the gateway's keys (never their secrets), or how to make one.
pub fn keys_terminal(keys: &[GatewayKey]) -> String {
    if keys.is_empty() {
        return "no gateway keys yet — make one with 'rightfit keys create --name NAME'\n"
            .to_owned();
    }
    let mut t = crate::fmt::table(&[
        "id", "name", "prefix", "created", "revoked", "req/min", "budget", "spent",
    ]);
    let dash = || "—".to_owned();
    for k in keys {
        t.add_row(vec![
            k.id.clone(),
            k.name.clone(),
            format!("{}…", k.prefix),
            k.created_at.clone(),
            k.revoked_at.clone().unwrap_or_else(dash),
            k.requests_per_minute.map_or_else(dash, |n| n.to_string()),
            k.budget_usd.map_or_else(dash, usd),
            usd(k.spent_usd),
        ]);
    }
    format!("{t}\n")
}

#[cfg(test)]
mod tests;
