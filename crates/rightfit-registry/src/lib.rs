//! The one place models are built: a model's configuration in, an `Arc<dyn Provider>` out.
//!
//! Every caller that needs a model — the evaluator (`rightfit-eval`), the gateway
//! (`rightfit-gateway`) and the CLI's `chat`, `embed`, `bench-model` and `config check` — asks a
//! [`ModelRegistry`], through the [`ProviderFactory`] trait where it only needs providers. A new
//! kind of model (a trained student, a LoRA adapter on a base) is taught here once.
//!
//! Local models are shared: one loaded engine per file and engine settings, however many model
//! entries or callers name it. The registry keeps only weak references, so an engine is freed
//! when its last provider is dropped (the evaluator relies on that to measure each candidate's
//! memory on its own).
//!
//! Talks to: `rightfit-config` (model configuration, settings), `rightfit-llama` (the engine and
//! the models directory) and `rightfit-providers` (hosted APIs and the trait).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use rightfit_config::Settings;
use rightfit_config::project::{ModelConfig, Project, ProviderConfig};
use rightfit_llama::catalog;
use rightfit_llama::engine::LoraAdapter;
use rightfit_llama::gguf::shape::shape_of;
use rightfit_llama::models::{ModelStore, ModelStoreError, ResolvedModel};
use rightfit_llama::{Engine, EngineOptions, LocalProvider, WeakEngine};
use rightfit_providers::{HostedProvider, Provider};
use rightfit_students::{ClassifierProvider, EmbedderOptions, SentenceEmbedder};
use rightfit_types::device::ModelShape;

/// Builds the provider for a model on demand (loading a local model is slow, so callers build
/// only the models they call).
#[async_trait::async_trait]
pub trait ProviderFactory: Send + Sync {
    /// The provider for `model`.
    async fn provider(&self, model: &ModelConfig) -> Result<Arc<dyn Provider>, BuildError>;
}

/// Why a model could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A model entry of a project could not be built: `models.NAME: why`.
    #[error("models.{model}: {detail}")]
    Model {
        /// The entry's name.
        model: String,
        /// Why, as the layer below said it.
        detail: String,
    },
    /// A local model file named directly could not be found or loaded.
    #[error("{0}")]
    Local(String),
    /// A hosted model's settings cannot make a client (a missing key, a bad URL).
    #[error("{0}")]
    Hosted(String),
    /// The thread that loads a model died (a bug).
    #[error("loading task failed: {0}")]
    Task(String),
}

/// What a local model is loaded with, beyond the registry's defaults (its thread count, the
/// catalogue's chat template).
pub type Tune<'a> = &'a (dyn Fn(&mut EngineOptions) + Send + Sync);

/// A local model as loaded: the name it resolved to, and the (possibly shared) engine.
#[derive(Debug, Clone)]
pub struct LoadedEngine {
    /// The catalogue name, the added name, or a file's stem.
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// The engine; clones share it.
    pub engine: Engine,
}

/// Builds every kind of model; shares loaded engines.
#[derive(Debug)]
pub struct ModelRegistry {
    files: ModelStore,
    threads: usize,
    prefix_cache: bool,
    engines: Mutex<HashMap<String, WeakEngine>>,
    embedders: Mutex<HashMap<(PathBuf, String), SentenceEmbedder>>,
}

/// One hosted model's online check ([`ModelRegistry::check_hosted`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnlineCheck {
    /// The model entry's name.
    pub model: String,
    /// What the check said: the provider's detail, or `unavailable: ...`, or `failed: ...`.
    pub detail: String,
    /// `models.NAME: why` when the model cannot take requests.
    pub problem: Option<String>,
}

/// What a model's answers rest on, for a student's provenance and the check that a student is
/// served on what it was trained with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelIdentity {
    /// The file or directory of a local model; the provider and model id of a hosted one.
    pub source: String,
    /// SHA-256 of a local model's weights (the GGUF file, or a sentence-embedding model's
    /// `model.safetensors`); `None` for hosted models.
    pub sha256: Option<String>,
}

impl ModelRegistry {
    /// A registry that finds models in the settings' models directory and runs them on the
    /// settings' threads.
    pub fn new(settings: &Settings) -> Self {
        Self {
            files: ModelStore::new(settings.models_dir()),
            threads: settings.threads,
            prefix_cache: true,
            engines: Mutex::new(HashMap::new()),
            embedders: Mutex::new(HashMap::new()),
        }
    }

    /// Turns the engine's prompt-prefix reuse off for every local model it loads (the
    /// evaluation benchmark's baseline).
    pub fn without_prefix_cache(mut self) -> Self {
        self.prefix_cache = false;
        self
    }

    /// The models directory it reads.
    pub fn files(&self) -> &ModelStore {
        &self.files
    }

    /// A local model named by catalogue name, added name or path, with the engine options
    /// `tune` sets on top of the defaults; an engine already loaded with the same file and
    /// options is shared.
    pub async fn load(&self, spec: &str, tune: Tune<'_>) -> Result<LoadedEngine, BuildError> {
        let resolved = self
            .files
            .resolve(spec)
            .map_err(|e| BuildError::Local(e.to_string()))?;
        let options = self.options(&resolved, tune);
        let engine = self.engine(&resolved, options).await?;
        Ok(LoadedEngine {
            name: resolved.name,
            path: resolved.path,
            engine,
        })
    }

    /// A hosted or OpenAI-compatible model's client (no connection is made).
    pub fn hosted(model: &ModelConfig) -> Result<HostedProvider, BuildError> {
        HostedProvider::from_config(model).map_err(BuildError::Hosted)
    }

    /// What `model`'s answers rest on: for a local model its file (or directory) and the
    /// SHA-256 of its weights, read now; for a hosted model its id.
    pub fn identity(&self, model: &ModelConfig) -> Result<ModelIdentity, BuildError> {
        let in_entry = |detail: String| BuildError::Model {
            model: model.name.clone(),
            detail,
        };
        match &model.provider {
            ProviderConfig::Local {
                model: file,
                adapter,
                ..
            } => {
                let resolved = self
                    .files
                    .resolve(file)
                    .map_err(|e| in_entry(e.to_string()))?;
                let weights = if resolved.path.is_dir() {
                    resolved.path.join("model.safetensors")
                } else {
                    resolved.path.clone()
                };
                let sha = |path: &std::path::Path| {
                    rightfit_students::file_sha256(path).map_err(|e| in_entry(e.to_string()))
                };
                let mut source = resolved.path.display().to_string();
                let mut sha256 = sha(&weights)?;
                // An adapter changes every answer: it is part of what they rest on.
                if let Some(adapter) = resolved.adapter.as_ref().or(adapter.as_ref()) {
                    source = format!("{source} + adapter {}", adapter.display());
                    sha256 = format!("{sha256}+{}", sha(adapter)?);
                }
                Ok(ModelIdentity {
                    source,
                    sha256: Some(sha256),
                })
            }
            ProviderConfig::Classifier { artefact, .. } => Ok(ModelIdentity {
                source: artefact.display().to_string(),
                sha256: None,
            }),
            ProviderConfig::Openai { model: id, .. }
            | ProviderConfig::Anthropic { model: id, .. }
            | ProviderConfig::Gemini { model: id, .. }
            | ProviderConfig::OpenaiCompatible { model: id, .. } => Ok(ModelIdentity {
                source: format!("{} {id}", model.provider.kind()),
                sha256: None,
            }),
        }
    }

    /// What a person's `--model` names (for `chat` and `embed`), built: an entry of `project`
    /// (read from `file`) when one is given, else a hosted model spelt `provider:id` or by a known
    /// name (with `base_url` and the key in `api_key_env`), else a local model by catalogue name,
    /// added name or path, loaded with `tune`. A project's entry is built as eval and serve build
    /// it (adapters, students and the entry's own engine settings included), so all three answer
    /// alike.
    pub async fn named(
        &self,
        spec: &str,
        project: Option<(&Path, &Project)>,
        base_url: Option<&str>,
        api_key_env: Option<&str>,
        tune: Tune<'_>,
    ) -> Result<Arc<dyn Provider>, BuildError> {
        let configured = match project {
            Some((file, p)) => Some(
                p.model(spec)
                    .map_err(|e| BuildError::Local(format!("{}: {e}", file.display())))?
                    .clone(),
            ),
            None => ModelConfig::from_spec(spec, base_url, api_key_env)
                .map_err(|e| BuildError::Hosted(e.to_string()))?,
        };
        match configured {
            Some(model) => self.provider(&model).await,
            None => self.local_file(spec, tune).await,
        }
    }

    /// A local model file (catalogue name, added name or path) as a provider: [`Self::load`],
    /// answered through the engine.
    pub async fn local_file(
        &self,
        spec: &str,
        tune: Tune<'_>,
    ) -> Result<Arc<dyn Provider>, BuildError> {
        let loaded = self.load(spec, tune).await?;
        Ok(Arc::new(LocalProvider::new(loaded.name, loaded.engine)))
    }

    /// A local model file by catalogue name, added name or path, and its shape, for the
    /// estimates of `devices` and `recommend`: read from the GGUF header; for a catalogue model
    /// not downloaded yet whose entry gives its shape, the catalogue's figures (the returned
    /// path, where the file would be, does not exist then).
    pub fn shape(&self, spec: &str) -> Result<(ResolvedModel, ModelShape), BuildError> {
        let resolved = match self.files.resolve(spec) {
            Ok(resolved) => resolved,
            Err(e @ ModelStoreError::NotPulled { .. }) => {
                let entry = catalog::find(spec);
                let Some((entry, shape)) = entry.and_then(|e| Some((e, e.shape()?))) else {
                    return Err(BuildError::Local(e.to_string()));
                };
                let resolved = ResolvedModel {
                    name: entry.name.to_owned(),
                    path: self.files.path_of(entry),
                    entry: Some(entry),
                    adapter: None,
                };
                return Ok((resolved, shape));
            }
            Err(e) => return Err(BuildError::Local(e.to_string())),
        };
        let shape = shape_of(&resolved.path).map_err(|e| BuildError::Local(e.to_string()))?;
        Ok((resolved, shape))
    }

    /// Calls every hosted model of `project` at once (a cheap, free request each: the model list
    /// or the model's metadata): what each said, and the problem when it is not usable. A model
    /// whose client cannot be made (a missing key) is left out: the project's readiness reports
    /// it. `None` when the project has no hosted model.
    pub async fn check_hosted(project: &Project) -> Option<Vec<OnlineCheck>> {
        let hosted: Vec<_> = project
            .models
            .values()
            .filter(|m| !matches!(m.provider, ProviderConfig::Local { .. }))
            .collect();
        if hosted.is_empty() {
            return None;
        }
        let checks = hosted.into_iter().map(|m| async move {
            let provider = Self::hosted(m).ok()?;
            let (detail, problem) = match provider.health().await {
                Ok(h) if h.ready => (h.detail, None),
                Ok(h) => (format!("unavailable: {}", h.detail), Some(h.detail)),
                Err(e) => (format!("failed: {e}"), Some(e.to_string())),
            };
            Some(OnlineCheck {
                model: m.name.clone(),
                detail,
                problem: problem.map(|p| format!("models.{}: {p}", m.name)),
            })
        });
        let done = futures::future::join_all(checks).await;
        Some(done.into_iter().flatten().collect())
    }

    /// How many loaded engines are alive (shared ones count once).
    pub fn engines_alive(&self) -> usize {
        let engines = self.engines.lock().unwrap_or_else(PoisonError::into_inner);
        engines.values().filter(|w| w.upgrade().is_some()).count()
    }

    fn options(&self, resolved: &ResolvedModel, tune: Tune<'_>) -> EngineOptions {
        let mut options = EngineOptions {
            threads: self.threads,
            prefix_cache: self.prefix_cache,
            chat_template: resolved
                .entry
                .and_then(|e| e.chat_template)
                .map(str::to_owned),
            ..EngineOptions::default()
        };
        tune(&mut options);
        if !self.prefix_cache {
            options.prefix_cache = false;
        }
        // An added adapter (`models add --base`) answers as its base with the adapter on.
        if let Some(adapter) = &resolved.adapter
            && options.adapters.is_empty()
        {
            options.adapters = vec![LoraAdapter {
                path: adapter.clone(),
                scale: 1.0,
            }];
        }
        options
    }

    /// The shared engine for a file and options, loaded now if none is alive. A load failure
    /// is [`BuildError::Local`] with the engine's message.
    async fn engine(
        &self,
        resolved: &ResolvedModel,
        options: EngineOptions,
    ) -> Result<Engine, BuildError> {
        let path = std::fs::canonicalize(&resolved.path).unwrap_or_else(|_| resolved.path.clone());
        let key = format!("{}\u{0}{options:?}", path.display());
        if let Some(engine) = self.alive(&key) {
            return Ok(engine);
        }
        restart_peak_rss();
        let engine = tokio::task::spawn_blocking(move || Engine::load(&path, options))
            .await
            .map_err(|e| BuildError::Task(e.to_string()))?
            .map_err(|e| BuildError::Local(e.to_string()))?;
        let mut engines = self.engines.lock().unwrap_or_else(PoisonError::into_inner);
        // Two callers may have loaded the same engine at once: keep the first, drop the other.
        if let Some(first) = engines.get(&key).and_then(WeakEngine::upgrade) {
            return Ok(first);
        }
        engines.retain(|_, w| w.upgrade().is_some());
        engines.insert(key, engine.downgrade());
        Ok(engine)
    }

    fn alive(&self, key: &str) -> Option<Engine> {
        let engines = self.engines.lock().unwrap_or_else(PoisonError::into_inner);
        engines.get(key).and_then(WeakEngine::upgrade)
    }

    /// A project's local model entry.
    async fn local(
        &self,
        model: &ModelConfig,
        file: &str,
        tune: Tune<'_>,
    ) -> Result<Arc<dyn Provider>, BuildError> {
        let in_entry = |detail: String| BuildError::Model {
            model: model.name.clone(),
            detail,
        };
        let resolved = self
            .files
            .resolve(file)
            .map_err(|e| in_entry(e.to_string()))?;
        if resolved.path.is_dir() {
            return self.sentence_embedder(model, &resolved.path).await;
        }
        if resolved.adapter.is_some()
            && let ProviderConfig::Local {
                adapter: Some(_), ..
            } = &model.provider
        {
            return Err(in_entry(format!(
                "'{file}' is an added adapter and the entry sets another `adapter`: keep one"
            )));
        }
        let options = self.options(&resolved, tune);
        let engine = self.engine(&resolved, options).await.map_err(|e| match e {
            BuildError::Local(detail) => in_entry(detail),
            other => other,
        })?;
        Ok(Arc::new(LocalProvider::new(model.name.clone(), engine)))
    }

    /// A sentence-transformers model directory (all-MiniLM-L6-v2), run in candle; one per
    /// directory and entry name.
    async fn sentence_embedder(
        &self,
        model: &ModelConfig,
        dir: &std::path::Path,
    ) -> Result<Arc<dyn Provider>, BuildError> {
        let key = (dir.to_owned(), model.name.clone());
        let cached = {
            let embedders = self
                .embedders
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            embedders.get(&key).cloned()
        };
        if let Some(e) = cached {
            return Ok(Arc::new(e));
        }
        let options = EmbedderOptions {
            threads: self.threads.max(1),
            ..EmbedderOptions::default()
        };
        let (path, name) = key.clone();
        restart_peak_rss();
        let embedder =
            tokio::task::spawn_blocking(move || SentenceEmbedder::load(name, &path, options))
                .await
                .map_err(|e| BuildError::Task(e.to_string()))?
                .map_err(|e| BuildError::Model {
                    model: model.name.clone(),
                    detail: e.to_string(),
                })?;
        let mut embedders = self
            .embedders
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let kept = embedders.entry(key).or_insert(embedder).clone();
        Ok(Arc::new(kept))
    }

    /// A classifier student: its artefact, read and checked, over its embedding model, which
    /// must be the one it was trained on (name, dimensions, and weights for a local model).
    async fn classifier(
        &self,
        model: &ModelConfig,
        artefact: &std::path::Path,
        embedder: &ModelConfig,
    ) -> Result<Arc<dyn Provider>, BuildError> {
        let in_entry = |detail: String| BuildError::Model {
            model: model.name.clone(),
            detail,
        };
        if !artefact.join("manifest.json").exists() {
            return Err(in_entry(format!(
                "{}: no trained classifier here — train it with 'rightfit distill'",
                artefact.display()
            )));
        }
        let dir = artefact.to_owned();
        let read = tokio::task::spawn_blocking(move || rightfit_students::artefact::load(&dir))
            .await
            .map_err(|e| BuildError::Task(e.to_string()))?
            .map_err(|e| in_entry(e.to_string()))?;
        let embeddings = Box::pin(self.provider(embedder)).await?;
        let identity = self.identity(embedder)?;
        let probe = embeddings
            .embed(rightfit_types::EmbeddingRequest {
                model: String::new(),
                inputs: vec!["dimensions".to_owned()],
                normalize: read.manifest.embedder.normalize,
            })
            .await
            .map_err(|e| in_entry(format!("its embedder '{}': {e}", embedder.name)))?;
        let dims = probe.embeddings.first().map_or(0, Vec::len);
        let sha = identity
            .sha256
            .as_deref()
            .filter(|_| !read.manifest.embedder.sha256.is_empty());
        read.check_embedder(&embedder.name, sha, dims)
            .map_err(|e| in_entry(e.to_string()))?;
        Ok(Arc::new(ClassifierProvider::new(
            model.name.clone(),
            Arc::new(read.classifier),
            embeddings,
            read.manifest.embedder.normalize,
        )))
    }
}

/// Starts the process's peak-RSS counter afresh (Linux), so that the peak a model reports after
/// it is loaded is its own and not that of a larger model used and dropped before it.
fn restart_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

#[async_trait::async_trait]
impl ProviderFactory for ModelRegistry {
    async fn provider(&self, model: &ModelConfig) -> Result<Arc<dyn Provider>, BuildError> {
        match &model.provider {
            ProviderConfig::Local {
                model: file,
                context_size,
                parallel,
                chat_template,
                batch_invariant,
                prefix_cache,
                adapter,
            } => {
                if let Some(path) = adapter
                    && !path.exists()
                {
                    return Err(BuildError::Model {
                        model: model.name.clone(),
                        detail: format!(
                            "{}: no such adapter file — a student's is made by 'rightfit distill'",
                            path.display()
                        ),
                    });
                }
                let parallel = parallel.unwrap_or(model.concurrency) as u32;
                let tune = |o: &mut EngineOptions| {
                    o.context_size = context_size.unwrap_or(0);
                    o.parallel = parallel;
                    o.prefix_cache = o.prefix_cache && *prefix_cache;
                    o.batch_invariant = *batch_invariant;
                    if let Some(t) = chat_template {
                        o.chat_template = Some(t.clone());
                    }
                    if let Some(path) = adapter {
                        o.adapters = vec![LoraAdapter {
                            path: path.clone(),
                            scale: 1.0,
                        }];
                    }
                };
                self.local(model, file, &tune).await
            }
            ProviderConfig::Classifier { artefact, embedder } => {
                self.classifier(model, artefact, embedder).await
            }
            _ => Ok(Arc::new(Self::hosted(model)?)),
        }
    }
}
