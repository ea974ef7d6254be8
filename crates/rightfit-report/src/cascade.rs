//! A cascade's calibration (`rightfit cascade calibrate`) for the terminal.

use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_FULL};
use rightfit_types::Estimate;
use rightfit_types::cascade::{Calibration, CurvePoint, ESCALATE_ALL};

use crate::fmt::usd;

/// Curve rows shown in the terminal at most (the chosen point is always among them).
const SHOWN: usize = 16;

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn estimate(e: &Estimate) -> String {
    format!(
        "{:.1}% [{:.1}, {:.1}]",
        e.mean * 100.0,
        e.low * 100.0,
        e.high * 100.0
    )
}

fn threshold(t: f64) -> String {
    if t >= ESCALATE_ALL {
        "escalate all".to_owned()
    } else {
        format!("{t:.4}")
    }
}

fn per_1k(cost: Option<f64>) -> String {
    cost.map_or("—".to_owned(), |c| usd(c * 1000.0))
}

/// At most `SHOWN` points spread evenly over the curve, the chosen one always included.
fn shown(curve: &[CurvePoint], chosen: Option<&CurvePoint>) -> Vec<CurvePoint> {
    if curve.len() <= SHOWN {
        return curve.to_vec();
    }
    let step = (curve.len() - 1) as f64 / (SHOWN - 1) as f64;
    let mut picked: Vec<usize> = (0..SHOWN)
        .map(|i| (i as f64 * step).round() as usize)
        .collect();
    if let Some(c) = chosen
        && let Some(i) = curve.iter().position(|p| p == c)
    {
        picked.push(i);
    }
    picked.sort_unstable();
    picked.dedup();
    picked.into_iter().map(|i| curve[i].clone()).collect()
}

/// A cascade calibration for the terminal: the dev figures, the curve (at most 16 points, the
/// chosen one among them), the held-out check and what to add to the project.
pub fn cascade_terminal(c: &Calibration, component: &str, target: f64, seed: u64) -> String {
    let mut out = format!(
        "cascade {} → {} on component {component}: {} paired examples, {} to choose (dev), {} held out (seed {seed})\n",
        c.small,
        c.large,
        c.paired,
        c.dev_n,
        c.paired - c.dev_n
    );
    out.push_str(&format!(
        "dev: {} alone {}, {} alone {}; target {:.0}% of the large candidate = {}\n\n",
        c.small,
        pct(c.small_dev_quality),
        c.large,
        pct(c.large_dev_quality),
        target * 100.0,
        pct(target * c.large_dev_quality)
    ));
    let mut t = Table::new();
    t.load_preset(UTF8_FULL).set_header(vec![
        "threshold",
        "escalated",
        "quality (dev)",
        "of large",
        "cost/1k",
        "mean ms",
        "",
    ]);
    for p in shown(&c.curve, c.chosen.as_ref()) {
        let mark = if c.chosen.as_ref() == Some(&p) {
            "← chosen"
        } else {
            ""
        };
        let of_large = if c.large_dev_quality > 0.0 {
            pct(p.quality / c.large_dev_quality)
        } else {
            "—".to_owned()
        };
        t.add_row(vec![
            Cell::new(threshold(p.threshold)).set_alignment(CellAlignment::Right),
            Cell::new(pct(p.escalated)).set_alignment(CellAlignment::Right),
            Cell::new(pct(p.quality)).set_alignment(CellAlignment::Right),
            Cell::new(of_large).set_alignment(CellAlignment::Right),
            Cell::new(per_1k(p.cost_per_request_usd)).set_alignment(CellAlignment::Right),
            Cell::new(format!("{:.0}", p.latency_ms_mean)).set_alignment(CellAlignment::Right),
            Cell::new(mark),
        ]);
    }
    out.push_str(&t.to_string());
    out.push('\n');
    match (&c.chosen, &c.heldout) {
        (Some(chosen), Some(h)) => {
            out.push_str(&format!(
                "\nheld out ({} examples), threshold {}:\n",
                h.n,
                threshold(chosen.threshold)
            ));
            out.push_str(&format!(
                "  cascade   {}  escalated {}  cost/1k {}  mean {:.0} ms\n",
                estimate(&h.quality),
                pct(h.escalated),
                per_1k(h.cost_per_request_usd),
                h.latency_ms_mean
            ));
            out.push_str(&format!(
                "  {:<9} {}  cost/1k {}  mean {:.0} ms\n",
                "large",
                estimate(&h.large_quality),
                per_1k(h.large_cost_per_request_usd),
                h.large_latency_ms_mean
            ));
            out.push_str(&format!(
                "  {:<9} {}\n",
                "small",
                estimate(&h.small_quality)
            ));
            out.push_str(&format!(
                "  cascade − large: {:+.1} points [{:+.1}, {:+.1}]; retained {}\n",
                h.difference.mean * 100.0,
                h.difference.low * 100.0,
                h.difference.high * 100.0,
                h.retained.map_or("—".to_owned(), pct)
            ));
            if chosen.threshold <= 0.0 {
                out.push_str(&format!(
                    "\n{} alone reaches the target on the dev split: no cascade is needed (check the held-out figures above)\n",
                    c.small
                ));
            } else if chosen.threshold >= ESCALATE_ALL {
                out.push_str(&format!(
                    "\nonly escalating everything reaches the target: the cascade is {} alone, plus the small call\n",
                    c.large
                ));
            } else {
                out.push_str(&format!(
                    "\nadd to the project:\n\n[[components.{component}.candidates]]\nstrategy = \"cascade\"\nstages = [\"{}\", \"{}\"]\nthreshold = {}\n",
                    c.small, c.large, chosen.threshold
                ));
            }
        }
        _ => out.push_str(
            "\nno threshold reaches the target on the dev split: lower --target, lift the small \
             candidate, or give it a better confidence (self-consistency, a verifier)\n",
        ),
    }
    for n in &c.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out
}

/// A calibration as JSON, with the runs it read and what it was asked for.
pub fn cascade_json(
    c: &Calibration,
    small_run: &str,
    large_run: &str,
    target: f64,
    seed: u64,
) -> serde_json::Value {
    let mut value = serde_json::to_value(c).unwrap_or_default();
    if let Some(o) = value.as_object_mut() {
        o.insert("small_run".into(), small_run.into());
        o.insert("large_run".into(), large_run.into());
        o.insert("target".into(), target.into());
        o.insert("seed".into(), seed.into());
    }
    value
}
