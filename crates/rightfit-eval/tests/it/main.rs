//! The runner against scripted providers: retries, permanent errors, timeouts, the response
//! cache, interruption and resume, and the judge. (The same runner on a real model is tested
//! end to end through the CLI, on SmolLM2-135M.)

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use rightfit_config::project::{ModelConfig, Project};
use rightfit_eval::runner::{self, EvalOptions};
use rightfit_providers::{Capabilities, EventStream, Health, Provider, ProviderError};
use rightfit_registry::{BuildError, ProviderFactory};
use rightfit_store::{RunStore, SqliteStore};
use rightfit_types::progress::Quiet;
use rightfit_types::{
    ChatRequest, ChatResponse, Choice, FinishReason, Prompt, RunStatus, Timings, Usage,
};
use tokio::sync::watch;

mod fuzz;
mod shards;
mod strategies;
mod tools;

/// What a scripted provider does.
#[derive(Debug, Clone, Copy)]
enum Script {
    /// Fails this many calls with a transient error, then answers.
    FlakyFirst(u32),
    /// Refuses any prompt containing "boom" (a permanent error).
    RefuseBoom,
    /// Takes longer than any timeout.
    Slow,
    /// Judges: always prefers answer 1.
    JudgeOne,
}

#[derive(Debug)]
struct Scripted {
    name: String,
    script: Script,
    calls: AtomicU32,
    /// Stop the run (through `stop`) after this many answers.
    stop_after: Option<(u32, watch::Sender<bool>)>,
}

impl Scripted {
    fn new(script: Script) -> Arc<Self> {
        Arc::new(Self {
            name: "scripted".into(),
            script,
            calls: AtomicU32::new(0),
            stop_after: None,
        })
    }
}

fn last_user(request: &ChatRequest) -> String {
    match &request.prompt {
        Prompt::Messages(m) => m.last().map(|m| m.content.clone()).unwrap_or_default(),
        Prompt::Text(t) => t.clone(),
    }
}

#[async_trait]
impl Provider for Scripted {
    fn name(&self) -> &str {
        &self.name
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }
    async fn stream(&self, _: ChatRequest) -> Result<EventStream, ProviderError> {
        Err(ProviderError::Unsupported {
            provider: self.name.clone(),
            what: "streaming",
        })
    }
    async fn complete(&self, request: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let prompt = last_user(&request);
        let text = match self.script {
            Script::FlakyFirst(k) if n <= k => {
                return Err(ProviderError::Unavailable {
                    provider: self.name.clone(),
                    detail: "503".into(),
                });
            }
            Script::RefuseBoom if prompt.contains("boom") => {
                return Err(ProviderError::InvalidRequest {
                    provider: self.name.clone(),
                    detail: "content filter".into(),
                });
            }
            Script::Slow => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late".to_owned()
            }
            Script::JudgeOne => "1".to_owned(),
            // Answers the label written after "say:" in the prompt.
            _ => prompt
                .split("say:")
                .nth(1)
                .map(|s| format!("Label: {}", s.trim()))
                .unwrap_or_default(),
        };
        if let Some((after, stop)) = &self.stop_after
            && n >= *after
        {
            let _ = stop.send(true);
        }
        Ok(ChatResponse {
            id: format!("r{n}"),
            model: self.name.clone(),
            choices: vec![Choice {
                tool_calls: Vec::new(),
                index: 0,
                text,
                finish_reason: FinishReason::Stop,
                logprobs: None,
            }],
            usage: Usage {
                prompt_tokens: 100,
                completion_tokens: 10,
                cached_prompt_tokens: 0,
            },
            timings: Timings::default(),
        })
    }
    async fn health(&self) -> Result<Health, ProviderError> {
        Ok(Health {
            ready: true,
            detail: "scripted".into(),
        })
    }
}

/// The scripted candidate for every model, or the scripted judge for the model named "judge".
struct ScriptedModels {
    candidate: Arc<Scripted>,
    judge: Option<Arc<Scripted>>,
}

#[async_trait]
impl ProviderFactory for ScriptedModels {
    async fn provider(&self, model: &ModelConfig) -> Result<Arc<dyn Provider>, BuildError> {
        match (&self.judge, model.name.as_str()) {
            (Some(j), "judge") => Ok(j.clone()),
            _ => Ok(self.candidate.clone()),
        }
    }
}

/// A project over a 10-row dataset whose 4th row asks to "boom".
fn project(dir: &Path, extra: &str) -> Project {
    let mut data = String::new();
    for i in 1..=10 {
        let (text, label) = match i {
            4 => ("boom".to_owned(), "yes"),
            _ if i % 2 == 0 => (format!("item {i}, say: yes"), "yes"),
            _ => (format!("item {i}, say: no"), "no"),
        };
        data.push_str(&format!(
            "{{\"id\": \"e{i}\", \"text\": \"{text}\", \"label\": \"{label}\"}}\n"
        ));
    }
    std::fs::write(dir.join("d.jsonl"), data).expect("write data");
    let text = format!(
        r#"
[models.m]
provider = "openai-compatible"
base_url = "http://localhost:1/v1"
model = "m"
price = {{ input = 1.0, output = 2.0 }}
timeout_s = 0.3
max_retries = 2
{extra}
[components.c]
prompt = "{{{{ text }}}}"
dataset = {{ path = "d.jsonl", id = "id" }}
reference = "label"
output = {{ type = "label", labels = ["yes", "no"] }}

[[components.c.candidates]]
model = "m"
"#
    );
    Project::parse(&dir.join("rightfit.toml"), &text).expect("valid project")
}

async fn eval(
    p: &Project,
    store: &SqliteStore,
    factory: &ScriptedModels,
    stop: watch::Receiver<bool>,
) -> rightfit_types::RunInfo {
    let options = EvalOptions::default();
    let (run, prepared) = runner::start(p, "c", &options, store).await.expect("start");
    runner::execute(
        p,
        run,
        prepared,
        &[],
        &options,
        store,
        factory,
        &Quiet,
        stop,
    )
    .await
    .expect("execute")
}

fn no_stop() -> (watch::Sender<bool>, watch::Receiver<bool>) {
    watch::channel(false)
}

#[tokio::test]
async fn transient_errors_are_retried_and_permanent_ones_recorded() {
    let dir = tempfile::tempdir().expect("dir");
    let p = project(dir.path(), "");
    let store = SqliteStore::open_in_memory().await.expect("store");
    let provider = Scripted::new(Script::FlakyFirst(2));
    let factory = ScriptedModels {
        candidate: provider.clone(),
        judge: None,
    };
    let (_tx, rx) = no_stop();
    let run = eval(&p, &store, &factory, rx).await;
    assert_eq!(run.status, RunStatus::Finished);
    let records = store.records(&run.id, None).await.expect("records");
    assert_eq!(records.len(), 10);
    assert!(records.iter().all(|r| r.error.is_none()), "{records:?}");
    // Two failures, retried, then one call per example.
    assert_eq!(provider.calls.load(Ordering::SeqCst), 12);
    // 9 of 10 answer their label; "boom" gets no label and is unparseable.
    let right = records.iter().filter(|r| r.score == Some(1.0)).count();
    assert_eq!(right, 9);
    assert_eq!(records.iter().filter(|r| r.unparseable).count(), 1);
    // 100 tokens in at $1/M and 10 out at $2/M.
    assert!((records[0].cost_usd.expect("priced") - 0.00012).abs() < 1e-12);

    let store = SqliteStore::open_in_memory().await.expect("store");
    let factory = ScriptedModels {
        candidate: Scripted::new(Script::RefuseBoom),
        judge: None,
    };
    let (_tx, rx) = no_stop();
    let run = eval(&p, &store, &factory, rx).await;
    let records = store.records(&run.id, None).await.expect("records");
    let failed: Vec<_> = records.iter().filter(|r| r.error.is_some()).collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].example_id, "e4");
    assert!(
        failed[0]
            .error
            .as_deref()
            .unwrap_or("")
            .contains("content filter")
    );
    assert_eq!(
        factory.candidate.calls.load(Ordering::SeqCst),
        10,
        "not retried"
    );
    let done = store.done(&run.id).await.expect("done");
    assert_eq!(
        done.len(),
        9,
        "a failed example is not done: --resume retries it"
    );
}

#[tokio::test]
async fn a_timeout_is_retried_then_recorded() {
    let dir = tempfile::tempdir().expect("dir");
    let p = project(dir.path(), "");
    let store = SqliteStore::open_in_memory().await.expect("store");
    let factory = ScriptedModels {
        candidate: Scripted::new(Script::Slow),
        judge: None,
    };
    let (_tx, rx) = no_stop();
    let run = eval(&p, &store, &factory, rx).await;
    let records = store.records(&run.id, None).await.expect("records");
    assert!(
        records.iter().all(|r| r
            .error
            .as_deref()
            .is_some_and(|e| e.contains("no answer within") && e.contains("after 3 attempts"))),
        "{records:?}"
    );
    assert_eq!(factory.candidate.calls.load(Ordering::SeqCst), 30);
}

#[tokio::test]
async fn a_rerun_is_answered_from_the_cache() {
    let dir = tempfile::tempdir().expect("dir");
    let p = project(dir.path(), "");
    let store = SqliteStore::open_in_memory().await.expect("store");
    let provider = Scripted::new(Script::FlakyFirst(0));
    let factory = ScriptedModels {
        candidate: provider.clone(),
        judge: None,
    };
    let (_tx, rx) = no_stop();
    eval(&p, &store, &factory, rx).await;
    let (_tx, rx) = no_stop();
    let second = eval(&p, &store, &factory, rx).await;
    assert_eq!(
        provider.calls.load(Ordering::SeqCst),
        10,
        "the second run made no call"
    );
    let records = store.records(&second.id, None).await.expect("records");
    assert!(records.iter().all(|r| r.cached));
}

#[tokio::test]
async fn an_interrupted_run_keeps_what_finished_and_resumes_the_rest() {
    let dir = tempfile::tempdir().expect("dir");
    let p = project(dir.path(), "concurrency = 1");
    let store = SqliteStore::open_in_memory().await.expect("store");
    let (tx, rx) = watch::channel(false);
    let provider = Arc::new(Scripted {
        name: "scripted".into(),
        script: Script::FlakyFirst(0),
        calls: AtomicU32::new(0),
        stop_after: Some((4, tx)),
    });
    let factory = ScriptedModels {
        candidate: provider.clone(),
        judge: None,
    };
    let options = EvalOptions {
        cache: false,
        ..EvalOptions::default()
    };
    let (run, prepared) = runner::start(&p, "c", &options, &store)
        .await
        .expect("start");
    let run = runner::execute(
        &p,
        run,
        prepared,
        &[],
        &options,
        &store,
        &factory,
        &Quiet,
        rx,
    )
    .await
    .expect("execute");
    assert_eq!(run.status, RunStatus::Interrupted);
    let kept = store.records(&run.id, None).await.expect("records").len();
    assert!((4..10).contains(&kept), "{kept}");

    let provider = Scripted::new(Script::FlakyFirst(0));
    let factory = ScriptedModels {
        candidate: provider.clone(),
        judge: None,
    };
    let found = store
        .latest_unfinished("c")
        .await
        .expect("query")
        .expect("unfinished");
    let (run, prepared, only) = runner::reopen(&p, found, None, &store)
        .await
        .expect("reopen");
    let (_tx, rx) = no_stop();
    let run = runner::execute(
        &p, run, prepared, &only, &options, &store, &factory, &Quiet, rx,
    )
    .await
    .expect("execute");
    assert_eq!(run.status, RunStatus::Finished);
    assert_eq!(
        provider.calls.load(Ordering::SeqCst) as usize,
        10 - kept,
        "only the rest"
    );
    assert_eq!(
        store.records(&run.id, None).await.expect("records").len(),
        10
    );

    // A changed configuration cannot be resumed into the same run.
    let mut changed = p.clone();
    if let Some(c) = changed.components.get_mut("c") {
        c.max_tokens = 3;
    }
    let mut again = run.clone();
    again.status = RunStatus::Interrupted;
    let err = runner::reopen(&changed, again, None, &store)
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("different configuration"), "{err}");
}

#[tokio::test]
async fn the_judge_scores_by_position_and_its_cost_is_counted() {
    let dir = tempfile::tempdir().expect("dir");
    let judge_model = r#"
[models.judge]
provider = "openai-compatible"
base_url = "http://localhost:2/v1"
model = "j"
price = { input = 10.0, output = 10.0 }
"#;
    let mut p = project(dir.path(), judge_model);
    let c = p.components.get_mut("c").expect("component");
    c.metrics = vec!["judge".into(), "accuracy".into()];
    c.judge = Some(rightfit_config::project::Judge {
        model: "judge".into(),
        rubric: "The right label.".into(),
        max_tokens: 4,
    });
    let store = SqliteStore::open_in_memory().await.expect("store");
    let judge = Scripted::new(Script::JudgeOne);
    let factory = ScriptedModels {
        candidate: Scripted::new(Script::FlakyFirst(0)),
        judge: Some(judge.clone()),
    };
    let (_tx, rx) = no_stop();
    let run = eval(&p, &store, &factory, rx).await;
    let records = store.records(&run.id, None).await.expect("records");
    assert_eq!(judge.calls.load(Ordering::SeqCst), 10);
    let mut firsts = 0;
    for r in &records {
        // The judge always says "1": the candidate wins exactly when it was shown first.
        let score = r.scores["judge"];
        assert!(score == 0.0 || score == 1.0);
        firsts += usize::from(score == 1.0);
        assert_eq!(r.score, Some(score), "judge is the primary metric");
        assert_eq!(r.calls, 2);
        // Candidate 0.00012 + judge (100 + 10 tokens at $10/M) 0.0011.
        assert!(
            (r.cost_usd.expect("priced") - 0.00122).abs() < 1e-12,
            "{:?}",
            r.cost_usd
        );
    }
    assert!(firsts > 0 && firsts < 10, "order is mixed: {firsts}");
}
