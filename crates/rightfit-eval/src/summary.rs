//! A run's summaries and comparisons, computed from its stored records.
//!
//! Everything shown about a run is derived from what the store holds, so a report of a resumed
//! run is computed exactly as that of an uninterrupted one.

use std::collections::BTreeMap;

use rightfit_config::project::Project;
use rightfit_store::{RunStore, StoreError};
use rightfit_types::{
    CandidateInfo, CandidateSummary, ExampleRecord, PairedComparison, RunInfo, RunReport,
};

use crate::stats::{self, StatsOptions};

/// Summaries per candidate (in candidate order) and each candidate compared with the first.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    /// One per candidate with records.
    pub candidates: Vec<CandidateSummary>,
    /// Candidate i (i ≥ 1) against candidate 0, on the examples both scored.
    pub comparisons: Vec<PairedComparison>,
}

/// Summarises a run's records.
pub fn summarize(
    run: &RunInfo,
    candidates: &[CandidateInfo],
    records: &[ExampleRecord],
) -> RunSummary {
    let opts = StatsOptions {
        seed: run.seed,
        ..StatsOptions::default()
    };
    let mut by_candidate: BTreeMap<&str, Vec<ExampleRecord>> = BTreeMap::new();
    for r in records {
        by_candidate
            .entry(r.candidate.as_str())
            .or_default()
            .push(r.clone());
    }
    let mut summaries = Vec::new();
    let mut groups: Vec<&Vec<ExampleRecord>> = Vec::new();
    for c in candidates {
        let Some(rs) = by_candidate.get(c.name.as_str()) else {
            continue;
        };
        match stats::summarize(rs, &c.model, &c.strategy, c.peak_memory_bytes, &opts) {
            Ok(s) => {
                summaries.push(s);
                groups.push(rs);
            }
            Err(e) => tracing::warn!(candidate = %c.name, error = %e, "cannot summarise"),
        }
    }
    let mut comparisons = Vec::new();
    if let Some((first, rest)) = groups.split_first() {
        for other in rest {
            match stats::compare(first, other, &opts) {
                Ok(c) => comparisons.push(c),
                Err(e) => tracing::warn!(error = %e, "cannot compare"),
            }
        }
    }
    RunSummary {
        candidates: summaries,
        comparisons,
    }
}

/// A stored run's report: its candidates summarised from their records, with the corpus
/// metrics and the primary metric the run recorded.
pub async fn run_report(store: &dyn RunStore, run: &RunInfo) -> Result<RunReport, StoreError> {
    let candidates = store.candidates(&run.id).await?;
    let records = store.records(&run.id, None).await?;
    let summary = summarize(run, &candidates, &records);
    let corpus: BTreeMap<String, BTreeMap<String, f64>> =
        serde_json::from_value(run.meta["corpus"].clone()).unwrap_or_default();
    Ok(RunReport {
        run: run.clone(),
        primary_metric: run.meta["primary_metric"]
            .as_str()
            .unwrap_or("score")
            .to_owned(),
        candidates: summary.candidates,
        corpus,
        comparisons: summary.comparisons,
    })
}

/// The run a component is judged on: its newest finished run, else its newest run (of the last
/// 50).
pub async fn judged_run(
    store: &dyn RunStore,
    component: &str,
) -> Result<Option<RunInfo>, StoreError> {
    let runs = store.runs(Some(component), 50).await?;
    Ok(runs
        .iter()
        .find(|r| r.status == rightfit_types::RunStatus::Finished)
        .or(runs.first())
        .cloned())
}

/// Why there is no run to judge.
#[derive(Debug, thiserror::Error)]
pub enum JudgedRunsError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A component named on the command line has no run.
    #[error("component '{0}' has no stored run — evaluate it first: rightfit eval {0}")]
    NoRun(String),
    /// No component has a run.
    #[error("no stored runs in {} — evaluate first: rightfit eval", .0.display())]
    NoRuns(std::path::PathBuf),
    /// A component named on the command line is not in the project.
    #[error("{0}")]
    UnknownComponent(String),
}

/// The runs a recommendation reads: the one `run` names (an id or a prefix of one), else the
/// [`judged_runs`] of the `components` named, or of every component when none is.
pub async fn runs_to_judge(
    store: &dyn RunStore,
    project: &Project,
    run: Option<&str>,
    components: &[String],
) -> Result<Vec<RunInfo>, JudgedRunsError> {
    if let Some(id) = run {
        return Ok(vec![store.resolve_run(id).await?]);
    }
    let names = project
        .components_named(components)
        .map_err(JudgedRunsError::UnknownComponent)?;
    judged_runs(store, &names, !components.is_empty(), &project.store).await
}

/// The [`judged_run`] of each component; each one `named` (on the command line) must have one,
/// and at least one must in any case (`store_path` names the store in that error).
pub async fn judged_runs(
    store: &dyn RunStore,
    components: &[String],
    named: bool,
    store_path: &std::path::Path,
) -> Result<Vec<RunInfo>, JudgedRunsError> {
    let mut runs = Vec::new();
    for name in components {
        match judged_run(store, name).await? {
            Some(run) => runs.push(run),
            None if named => return Err(JudgedRunsError::NoRun(name.clone())),
            None => {}
        }
    }
    if runs.is_empty() {
        return Err(JudgedRunsError::NoRuns(store_path.to_owned()));
    }
    Ok(runs)
}

/// Compares the same-named candidates of two runs (or their only candidates), B against A.
pub fn compare_runs(
    a: &[ExampleRecord],
    b: &[ExampleRecord],
    seed: u64,
) -> Vec<Result<PairedComparison, String>> {
    let opts = StatsOptions {
        seed,
        ..StatsOptions::default()
    };
    let group = |rs: &[ExampleRecord]| {
        let mut m: BTreeMap<String, Vec<ExampleRecord>> = BTreeMap::new();
        for r in rs {
            m.entry(r.candidate.clone()).or_default().push(r.clone());
        }
        m
    };
    let (ga, gb) = (group(a), group(b));
    let mut pairs: Vec<(&Vec<ExampleRecord>, &Vec<ExampleRecord>)> = ga
        .iter()
        .filter_map(|(name, ra)| gb.get(name).map(|rb| (ra, rb)))
        .collect();
    if pairs.is_empty() && ga.len() == 1 && gb.len() == 1 {
        pairs = ga.values().zip(gb.values()).collect();
    }
    pairs
        .into_iter()
        .map(|(ra, rb)| stats::compare(ra, rb, &opts).map_err(|e| e.to_string()))
        .collect()
}
