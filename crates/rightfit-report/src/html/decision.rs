//! The recommendation block (choice, reason, rule, constraints, warnings, runners-up, rejected
//! candidates, device verdicts) and the aspects table.

use rightfit_decide::{ConstraintKind, Objective, Ranked, Recommendation};

use super::escape::esc;
use crate::fmt::{bytes, ms, pct, usd};

/// The recommendation for one component.
pub(super) fn recommendation(out: &mut String, rec: &Recommendation) {
    let class = if rec.chosen.is_some() {
        "recommendation"
    } else {
        "recommendation none-feasible"
    };
    out.push_str(&format!("<div class=\"{class}\">\n"));
    match &rec.chosen {
        Some(chosen) => out.push_str(&format!(
            "<p class=\"chosen\">Recommended: <strong class=\"candidate\">{}</strong></p>\n",
            esc(chosen)
        )),
        None => out.push_str(
            "<p class=\"chosen\"><strong>No candidate meets every constraint.</strong></p>\n",
        ),
    }
    if !rec.reason.is_empty() {
        out.push_str(&format!("<p class=\"reason\">{}</p>\n", esc(&rec.reason)));
    }
    out.push_str(&format!(
        "<p class=\"rule\">Rule: {} (objective: {}).</p>\n",
        esc(&rec.rule),
        objective(rec.objective)
    ));
    let constraints: Vec<String> = rec.constraints.describe().iter().map(|l| esc(l)).collect();
    out.push_str("<p class=\"constraints\">Constraints: ");
    if constraints.is_empty() {
        out.push_str("none set (every candidate is feasible).");
    } else {
        out.push_str(&constraints.join("; "));
        out.push('.');
    }
    out.push_str("</p>\n");

    if !rec.warnings.is_empty() {
        out.push_str("<ul class=\"warnings\">\n");
        for w in &rec.warnings {
            out.push_str(&format!("<li>{}</li>\n", esc(w)));
        }
        out.push_str("</ul>\n");
    }

    if !rec.ranked.is_empty() {
        out.push_str("<h4>Feasible candidates, best first</h4>\n");
        ranked(out, &rec.ranked, rec.chosen.as_deref());
    }
    if !rec.rejected.is_empty() {
        out.push_str("<h4>Rejected</h4>\n<div class=\"scroll\"><table class=\"rejected\">\n");
        out.push_str(
            "<thead><tr><th>candidate</th><th>constraints broken</th></tr></thead>\n<tbody>\n",
        );
        for r in &rec.rejected {
            out.push_str(&format!(
                "<tr><th scope=\"row\">{}</th><td><ul>",
                esc(&r.candidate)
            ));
            for v in &r.violations {
                out.push_str(&format!(
                    "<li><span class=\"kind\">{}</span> {}</li>",
                    kind(v.kind),
                    esc(&v.message)
                ));
            }
            out.push_str("</ul></td></tr>\n");
        }
        out.push_str("</tbody></table></div>\n");
    }
    if !rec.devices.is_empty() {
        out.push_str(
            "<h4>On the target device (roofline estimates)</h4>\n<div class=\"scroll\">\
             <table class=\"devices\">\n<thead><tr><th>candidate</th><th>device</th>\
             <th class=\"num\">memory needed</th><th class=\"num\">available</th><th>fits</th>\
             <th class=\"num\">prompt tok/s</th><th class=\"num\">gen tok/s</th>\
             <th class=\"num\">TTFT ms</th><th class=\"num\">request ms</th></tr></thead>\n<tbody>\n",
        );
        for d in &rec.devices {
            out.push_str(&format!(
                "<tr><th scope=\"row\">{}</th><td>{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td>{}</td><td class=\"num\">{:.0}</td>\
                 <td class=\"num\">{:.1}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
                esc(&d.candidate),
                esc(&d.device),
                bytes(d.fit.needed_bytes),
                d.fit.available_bytes.map_or("—".to_owned(), bytes),
                if d.fit.fits { "yes" } else { "no" },
                d.speed.prefill_tokens_per_s,
                d.speed.decode_tokens_per_s,
                ms(d.speed.ttft_ms),
                ms(d.speed.request_ms),
            ));
        }
        out.push_str("</tbody></table></div>\n");
    }
    if !rec.break_even.is_empty() {
        break_even(out, rec);
    }
    out.push_str("</div>\n");
}

/// When owning or renting the hardware for a local candidate beats each hosted candidate.
fn break_even(out: &mut String, rec: &Recommendation) {
    out.push_str(
        "<h4>Break-even against hosted APIs (per month)</h4>\n<div class=\"scroll\">\
         <table class=\"break-even\">\n<thead><tr><th>local</th><th>on</th><th>instead of</th>\
         <th class=\"num\">hardware $/month</th><th class=\"num\">capacity (requests)</th>\
         <th class=\"num\">local $/1k at capacity</th><th class=\"num\">hosted $/1k</th>\
         <th>local is cheaper above</th></tr></thead>\n<tbody>\n",
    );
    for b in &rec.break_even {
        let f = &b.figures;
        let above = f.requests_per_month.map_or_else(
            || "never (one device cannot serve enough)".to_owned(),
            |n| format!("{n:.0} requests a month"),
        );
        out.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td>{} ({})</td><td>{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{:.0}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td>{}</td></tr>\n",
            esc(&b.local),
            esc(&b.on),
            if b.measured { "measured" } else { "estimate" },
            esc(&b.hosted),
            usd(f.local_monthly_usd),
            f.capacity_per_month,
            usd(f.local_cost_per_request_at_capacity * 1000.0),
            usd(f.hosted_cost_per_request * 1000.0),
            above,
        ));
    }
    out.push_str("</tbody></table></div>\n");
}

fn ranked(out: &mut String, ranked: &[Ranked], chosen: Option<&str>) {
    out.push_str(
        "<div class=\"scroll\"><table class=\"ranked\">\n<thead><tr><th class=\"num\">#</th>\
         <th>candidate</th><th class=\"num\">quality % (CI)</th><th class=\"num\">cost/1k</th>\
         <th class=\"num\">p95 ms</th><th class=\"num\">TTFT p95</th><th class=\"num\">memory</th>\
         <th>figures</th></tr></thead>\n<tbody>\n",
    );
    for (i, r) in ranked.iter().enumerate() {
        let is_chosen = chosen == Some(r.candidate.as_str());
        out.push_str(&format!(
            "<tr{}><td class=\"num\">{}</td><th scope=\"row\">{}</th><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td>{}</td></tr>\n",
            if is_chosen { " class=\"chosen\"" } else { "" },
            i + 1,
            esc(&r.candidate),
            r.quality.as_ref().map_or("—".to_owned(), |q| format!(
                "{} [{}, {}]",
                pct(q.mean),
                pct(q.low),
                pct(q.high)
            )),
            r.cost_per_1k_usd.map_or("—".to_owned(), usd),
            r.p95_latency_ms.map_or("—".to_owned(), ms),
            r.p95_ttft_ms.map_or("—".to_owned(), ms),
            r.memory_bytes.map_or("—".to_owned(), bytes),
            if r.estimated { "estimated" } else { "measured" },
        ));
    }
    out.push_str("</tbody></table></div>\n");
}

/// The aspects table: each candidate in words.
pub(super) fn aspects(out: &mut String, rec: &Recommendation) {
    out.push_str("<h3>Aspects</h3>\n");
    if rec.aspects.is_empty() {
        out.push_str("<p class=\"note\">The recommendation has no aspects table.</p>\n");
        return;
    }
    out.push_str(
        "<div class=\"scroll\"><table class=\"aspects\">\n<thead><tr><th>candidate</th>\
         <th>resource use</th><th>quality</th><th>specialisation</th><th>latency</th>\
         <th>cost</th><th>runs on</th></tr></thead>\n<tbody>\n",
    );
    for a in &rec.aspects {
        let chosen = rec.chosen.as_deref() == Some(a.candidate.as_str());
        out.push_str(&format!(
            "<tr{}><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td></tr>\n",
            if chosen { " class=\"chosen\"" } else { "" },
            esc(&a.candidate),
            esc(&a.resource_use),
            esc(&a.quality),
            esc(&a.specialisation),
            esc(&a.latency),
            esc(&a.cost),
            esc(&a.runs_on),
        ));
    }
    out.push_str("</tbody></table></div>\n");
}

fn objective(o: Objective) -> &'static str {
    match o {
        Objective::Quality => "highest quality",
        Objective::Cost => "lowest cost",
        Objective::Latency => "lowest p95 latency",
    }
}

fn kind(k: ConstraintKind) -> &'static str {
    match k {
        ConstraintKind::Quality => "quality",
        ConstraintKind::Latency => "latency",
        ConstraintKind::Ttft => "TTFT",
        ConstraintKind::Budget => "budget",
        ConstraintKind::Memory => "memory",
        ConstraintKind::Device => "device",
        ConstraintKind::Offline => "offline",
    }
}
