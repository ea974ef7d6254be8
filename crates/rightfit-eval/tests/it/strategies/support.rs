//! Scripted models that log every call, a label project and a runner for the strategy tests.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rightfit_config::project::{ModelConfig, Project};
use rightfit_eval::runner::{self, EvalOptions};
use rightfit_providers::{Capabilities, EventStream, Health, Provider, ProviderError};
use rightfit_registry::{BuildError, ProviderFactory};
use rightfit_store::{RunStore, SqliteStore};
use rightfit_types::progress::Quiet;
use rightfit_types::{
    ChatRequest, ChatResponse, Choice, ContinuationScore, EmbeddingRequest, EmbeddingResponse,
    ExampleRecord, FinishReason, LoglikelihoodRequest, LoglikelihoodResponse, Prompt,
    ResponseFormat, Role, Timings, TokenLogprob, Usage,
};

/// One call a scripted model received.
#[derive(Debug, Clone)]
pub(super) struct Seen {
    pub(super) model: String,
    pub(super) kind: &'static str,
    /// The last user message (chat), the context (log-likelihood), the inputs (embeddings).
    pub(super) text: String,
    pub(super) messages: Vec<(Role, String)>,
    pub(super) seed: Option<u64>,
    pub(super) temperature: Option<f32>,
    pub(super) stop: Vec<String>,
    pub(super) format: Option<ResponseFormat>,
    /// Token log-probabilities asked for (chat).
    pub(super) logprobs: Option<u32>,
}

pub(super) type Reply = Box<dyn Fn(&Seen) -> Result<String, String> + Send + Sync>;
/// The tokens of an answer with their log-probabilities, reported when a call asks for them.
pub(super) type Tokens = Box<dyn Fn(&str) -> Vec<(String, f64)> + Send + Sync>;
/// The log-probability of a continuation given a context.
pub(super) type Scores = Box<dyn Fn(&str, &str) -> f64 + Send + Sync>;

/// A model whose answers come from a function of the call; every call is logged.
pub(super) struct Model {
    name: String,
    reply: Reply,
    log: Arc<Mutex<Vec<Seen>>>,
    /// Log-likelihood: the log-probability of each continuation given the context.
    ll: Option<Scores>,
    tokens: Option<Tokens>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

/// A toy embedding: letter counts of a..z (unit length).
pub(super) fn letters(text: &str) -> Vec<f32> {
    let mut v = [0f32; 26];
    for c in text.to_lowercase().chars().filter(char::is_ascii_lowercase) {
        v[(c as u8 - b'a') as usize] += 1.0;
    }
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-9);
    v.iter().map(|x| x / n).collect()
}

#[async_trait]
impl Provider for Model {
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
    async fn complete(&self, r: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let Prompt::Messages(m) = &r.prompt else {
            panic!("chat prompts only")
        };
        let seen = Seen {
            model: self.name.clone(),
            kind: "chat",
            text: m.last().map(|m| m.content.clone()).unwrap_or_default(),
            messages: m.iter().map(|m| (m.role, m.content.clone())).collect(),
            seed: r.sampling.seed,
            temperature: r.sampling.temperature,
            stop: r.stop.clone(),
            format: Some(r.response_format.clone()),
            logprobs: r.logprobs,
        };
        self.log.lock().expect("log").push(seen.clone());
        let text = (self.reply)(&seen).map_err(|detail| ProviderError::InvalidRequest {
            provider: self.name.clone(),
            detail,
        })?;
        let logprobs = match (&self.tokens, r.logprobs) {
            (Some(tokens), Some(_)) => Some(
                tokens(&text)
                    .into_iter()
                    .map(|(token, logprob)| TokenLogprob {
                        token,
                        logprob,
                        top: Vec::new(),
                    })
                    .collect(),
            ),
            _ => None,
        };
        Ok(ChatResponse {
            id: "r".into(),
            model: self.name.clone(),
            choices: vec![Choice {
                tool_calls: Vec::new(),
                index: 0,
                text,
                finish_reason: FinishReason::Stop,
                logprobs,
            }],
            usage: Usage {
                prompt_tokens: 100,
                completion_tokens: 10,
                cached_prompt_tokens: 0,
            },
            timings: Timings {
                queue_ms: 0.0,
                ttft_ms: 5.0,
                total_ms: 50.0 + seen.seed.unwrap_or(0) as f64,
                prompt_tokens_evaluated: 100,
                generated_tokens: 10,
            },
        })
    }
    async fn loglikelihood(
        &self,
        r: LoglikelihoodRequest,
    ) -> Result<LoglikelihoodResponse, ProviderError> {
        let ll = self.ll.as_ref().expect("a log-likelihood script");
        self.log.lock().expect("log").push(Seen {
            model: self.name.clone(),
            kind: "loglikelihood",
            text: r.context.clone(),
            messages: Vec::new(),
            seed: None,
            temperature: None,
            stop: Vec::new(),
            format: None,
            logprobs: None,
        });
        Ok(LoglikelihoodResponse {
            model: self.name.clone(),
            scores: r
                .continuations
                .iter()
                .map(|c| ContinuationScore {
                    logprob: ll(&r.context, c),
                    tokens: 1,
                    is_greedy: false,
                })
                .collect(),
            context_tokens: 20,
        })
    }
    async fn embed(&self, r: EmbeddingRequest) -> Result<EmbeddingResponse, ProviderError> {
        self.log.lock().expect("log").push(Seen {
            model: self.name.clone(),
            kind: "embed",
            text: r.inputs.join(" | "),
            messages: Vec::new(),
            seed: None,
            temperature: None,
            stop: Vec::new(),
            format: None,
            logprobs: None,
        });
        Ok(EmbeddingResponse {
            model: self.name.clone(),
            embeddings: r.inputs.iter().map(|t| letters(t)).collect(),
            prompt_tokens: 4 * r.inputs.len() as u32,
        })
    }
    async fn health(&self) -> Result<Health, ProviderError> {
        Ok(Health {
            ready: true,
            detail: "scripted".into(),
        })
    }
}

#[derive(Default)]
pub(super) struct Models {
    pub(super) models: BTreeMap<String, Arc<Model>>,
    pub(super) log: Arc<Mutex<Vec<Seen>>>,
}

impl Models {
    fn add(mut self, name: &str, reply: Reply, ll: Option<Scores>, tokens: Option<Tokens>) -> Self {
        let log = self.log.clone();
        let name = name.to_owned();
        let model = Model {
            name: name.clone(),
            reply,
            log,
            ll,
            tokens,
        };
        self.models.insert(name, Arc::new(model));
        self
    }

    pub(super) fn chat(
        self,
        name: &str,
        reply: impl Fn(&Seen) -> Result<String, String> + Send + Sync + 'static,
    ) -> Self {
        self.add(name, Box::new(reply), None, None)
    }

    /// A chat model that reports its answers' tokens, `tokens(answer)`, when asked.
    pub(super) fn chat_with_tokens(
        self,
        name: &str,
        reply: impl Fn(&Seen) -> Result<String, String> + Send + Sync + 'static,
        tokens: impl Fn(&str) -> Vec<(String, f64)> + Send + Sync + 'static,
    ) -> Self {
        self.add(name, Box::new(reply), None, Some(Box::new(tokens)))
    }

    pub(super) fn scorer(
        self,
        name: &str,
        ll: impl Fn(&str, &str) -> f64 + Send + Sync + 'static,
    ) -> Self {
        self.add(
            name,
            Box::new(|_| Err("no chat".into())),
            Some(Box::new(ll)),
            None,
        )
    }

    pub(super) fn calls(&self) -> Vec<Seen> {
        self.log.lock().expect("log").clone()
    }
}

#[async_trait]
impl ProviderFactory for Models {
    async fn provider(&self, model: &ModelConfig) -> Result<Arc<dyn Provider>, BuildError> {
        self.models
            .get(&model.name)
            .map(|m| m.clone() as Arc<dyn Provider>)
            .ok_or_else(|| BuildError::Model {
                model: model.name.clone(),
                detail: "no scripted model".to_owned(),
            })
    }
}

/// Models `small`, `large`, `critic` (hosted-style, priced) and `local` (in-process, for
/// log-likelihoods); a label component over `rows` (text, label), with `candidates` appended.
pub(super) fn project(dir: &Path, rows: &[(&str, &str)], extra: &str, candidates: &str) -> Project {
    let mut data = String::new();
    for (i, (text, label)) in rows.iter().enumerate() {
        data.push_str(&format!(
            "{{\"id\": \"e{}\", \"text\": \"{text}\", \"label\": \"{label}\"}}\n",
            i + 1
        ));
    }
    std::fs::write(dir.join("d.jsonl"), data).expect("write data");
    let mut models = String::new();
    for m in ["small", "large", "critic"] {
        models.push_str(&format!(
            "[models.{m}]\nprovider = \"openai-compatible\"\nbase_url = \"http://localhost:1/v1\"\nmodel = \"{m}\"\nprice = {{ input = 1.0, output = 2.0 }}\n\n"
        ));
    }
    let text = format!(
        r#"{models}
[models.local]
provider = "local"
model = "/nonexistent/scripted.gguf"

[components.c]
system = "Label it yes or no."
prompt = "{{{{ text }}}}"
dataset = {{ path = "d.jsonl", id = "id" }}
reference = "label"
output = {{ type = "label", labels = ["yes", "no"] }}
{extra}
{candidates}
"#
    );
    Project::parse(&dir.join("rightfit.toml"), &text).expect("valid project")
}

/// The records of a run of component `c` of `p` against `models`, by (candidate, example).
pub(crate) async fn run(
    p: &Project,
    models: &dyn ProviderFactory,
) -> BTreeMap<(String, String), ExampleRecord> {
    let store = SqliteStore::open_in_memory().await.expect("store");
    let options = EvalOptions {
        cache: false,
        ..EvalOptions::default()
    };
    let (info, prepared) = runner::start(p, "c", &options, &store)
        .await
        .expect("start");
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let info = runner::execute(p, info, prepared, &[], &options, &store, models, &Quiet, rx)
        .await
        .expect("execute");
    store
        .records(&info.id, None)
        .await
        .expect("records")
        .into_iter()
        .map(|r| ((r.candidate.clone(), r.example_id.clone()), r))
        .collect()
}

pub(crate) fn get<'a>(
    records: &'a BTreeMap<(String, String), ExampleRecord>,
    candidate: &str,
    example: &str,
) -> &'a ExampleRecord {
    records
        .get(&(candidate.to_owned(), example.to_owned()))
        .unwrap_or_else(|| panic!("no record {candidate} {example}: {:?}", records.keys()))
}
