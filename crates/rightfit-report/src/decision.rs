//! The recommendation in the terminal and in Markdown: the choice and its reason, the ranked
//! runners-up, the rejected candidates with what each broke, warnings, Pareto frontiers, the
//! aspects table, and device estimates.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};
use rightfit_decide::Recommendation;

use crate::fmt::{bytes, usd};

/// A titled table.
struct Block {
    title: String,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

fn cells(xs: &[&str]) -> Vec<String> {
    xs.iter().map(|s| (*s).to_owned()).collect()
}

fn ms(x: Option<f64>, estimated: bool) -> String {
    match x {
        None => "—".to_owned(),
        Some(v) => {
            let tilde = if estimated { "~" } else { "" };
            if v >= 10_000.0 {
                format!("{tilde}{:.1} s", v / 1000.0)
            } else {
                format!("{tilde}{v:.0} ms")
            }
        }
    }
}

fn quality(q: Option<&rightfit_types::Estimate>) -> String {
    q.map_or("—".to_owned(), |q| {
        format!(
            "{:.1} [{:.1}, {:.1}]",
            q.mean * 100.0,
            q.low * 100.0,
            q.high * 100.0
        )
    })
}

fn blocks(r: &Recommendation) -> Vec<Block> {
    let mut out = Vec::new();
    if !r.ranked.is_empty() {
        out.push(Block {
            title: "Meets every constraint (best first)".to_owned(),
            header: cells(&[
                "#",
                "candidate",
                &format!("{} % (95% CI)", r.metric),
                "cost/1k",
                "p95",
                "TTFT p95",
                "memory",
            ]),
            rows: r
                .ranked
                .iter()
                .enumerate()
                .map(|(i, x)| {
                    vec![
                        (i + 1).to_string(),
                        x.candidate.clone(),
                        quality(x.quality.as_ref()),
                        x.cost_per_1k_usd.map_or("—".to_owned(), usd),
                        ms(x.p95_latency_ms, x.estimated),
                        ms(x.p95_ttft_ms, x.estimated),
                        x.memory_bytes
                            .map_or("hosted".to_owned(), |b| bytes(b).to_string()),
                    ]
                })
                .collect(),
        });
    }
    if !r.rejected.is_empty() {
        out.push(Block {
            title: "Rejected".to_owned(),
            header: cells(&["candidate", "constraint", "why"]),
            rows: r
                .rejected
                .iter()
                .flat_map(|x| {
                    x.violations.iter().enumerate().map(|(i, v)| {
                        vec![
                            if i == 0 {
                                x.candidate.clone()
                            } else {
                                String::new()
                            },
                            serde_json::to_value(v.kind)
                                .ok()
                                .and_then(|k| k.as_str().map(str::to_owned))
                                .unwrap_or_default(),
                            v.message.clone(),
                        ]
                    })
                })
                .collect(),
        });
    }
    if !r.aspects.is_empty() {
        out.push(Block {
            title: "Aspects".to_owned(),
            header: cells(&[
                "candidate",
                "resource use",
                "quality",
                "specialisation",
                "latency",
                "cost",
                "runs on",
            ]),
            rows: r
                .aspects
                .iter()
                .map(|a| {
                    vec![
                        a.candidate.clone(),
                        a.resource_use.clone(),
                        a.quality.clone(),
                        a.specialisation.clone(),
                        a.latency.clone(),
                        a.cost.clone(),
                        a.runs_on.clone(),
                    ]
                })
                .collect(),
        });
    }
    if !r.devices.is_empty() {
        out.push(Block {
            title: "On the target device (roofline estimates)".to_owned(),
            header: cells(&[
                "candidate",
                "device",
                "needs",
                "usable",
                "fits",
                "TTFT",
                "tok/s",
                "request",
            ]),
            rows: r
                .devices
                .iter()
                .map(|d| {
                    vec![
                        d.candidate.clone(),
                        d.device.clone(),
                        bytes(d.fit.needed_bytes),
                        d.fit.available_bytes.map_or("—".to_owned(), bytes),
                        if d.fit.fits { "yes" } else { "no" }.to_owned(),
                        ms(Some(d.speed.ttft_ms), true),
                        format!("~{:.1}", d.speed.decode_tokens_per_s),
                        ms(Some(d.speed.request_ms), true),
                    ]
                })
                .collect(),
        });
    }
    if !r.break_even.is_empty() {
        out.push(Block {
            title: "Break-even against hosted APIs (per month)".to_owned(),
            header: cells(&[
                "local",
                "on",
                "instead of",
                "hardware $/month",
                "capacity",
                "local $/1k at capacity",
                "hosted $/1k",
                "local is cheaper above",
            ]),
            rows: r
                .break_even
                .iter()
                .map(|b| {
                    let f = &b.figures;
                    vec![
                        b.local.clone(),
                        format!(
                            "{}{}",
                            b.on,
                            if b.measured {
                                " (measured)"
                            } else {
                                " (estimate)"
                            }
                        ),
                        b.hosted.clone(),
                        usd(f.local_monthly_usd),
                        format!("{} req", count(f.capacity_per_month)),
                        usd(f.local_cost_per_request_at_capacity * 1000.0),
                        usd(f.hosted_cost_per_request * 1000.0),
                        f.requests_per_month.map_or_else(
                            || "never (one device)".to_owned(),
                            |n| format!("{} req/month", count(n)),
                        ),
                    ]
                })
                .collect(),
        });
    }
    out
}

/// A large count as 1.2k / 3.4M / 5.6B.
fn count(n: f64) -> String {
    if n >= 1e9 {
        format!("{:.1}B", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.1}M", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.1}k", n / 1e3)
    } else {
        format!("{n:.0}")
    }
}

fn headline(r: &Recommendation) -> String {
    match &r.chosen {
        Some(c) => format!("{}: use {c}", r.component),
        None => format!("{}: no candidate meets every constraint", r.component),
    }
}

fn lines(r: &Recommendation) -> Vec<String> {
    let mut out = vec![r.reason.clone(), format!("Rule: {}.", r.rule)];
    let constraints = r.constraints.describe();
    out.push(if constraints.is_empty() {
        "Constraints: none set (see `rightfit recommend --help`).".to_owned()
    } else {
        format!("Constraints: {}.", constraints.join(" · "))
    });
    if !r.pareto_cost.is_empty() {
        out.push(format!(
            "Pareto frontier, quality vs cost (cheapest first): {}.",
            r.pareto_cost.join(" → ")
        ));
    }
    if !r.pareto_latency.is_empty() {
        out.push(format!(
            "Pareto frontier, quality vs p95 latency (fastest first): {}.",
            r.pareto_latency.join(" → ")
        ));
    }
    out
}

/// The recommendation for the terminal, `width` columns wide (0: no limit).
pub fn recommendation_terminal(r: &Recommendation, width: u16) -> String {
    let mut out = format!("{}\n", headline(r));
    for l in lines(r) {
        out.push_str(&format!("  {l}\n"));
    }
    for w in &r.warnings {
        out.push_str(&format!("  ! {w}\n"));
    }
    for b in blocks(r) {
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED);
        t.set_content_arrangement(ContentArrangement::Dynamic);
        if width > 0 {
            t.set_width(width);
        }
        t.set_header(b.header);
        for row in b.rows {
            t.add_row(row);
        }
        out.push_str(&format!("\n{}\n{t}\n", b.title));
    }
    out
}

/// The recommendation as Markdown.
pub fn recommendation_markdown(r: &Recommendation) -> String {
    let esc = |s: &str| s.replace('|', "\\|");
    let mut out = format!("## {}\n\n", headline(r));
    for l in lines(r) {
        out.push_str(&format!("{l}\n\n"));
    }
    for w in &r.warnings {
        out.push_str(&format!("> **Warning:** {w}\n>\n"));
    }
    if !r.warnings.is_empty() {
        out.push('\n');
    }
    for b in blocks(r) {
        out.push_str(&format!(
            "### {}\n\n| {} |\n|",
            b.title,
            b.header.join(" | ")
        ));
        out.push_str(&"---|".repeat(b.header.len()));
        out.push('\n');
        for row in b.rows {
            let row: Vec<String> = row.iter().map(|c| esc(c)).collect();
            out.push_str(&format!("| {} |\n", row.join(" | ")));
        }
        out.push('\n');
    }
    out
}

/// Recommendations of several runs, each as `{"run", "recommendation"}`, as JSON.
pub fn recommendations_json(all: &[(String, Recommendation)]) -> serde_json::Value {
    serde_json::json!(
        all.iter()
            .map(|(run, rec)| serde_json::json!({"run": run, "recommendation": rec}))
            .collect::<Vec<_>>()
    )
}

/// Recommendations of several runs in Markdown, each followed by its run.
pub fn recommendations_markdown(all: &[(String, Recommendation)]) -> String {
    all.iter()
        .map(|(run, rec)| format!("{}_run {run}_\n\n", recommendation_markdown(rec)))
        .collect()
}

/// Recommendations of several runs for the terminal, each under its run, a blank line between.
pub fn recommendations_terminal(all: &[(String, Recommendation)], width: u16) -> String {
    all.iter()
        .map(|(run, rec)| {
            format!(
                "run {run}\n{}\n",
                recommendation_terminal(rec, width).trim_end()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
