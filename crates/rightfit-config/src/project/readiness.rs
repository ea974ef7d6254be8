//! What keeps a valid project from running yet: a local model file, a dataset or an API key
//! that is not there. (`rightfit config check` prints these; it also asks hosted models online.)

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::model::ProviderConfig;
use super::validated::Project;

/// The problems found, and the file each local model resolved to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Readiness {
    /// Each as `key.path: what is wrong`, models first, then datasets.
    pub problems: Vec<String>,
    /// Local models' files by model name.
    pub local_files: BTreeMap<String, PathBuf>,
}

impl Project {
    /// Checks every model and dataset; `locate` turns a local model's `model` (a catalogue name
    /// or a path) into its file, or says why it cannot.
    pub fn readiness(&self, locate: impl Fn(&str) -> Result<PathBuf, String>) -> Readiness {
        let mut r = Readiness::default();
        for m in self.models.values() {
            let key = match &m.provider {
                ProviderConfig::Local {
                    adapter: Some(adapter),
                    ..
                } if !adapter.exists() => {
                    r.problems.push(format!(
                        "models.{}: adapter {} does not exist{}",
                        m.name,
                        adapter.display(),
                        untrained_hint(&m.name)
                    ));
                    None
                }
                ProviderConfig::Local { model, .. } => {
                    match locate(model) {
                        Ok(path) => {
                            r.local_files.insert(m.name.clone(), path);
                        }
                        Err(e) => r.problems.push(format!("models.{}: {e}", m.name)),
                    }
                    None
                }
                ProviderConfig::Classifier { artefact, .. } => {
                    if !artefact.exists() {
                        r.problems.push(format!(
                            "models.{}: {} does not exist{}",
                            m.name,
                            artefact.display(),
                            untrained_hint(&m.name)
                        ));
                    }
                    None
                }
                ProviderConfig::Openai { api_key, .. }
                | ProviderConfig::Anthropic { api_key, .. }
                | ProviderConfig::Gemini { api_key, .. } => Some(api_key),
                ProviderConfig::OpenaiCompatible { api_key, .. } => api_key.as_ref(),
            };
            if let Some(e) = key.and_then(|k| k.resolve().err()) {
                r.problems.push(format!("models.{}.api_key: {e}", m.name));
            }
        }
        for c in self.components.values() {
            if !c.dataset.path.exists() {
                r.problems.push(format!(
                    "components.{}.dataset: {} does not exist",
                    c.name,
                    c.dataset.path.display()
                ));
            }
        }
        r
    }
}

/// For a student's entry (`COMPONENT.STUDENT`), how to make its artefact.
fn untrained_hint(name: &str) -> String {
    match name.split_once('.') {
        Some((component, student)) => format!(
            " — student '{student}' is not trained yet: run 'rightfit distill -c FILE {component} --student {student}'"
        ),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[models.small]
provider = "local"
model = "smollm2-135m"

[models.big]
provider = "openai"
model = "gpt-4o"
api_key = "env:RIGHTFIT_READINESS_TEST_UNSET_KEY"

[components.c]
prompt = "Q: {{ q }}"
dataset = { path = "missing.jsonl" }
reference = "a"
output = { type = "text" }

[[components.c.candidates]]
model = "small"
"#;

    #[test]
    fn missing_files_and_unset_keys_are_problems_named_by_key_path() {
        let p = Project::parse(std::path::Path::new("proj/rightfit.toml"), FILE).expect("valid");
        let r = p.readiness(|m| Err(format!("{m}: not found")));
        assert_eq!(
            r.problems,
            vec![
                "models.big.api_key: environment variable RIGHTFIT_READINESS_TEST_UNSET_KEY is not set"
                    .to_owned(),
                "models.small: smollm2-135m: not found".to_owned(),
                format!(
                    "components.c.dataset: {} does not exist",
                    p.components["c"].dataset.path.display()
                ),
            ]
        );
        assert!(r.local_files.is_empty());
        let found = p.readiness(|m| Ok(PathBuf::from(format!("/models/{m}.gguf"))));
        assert_eq!(
            found.local_files.get("small"),
            Some(&PathBuf::from("/models/smollm2-135m.gguf"))
        );
        assert_eq!(found.problems.len(), 2);
    }

    #[test]
    fn an_untrained_student_is_a_problem_that_says_how_to_train_it() {
        let file = r#"
[project]
students = "no-students-here"

[models.small]
provider = "local"
model = "smollm2-135m"

[components.c]
prompt = "Q: {{ q }}"
dataset = { path = "missing.jsonl" }
reference = "a"
output = { type = "label", labels = ["x", "y"] }

[[components.c.students]]
name = "clf"
type = "classifier"
embedder = "small"
data = { from = "dataset", dataset = { path = "missing.jsonl" } }

[[components.c.students]]
name = "tuned"
type = "lora"
base = "small"
data = { from = "dataset", dataset = { path = "missing.jsonl" } }

[[components.c.candidates]]
student = "clf"

[[components.c.candidates]]
student = "tuned"
"#;
        let p = Project::parse(std::path::Path::new("proj/rightfit.toml"), file).expect("valid");
        let r = p.readiness(|m| Ok(PathBuf::from(format!("/models/{m}.gguf"))));
        let about = |name: &str| -> Vec<&String> {
            r.problems
                .iter()
                .filter(|p| p.starts_with(&format!("models.c.{name}:")))
                .collect()
        };
        let clf = about("clf");
        assert_eq!(clf.len(), 1, "{:?}", r.problems);
        assert!(
            clf[0].contains("rightfit distill -c FILE c --student clf"),
            "{}",
            clf[0]
        );
        let tuned = about("tuned");
        assert_eq!(tuned.len(), 1, "{:?}", r.problems);
        assert!(
            tuned[0].contains("adapter") && tuned[0].contains("--student tuned"),
            "{}",
            tuned[0]
        );
    }
}
