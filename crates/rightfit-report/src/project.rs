//! What `rightfit config check` shows of a valid project file: where its runs go, its models
//! and its components.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rightfit_config::project::{OutputContract, PriceSource, Project, ProviderConfig};

use crate::fmt::table;

/// The project's models (local ones at their resolved files, from `local_files` by model name)
/// and components as tables, under a line saying the file is valid and where runs are kept.
pub fn project_terminal(
    p: &Project,
    store: &Path,
    local_files: &BTreeMap<String, PathBuf>,
) -> String {
    let mut out = format!(
        "{}: valid — project '{}', runs kept in {}\n",
        p.file.display(),
        p.name,
        store.display()
    );
    let mut models = table(&[
        "model",
        "provider",
        "id / file",
        "price $/Mtok in/out",
        "concurrency",
    ]);
    for m in p.models.values() {
        let id = match &m.provider {
            ProviderConfig::Local { model, .. } => local_files
                .get(&m.name)
                .map_or_else(|| model.clone(), |f| f.display().to_string()),
            ProviderConfig::Classifier { artefact, .. } => artefact.display().to_string(),
            ProviderConfig::Openai { model, .. }
            | ProviderConfig::Anthropic { model, .. }
            | ProviderConfig::Gemini { model, .. } => model.clone(),
            ProviderConfig::OpenaiCompatible {
                model, base_url, ..
            } => format!("{model} @ {base_url}"),
        };
        models.add_row(vec![
            m.name.clone(),
            m.provider.kind().to_owned(),
            id,
            match (m.price, &m.price_source, m.cost_per_hour) {
                (_, PriceSource::Hardware, Some(per_hour)) => {
                    format!("${per_hour}/h of hardware time")
                }
                (Some(p), PriceSource::Catalogue(date), _) => {
                    format!("{} / {} (catalogue, {date})", p.input, p.output)
                }
                (Some(p), _, _) => format!("{} / {}", p.input, p.output),
                (None, _, _) => "unknown: set price".to_owned(),
            },
            m.concurrency.to_string(),
        ]);
    }
    let mut comps = table(&["component", "dataset", "output", "metrics", "candidates"]);
    for c in p.components.values() {
        let output = match &c.output {
            OutputContract::Label { labels, .. } => format!("label ({} labels)", labels.len()),
            OutputContract::Json { schema } => {
                format!("json{}", if schema.is_some() { " + schema" } else { "" })
            }
            OutputContract::Spans { slots } => format!("spans ({})", slots.join(", ")),
            OutputContract::Text { .. } => "text".to_owned(),
            OutputContract::ToolCall { .. } => "tool_call".to_owned(),
        };
        comps.add_row(vec![
            c.name.clone(),
            c.dataset.path.display().to_string(),
            output,
            c.metrics.join(", "),
            c.candidates
                .iter()
                .map(|k| format!("{} ({})", k.name, k.strategy))
                .collect::<Vec<_>>()
                .join("\n"),
        ]);
    }
    out.push_str(&format!("{models}\n{comps}\n"));
    out
}

/// `config check --online`: each hosted model and what its check said.
pub fn online_checks_terminal(rows: &[(String, String)]) -> String {
    let mut t = table(&["model", "online check"]);
    for (model, detail) in rows {
        t.add_row(vec![model.clone(), detail.clone()]);
    }
    t.to_string()
}

/// What `config check` concludes: everything present (`online`: hosted models reachable too),
/// or one line per problem.
pub fn readiness_terminal(problems: &[String], online: bool) -> String {
    if !problems.is_empty() {
        let lines: Vec<String> = problems.iter().map(|p| format!("problem: {p}")).collect();
        return lines.join("\n");
    }
    if online {
        "datasets, local models and API keys: present; hosted models: reachable, keys accepted"
    } else {
        "datasets, local models and API keys: present"
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::readiness_terminal;

    #[test]
    fn readiness_is_a_line_per_problem_or_what_was_checked() {
        let problems = vec![
            "no file data/a.jsonl".to_owned(),
            "OPENAI_API_KEY unset".to_owned(),
        ];
        assert_eq!(
            readiness_terminal(&problems, true),
            "problem: no file data/a.jsonl\nproblem: OPENAI_API_KEY unset"
        );
        assert_eq!(
            readiness_terminal(&[], false),
            "datasets, local models and API keys: present"
        );
        assert!(readiness_terminal(&[], true).ends_with("hosted models: reachable, keys accepted"));
    }
}
