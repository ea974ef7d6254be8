//! The HTML report in a real headless Chromium (`RIGHTFIT_TEST_CHROMIUM`, which
//! `scripts/test-tools` installs): it loads from `file://` with no console errors and no
//! network, its charts are there with every candidate, its per-example filters show exactly the
//! rows they should (checked against counts computed here from the records), and a screenshot is
//! kept as `target/test-artefacts/report.png`.

// Test helpers outside `#[test]` functions may unwrap too: a failure is a failed test.
#![allow(clippy::unwrap_used)]
// Each load's duration is printed (`--nocapture` shows it): the browser tests' cost is watched.
#![allow(clippy::print_stderr)]

mod fixture;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Instant;

use rightfit_report::{HtmlSection, html};
use rightfit_testkit::chromium::{Chromium, LoadOptions, PageLoad};
use rightfit_types::ExampleRecord;

use fixture::{CANDIDATES, EXAMPLES};

/// Where test artefacts go: `<target dir>/test-artefacts`.
fn artefacts() -> PathBuf {
    let target = std::env::var_os(rightfit_config::env::CARGO_TARGET_DIR)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("test-artefacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The `<figure>` whose `data-chart` is `key`, whole.
fn figure<'a>(dom: &'a str, key: &str) -> &'a str {
    let start = dom
        .find(&format!("data-chart=\"{key}\""))
        .unwrap_or_else(|| panic!("no figure {key}"));
    let end = start + dom[start..].find("</figure>").unwrap();
    &dom[start..end]
}

/// Each per-example row's id and whether it is hidden, in page order.
fn example_rows(dom: &str) -> Vec<(String, bool)> {
    dom.match_indices("<tr class=\"ex\"")
        .map(|(at, _)| {
            let tag = &dom[at..at + dom[at..].find('>').unwrap()];
            let id_at = tag.find("data-id=\"").unwrap() + "data-id=\"".len();
            let id = &tag[id_at..id_at + tag[id_at..].find('"').unwrap()];
            (id.to_owned(), tag.contains(" hidden"))
        })
        .collect()
}

/// The ids of the rows shown, and the count the page says it shows.
fn shown(load: &PageLoad) -> (BTreeSet<String>, String) {
    let ids = example_rows(&load.dom)
        .into_iter()
        .filter(|(_, hidden)| !hidden)
        .map(|(id, _)| id)
        .collect();
    let at = load.dom.find("class=\"f-count\"").expect("a count");
    let count = &load.dom[at..];
    let count = &count[count.find('>').unwrap() + 1..count.find("</output>").unwrap()];
    (ids, count.to_owned())
}

/// Loads the page and insists it was clean: no console error or warning, no exception, no request
/// off the machine.
fn clean_load(path: &std::path::Path, fragment: Option<&str>, screenshot: bool) -> PageLoad {
    let start = Instant::now();
    let load = Chromium::from_env()
        .load_file(
            path,
            fragment,
            &LoadOptions {
                window: (1280, 900),
                screenshot,
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("chromium load of {} took {:?}", load.url, start.elapsed());
    assert_eq!(load.problems(), Vec::<String>::new(), "{}", load.url);
    assert_eq!(load.network_requests(), Vec::<&str>::new(), "{}", load.url);
    load
}

fn write_report() -> (tempfile::TempDir, PathBuf, Vec<ExampleRecord>) {
    let (section, records) = fixture::section();
    let page = html(
        "rightfit report: intent",
        "2026-11-30 04:05 UTC",
        &[section],
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.html");
    std::fs::write(&path, &page).unwrap();
    std::fs::write(artefacts().join("report.html"), &page).unwrap();
    (dir, path, records)
}

/// Example ids where `keep` holds for the records of the example (one per candidate).
fn expected(
    records: &[ExampleRecord],
    keep: impl Fn(&[&ExampleRecord]) -> bool,
) -> BTreeSet<String> {
    let ids: BTreeSet<&str> = records.iter().map(|e| e.example_id.as_str()).collect();
    ids.into_iter()
        .filter(|id| {
            let of: Vec<&ExampleRecord> = records.iter().filter(|e| e.example_id == *id).collect();
            keep(&of)
        })
        .map(str::to_owned)
        .collect()
}

fn not_right(e: &ExampleRecord) -> bool {
    e.error.is_some() || e.unparseable || e.score.is_none_or(|s| s < 1.0)
}

#[test]
fn chromium_report_loads_offline_with_charts_tables_and_no_errors() {
    let (_dir, path, records) = write_report();
    let load = clean_load(&path, None, true);
    let dom = &load.dom;

    // Only the page's own script: the hostile outputs in the fixture stayed text.
    assert_eq!(dom.matches("<script").count(), 1);
    assert!(dom.contains("&lt;/script&gt;&lt;script&gt;console.error("));

    for key in ["quality-cost", "quality-latency", "latency", "ttft"] {
        assert!(figure(dom, key).contains("<svg"), "no chart in {key}");
    }
    // Every candidate has a point and a label where it has the figures; the unpriced one is
    // listed under the cost chart instead.
    let cost = figure(dom, "quality-cost");
    for name in CANDIDATES.iter().filter(|c| **c != fixture::UNPRICED) {
        assert!(cost.contains(name), "{name} not on the cost chart");
    }
    assert!(cost.contains(&format!(
        "Not plotted: no cost (unknown price): {}.",
        fixture::UNPRICED
    )));
    assert_eq!(
        cost.matches("<circle").count(),
        3 + 1,
        "3 points and the chosen one's ring"
    );
    for key in ["quality-latency", "latency"] {
        for name in CANDIDATES {
            assert!(figure(dom, key).contains(name), "{name} not on {key}");
        }
    }
    assert!(figure(dom, "quality-latency").contains(&format!("{} (chosen)", fixture::CHOSEN)));

    // The recommendation, the aspects and the summary are there.
    assert!(dom.contains(&format!(
        "Recommended: <strong class=\"candidate\">{}</strong>",
        fixture::CHOSEN
    )));
    assert_eq!(dom.matches("<table class=\"aspects\">").count(), 1);
    assert!(dom.contains("<table class=\"rejected\">"));

    // Every example is a row, and none is hidden without a filter.
    let rows = example_rows(dom);
    assert_eq!(rows.len(), EXAMPLES);
    assert!(rows.iter().all(|(_, hidden)| !hidden));
    let (ids, count) = shown(&load);
    assert_eq!(ids, expected(&records, |_| true));
    assert_eq!(count, format!("{EXAMPLES} of {EXAMPLES} examples shown"));

    let png = load.screenshot.unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(
        png.len() > 50_000,
        "a {} byte screenshot is too small to show the report",
        png.len()
    );
    let file = artefacts().join("report.png");
    std::fs::write(&file, &png).unwrap();
    eprintln!("screenshot: {}", file.display());
}

#[test]
fn chromium_report_filter_where_a_candidate_is_not_right() {
    let (_dir, path, records) = write_report();
    let candidate = fixture::SMALL;
    let fragment = format!("cand={}&only=wrong", candidate.replace('/', "%2F"));
    let load = clean_load(&path, Some(&fragment), false);
    let want = expected(&records, |of| {
        of.iter().any(|e| e.candidate == candidate && not_right(e))
    });
    assert!(
        !want.is_empty() && want.len() < EXAMPLES,
        "the fixture must make this a real filter"
    );
    let (ids, count) = shown(&load);
    assert_eq!(ids, want);
    assert_eq!(
        count,
        format!("{} of {EXAMPLES} examples shown", want.len())
    );
}

#[test]
fn chromium_report_filter_failures_of_any_candidate_with_a_search() {
    let (_dir, path, records) = write_report();
    // Failures of any candidate, among examples whose text mentions "refund" anywhere in the row.
    let load = clean_load(&path, Some("only=failed&q=REFUND"), false);
    let mentions = |e: &ExampleRecord| {
        let text = format!(
            "{} {} {} {}",
            e.input,
            e.reference,
            e.output.as_deref().unwrap_or_default(),
            e.error.as_deref().unwrap_or_default()
        );
        text.to_lowercase().contains("refund")
    };
    let want = expected(&records, |of| {
        of.iter().any(|e| e.error.is_some()) && of.iter().any(|e| mentions(e))
    });
    assert!(!want.is_empty(), "the fixture must make this a real filter");
    let (ids, count) = shown(&load);
    assert_eq!(ids, want);
    assert_eq!(
        count,
        format!("{} of {EXAMPLES} examples shown", want.len())
    );
}

#[test]
fn chromium_report_filter_where_candidates_disagree() {
    let (_dir, path, records) = write_report();
    let load = clean_load(&path, Some("only=disagree"), false);
    // Outcomes differ: failed, unparseable and each score are different outcomes.
    let want = expected(&records, |of| {
        let outcomes: BTreeSet<String> = of
            .iter()
            .map(|e| match (&e.error, e.unparseable, e.score) {
                (Some(_), _, _) => "failed".to_owned(),
                (None, true, _) => "unparseable".to_owned(),
                (None, false, s) => format!("{s:?}"),
            })
            .collect();
        outcomes.len() > 1
    });
    assert!(
        !want.is_empty() && want.len() < EXAMPLES,
        "the fixture must make this a real filter"
    );
    let (ids, count) = shown(&load);
    assert_eq!(ids, want);
    assert_eq!(
        count,
        format!("{} of {EXAMPLES} examples shown", want.len())
    );
}

#[test]
fn chromium_report_with_empty_sections_loads_cleanly() {
    let (full, _) = fixture::section();
    let empty = HtmlSection {
        records: vec![],
        lift: Default::default(),
        recommendation: None,
        ..full.clone()
    };
    let page = html("two components", "now", &[empty, full]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.html");
    std::fs::write(&path, page).unwrap();
    let load = clean_load(&path, Some("only=wrong"), false);
    assert!(load.dom.contains("no per-example table"));
    assert_eq!(example_rows(&load.dom).len(), EXAMPLES);
}
