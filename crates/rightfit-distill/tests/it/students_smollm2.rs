//! Students end to end on a real task (poem sentiment) and the real SmolLM2: the training rows
//! a project's student gets (with leakage refused), a LoRA student trained, interrupted and
//! resumed, then served by the registry; a classifier student on SmolLM2's embeddings served the
//! same way; a damaged artefact refused with the file named.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use rightfit_config::project::Project;
use rightfit_config::{Overrides, Settings};
use rightfit_distill::DistillError;
use rightfit_distill::job::{Distill, Outcome, find};
use rightfit_distill::manifest;
use rightfit_registry::{ModelRegistry, ProviderFactory};
use rightfit_store::SqliteStore;
use rightfit_types::progress::{Progress, TrainingFigures};
use rightfit_types::{ChatRequest, Message};

use crate::real;

fn shared() -> PathBuf {
    std::env::var(rightfit_config::env::SHARED_DATA)
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
        .join("poem_sentiment")
}

/// A project with a sentiment component evaluated on the test file and two students trained on
/// `train` (a TSV of the same columns).
fn project(dir: &Path, train: &Path) -> Project {
    let model = real::smollm2();
    let test = shared().join("test.tsv");
    let text = format!(
        r#"
[project]
name = "distill-test"
store = "runs.db"
seed = 42

[models.smollm2]
provider = "local"
model = "{model}"
context_size = 2048
parallel = 4

[components.sentiment]
system = "Label the sentiment of the line of poetry: negative, no_impact, positive or mixed."
prompt = "Line: {{{{ text }}}}"
dataset = {{ path = "{test}", columns = ["id", "text", "label"], id = "id" }}
reference = "label"
output = {{ type = "label", labels = ["negative", "no_impact", "positive", "mixed"], map = {{ "-1" = "negative", "0" = "no_impact", "1" = "positive", "2" = "mixed" }} }}
metrics = ["accuracy"]
max_tokens = 4

[[components.sentiment.students]]
name = "lora"
type = "lora"
base = "smollm2"
rank = 4
layers = 2
batch_size = 4
epochs = 2
limit = 40
learning_rate = 1e-3
data = {{ from = "dataset", dataset = {{ path = "{train}", columns = ["id", "text", "label"], id = "id" }} }}

[[components.sentiment.students]]
name = "clf"
type = "classifier"
embedder = "smollm2"
limit = 240
data = {{ from = "dataset", dataset = {{ path = "{train}", columns = ["id", "text", "label"], id = "id" }} }}

[[components.sentiment.candidates]]
student = "lora"

[[components.sentiment.candidates]]
student = "clf"
"#,
        model = model.display(),
        test = test.display(),
        train = train.display(),
    );
    let path = dir.join("rightfit.toml");
    std::fs::write(&path, text).expect("write project");
    Project::load(&path).expect("project loads")
}

/// Records notes; sets `stop` once training reaches `stop_at` steps.
struct Watch<'a> {
    stop: &'a AtomicBool,
    stop_at: Option<u64>,
    notes: Mutex<Vec<String>>,
    steps: Mutex<Vec<u64>>,
}

impl Progress for Watch<'_> {
    fn training(&self, f: &TrainingFigures) {
        self.steps.lock().expect("steps").push(f.step);
        if self.stop_at.is_some_and(|n| f.step >= n) {
            self.stop.store(true, Ordering::Relaxed);
        }
    }
    fn note(&self, text: &str) {
        self.notes.lock().expect("notes").push(text.to_owned());
    }
}

fn registry(home: &Path) -> ModelRegistry {
    let settings = Settings::resolve(&Overrides {
        home: Some(home.to_owned()),
        threads: Some(2),
    })
    .expect("settings");
    ModelRegistry::new(&settings)
}

async fn answer(registry: &ModelRegistry, p: &Project, model: &str, text: &str) -> String {
    let provider = registry
        .provider(&p.models[model])
        .await
        .unwrap_or_else(|e| panic!("{model}: {e}"));
    let request = ChatRequest {
        max_tokens: Some(4),
        ..ChatRequest::chat(vec![
            Message::system(
                "Label the sentiment of the line of poetry: negative, no_impact, positive or mixed.",
            ),
            Message::user(format!("Line: {text}")),
        ])
    };
    let response = provider.complete(request).await.expect("answers");
    response.choices[0].text.trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn students_train_resume_and_are_served_smollm2() {
    let dir = tempfile::tempdir().expect("dir");
    // The training file: 120 train lines, plus 3 lines of the test file (other ids, same text),
    // which must be refused.
    let test_lines: Vec<String> = std::fs::read_to_string(shared().join("test.tsv"))
        .expect("test.tsv")
        .lines()
        .take(3)
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            format!("leak{}\t  {}\t{}", cols[0], cols[1].to_uppercase(), cols[2])
        })
        .collect();
    let mut train: Vec<String> = std::fs::read_to_string(shared().join("train.tsv"))
        .expect("train.tsv")
        .lines()
        .map(str::to_owned)
        .collect();
    train.extend(test_lines);
    let rows = train.len() as u64;
    let train_path = dir.path().join("train.tsv");
    std::fs::write(&train_path, train.join("\n") + "\n").expect("write train");
    let p = project(dir.path(), &train_path);
    let home = tempfile::tempdir().expect("home");
    let registry = registry(home.path());
    let store = SqliteStore::open(&dir.path().join("runs.db"))
        .await
        .expect("store");
    let stop = AtomicBool::new(false);
    let watch = Watch {
        stop: &stop,
        stop_at: Some(3),
        notes: Mutex::new(Vec::new()),
        steps: Mutex::new(Vec::new()),
    };
    let job = Distill {
        project: &p,
        registry: &registry,
        store: &store,
        progress: &watch,
        stop: &stop,
    };
    let (c, lora) = find(&p, "sentiment", "lora").expect("lora");

    // The rows: every source row read, the three test lines refused, `limit` kept.
    let set = job.training_set(c, lora).await.expect("rows");
    assert_eq!(set.read, rows);
    assert_eq!(set.refused_overlap, 3);
    assert_eq!(set.train.len() + set.validation.len(), 40);
    assert!(!set.validation.is_empty());

    // Interrupted after 3 steps: a checkpoint, no artefact.
    match job.student(c, lora, false).await {
        Err(DistillError::Stopped(_)) => {}
        other => panic!("expected a stop, got {other:?}"),
    }
    assert!(manifest::read(&lora.artefact).is_err());
    // Resumed: it continues from step 3 and finishes.
    stop.store(false, Ordering::Relaxed);
    let resumed = Watch {
        stop: &stop,
        stop_at: None,
        notes: Mutex::new(Vec::new()),
        steps: Mutex::new(Vec::new()),
    };
    let job = Distill {
        progress: &resumed,
        ..job
    };
    let m = match job.student(c, lora, false).await.expect("trains") {
        Outcome::Trained(m) => m,
        other => panic!("expected training, got {other:?}"),
    };
    let steps = resumed.steps.lock().expect("steps").clone();
    assert!(steps.first().is_some_and(|s| *s > 3), "{steps:?}");
    assert!(m.training.resumed);
    assert_eq!(m.data.refused_overlap, 3);
    let loss = m.training.validation["loss"];
    let base = m.training.validation["base_loss"];
    eprintln!("lora student: validation loss {loss:.4} (base {base:.4})");
    assert!(
        loss < base,
        "held-out loss {loss} not below the base's {base}"
    );
    assert!(lora.artefact.join("adapter.gguf").is_file());
    // The same data, settings and base: up to date, nothing trained.
    assert!(matches!(
        job.student(c, lora, false).await.expect("checks"),
        Outcome::UpToDate(_)
    ));

    // Served by the registry as the model candidates name.
    let line = "with pale blue berries. in these peaceful shades--";
    let first = answer(&registry, &p, "sentiment.lora", line).await;
    let again = answer(&registry, &p, "sentiment.lora", line).await;
    assert_eq!(first, again);

    // A classifier on SmolLM2's embeddings, served: its answer is one of the labels.
    let (_, clf) = find(&p, "sentiment", "clf").expect("clf");
    let m = job
        .student(c, clf, false)
        .await
        .expect("trains")
        .manifest()
        .clone();
    let accuracy = m.training.validation["accuracy"];
    eprintln!("classifier student: validation accuracy {accuracy:.3}");
    assert_eq!(m.kind, "classifier");
    let label = answer(&registry, &p, "sentiment.clf", line).await;
    assert!(
        ["negative", "no_impact", "positive", "mixed"].contains(&label.as_str()),
        "{label}"
    );

    // Damaged files: the manifest check and the registry name the file.
    let weights = clf.artefact.join("weights.f32");
    let mut bytes = std::fs::read(&weights).expect("weights");
    bytes[0] ^= 0xff;
    std::fs::write(&weights, &bytes).expect("damage");
    let err = manifest::read(&clf.artefact)
        .expect_err("damaged")
        .to_string();
    assert!(err.contains("weights.f32"), "{err}");
    let err = registry
        .provider(&p.models["sentiment.clf"])
        .await
        .expect_err("refused")
        .to_string();
    assert!(err.contains("weights.f32"), "{err}");
    let adapter = lora.artefact.join("adapter.gguf");
    std::fs::write(&adapter, b"GGUF but not really").expect("damage adapter");
    let err = manifest::read(&lora.artefact)
        .expect_err("damaged")
        .to_string();
    assert!(err.contains("adapter.gguf"), "{err}");
}
