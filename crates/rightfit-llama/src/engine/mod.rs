//! The embedded llama.cpp engine.
//!
//! [`Engine::load`] starts one worker thread that owns the model and its context; every request
//! travels to it over a channel, and generated text streams back over another. The worker decodes
//! all active sequences together in one batch per step (requests that arrive together share each
//! decode), reuses the KV cache of prompt prefixes it has already computed (few-shot examples are
//! computed once per run, not once per example), scores fixed continuations by log-likelihood,
//! constrains output with grammars, and computes pooled embeddings in a second context created on
//! first use. Async callers never block: they await channel messages.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, mpsc};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Instant;

use rightfit_types::{
    ChatRequest, EmbeddingRequest, EmbeddingResponse, LoglikelihoodRequest, LoglikelihoodResponse,
    StreamEvent,
};
use tokio::sync::{mpsc as tmpsc, oneshot};

use crate::gguf::{self, GgufError};

mod backend;
mod decode;

mod embed;
mod loglik;
mod lora;
mod memory;
mod sampling;
mod slots;

mod template;
mod text;
mod worker;

pub use backend::builtin_templates;
pub use lora::{LoraAdapter, check_adapter};
pub use memory::{ProcessMemory, proc_kb_field};

/// How to run a model.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineOptions {
    /// KV-cache cells shared by all sequences (0: the model's training context, at most 8192).
    pub context_size: u32,
    /// Most sequences decoded together.
    pub parallel: u32,
    /// Most tokens per decode call.
    pub batch_size: u32,
    /// CPU threads.
    pub threads: usize,
    /// Built-in chat template for a model whose file embeds none (`gemma`, `chatml`, ...).
    pub chat_template: Option<String>,
    /// Reuse the KV cache of prompt prefixes computed before.
    pub prefix_cache: bool,
    /// Token capacity of the embedding context (created on the first embedding request).
    pub embedding_context: u32,
    /// Make each sequence's output independent of what else is decoded with it, at a cost in
    /// prompt speed (see `docs/engine.md`). Off by default.
    pub batch_invariant: bool,
    /// LoRA adapters applied to every context (at most one for now). An engine with an adapter
    /// is a different model: its KV cache and prefix cache are its own.
    pub adapters: Vec<LoraAdapter>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            context_size: 0,
            parallel: 8,
            batch_size: 512,
            threads: std::thread::available_parallelism().map_or(1, usize::from),
            chat_template: None,
            prefix_cache: true,
            embedding_context: 2048,
            batch_invariant: false,
            adapters: Vec::new(),
        }
    }
}

/// What went wrong in the engine.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    /// The file is not a usable model.
    #[error("{0}")]
    Model(String),
    /// llama.cpp refused the model or context.
    #[error("{path}: llama.cpp could not load the model: {detail}")]
    Load {
        /// The file.
        path: PathBuf,
        /// What failed.
        detail: String,
    },
    /// A LoRA adapter file cannot be applied to this model.
    #[error("{path}: LoRA adapter: {detail}")]
    Adapter {
        /// The adapter file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// The request cannot be served as asked.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// No chat template could render the conversation.
    #[error("chat template: {0}")]
    Template(String),
    /// A grammar or JSON Schema could not be compiled.
    #[error("grammar: {0}")]
    Grammar(String),
    /// The KV cache could not hold the work.
    #[error("context full: {0}")]
    ContextFull(String),
    /// llama.cpp failed during decoding.
    #[error("decode failed: {0}")]
    Decode(String),
    /// The engine stopped before answering.
    #[error("the engine has stopped")]
    Stopped,
}

impl From<GgufError> for EngineError {
    fn from(e: GgufError) -> Self {
        EngineError::Model(e.to_string())
    }
}

/// Facts about the loaded model and engine.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    /// File path.
    pub path: PathBuf,
    /// `general.name`, or the file stem.
    pub name: String,
    /// `general.architecture`.
    pub architecture: String,
    /// Parameters.
    pub parameters: u64,
    /// Bytes of weights.
    pub model_bytes: u64,
    /// Training context length.
    pub context_train: u32,
    /// Vocabulary size.
    pub vocab_size: u32,
    /// Embedding width.
    pub embedding_size: u32,
    /// Whether the file embeds a chat template.
    pub has_chat_template: bool,
    /// KV cells of the generation context.
    pub context_size: u32,
    /// Sequences decoded together.
    pub parallel: u32,
    /// Threads.
    pub threads: usize,
    /// Process memory growth while the model loaded (bytes).
    pub load_rss_bytes: u64,
    /// Process memory growth while the generation context was created (KV cache and buffers).
    pub context_rss_bytes: u64,
}

/// Counters and memory of a running engine.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct EngineStats {
    /// Generation requests completed (including failed and cancelled ones).
    pub requests: u64,
    /// Prompt tokens computed.
    pub prompt_tokens_evaluated: u64,
    /// Prompt tokens reused from the KV cache.
    pub prompt_tokens_reused: u64,
    /// Tokens generated.
    pub generated_tokens: u64,
    /// Decode calls.
    pub decode_calls: u64,
    /// Process memory now and at peak.
    pub memory: ProcessMemory,
    /// Bytes of weights.
    pub model_bytes: u64,
    /// Memory growth when the generation context was created.
    pub context_bytes: u64,
    /// Memory growth when the embedding context was created (0 until first used).
    pub embedding_context_bytes: u64,
}

pub(crate) type EventSender = tmpsc::UnboundedSender<Result<StreamEvent, EngineError>>;

pub(crate) enum Job {
    Generate {
        request: Box<ChatRequest>,
        events: EventSender,
        enqueued: Instant,
        /// Send text as it is generated (else once per choice, when it ends).
        stream: bool,
    },
    Loglikelihood {
        request: LoglikelihoodRequest,
        reply: oneshot::Sender<Result<LoglikelihoodResponse, EngineError>>,
    },
    Embed {
        request: EmbeddingRequest,
        reply: oneshot::Sender<Result<EmbeddingResponse, EngineError>>,
    },
    Tokenize {
        text: String,
        reply: oneshot::Sender<Vec<u32>>,
    },
    Stats {
        reply: oneshot::Sender<EngineStats>,
    },
}

struct Inner {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    info: ModelInfo,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel ends the worker loop once in-flight work is abandoned.
        self.jobs.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A handle to a loaded model. Clones share the same worker; the last one to drop stops it.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("model", &self.inner.info.name)
            .finish()
    }
}

impl Engine {
    /// Loads a GGUF model and starts its worker thread. Blocks until the model is loaded.
    pub fn load(path: &Path, options: EngineOptions) -> Result<Engine, EngineError> {
        // Check the file ourselves first: llama.cpp's own errors for a bad file are terse, and
        // some corruptions are better caught before C code reads them.
        let header = gguf::read_header(path)?;
        if options.parallel == 0 || options.batch_size == 0 || options.threads == 0 {
            return Err(EngineError::InvalidRequest(
                "parallel, batch size and threads must each be at least 1".to_owned(),
            ));
        }
        let (job_tx, job_rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        let path = path.to_owned();
        let thread = std::thread::Builder::new()
            .name("rightfit-llama".to_owned())
            .spawn(move || worker::run(&path, &header, &options, job_rx, ready_tx))
            .map_err(|e| EngineError::Load {
                path: PathBuf::new(),
                detail: e.to_string(),
            })?;
        match ready_rx.recv() {
            Ok(Ok(info)) => Ok(Engine {
                inner: Arc::new(Inner {
                    jobs: Some(job_tx),
                    thread: Some(thread),
                    info,
                }),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(EngineError::Stopped)
            }
        }
    }

    /// Facts about the model.
    pub fn info(&self) -> &ModelInfo {
        &self.inner.info
    }

    fn send(&self, job: Job) -> Result<(), EngineError> {
        self.inner
            .jobs
            .as_ref()
            .ok_or(EngineError::Stopped)?
            .send(job)
            .map_err(|_| EngineError::Stopped)
    }

    /// Starts generating. Events arrive on the returned stream; dropping it cancels the request.
    pub fn generate(&self, request: ChatRequest) -> Result<Generation, EngineError> {
        self.submit(request, true)
    }

    /// Like [`Engine::generate`], but each choice's text arrives in one event when the choice
    /// ends. For callers that want the whole answer: the worker sends no per-token messages, so
    /// no consumer thread wakes (and takes a core from llama.cpp) on every token.
    pub fn generate_whole(&self, request: ChatRequest) -> Result<Generation, EngineError> {
        self.submit(request, false)
    }

    fn submit(&self, request: ChatRequest, stream: bool) -> Result<Generation, EngineError> {
        let (tx, rx) = tmpsc::unbounded_channel();
        self.send(Job::Generate {
            request: Box::new(request),
            events: tx,
            enqueued: Instant::now(),
            stream,
        })?;
        Ok(Generation { rx })
    }

    /// Scores fixed continuations of a context.
    pub async fn loglikelihood(
        &self,
        request: LoglikelihoodRequest,
    ) -> Result<LoglikelihoodResponse, EngineError> {
        let (tx, rx) = oneshot::channel();
        self.send(Job::Loglikelihood { request, reply: tx })?;
        rx.await.map_err(|_| EngineError::Stopped)?
    }

    /// Embeds texts (mean-pooled hidden states).
    pub async fn embed(&self, request: EmbeddingRequest) -> Result<EmbeddingResponse, EngineError> {
        let (tx, rx) = oneshot::channel();
        self.send(Job::Embed { request, reply: tx })?;
        rx.await.map_err(|_| EngineError::Stopped)?
    }

    /// How many tokens `text` takes as a prompt (with BOS when the model adds one).
    pub async fn count_tokens(&self, text: &str) -> Result<usize, EngineError> {
        Ok(self.tokenize(text).await?.len())
    }

    /// The token ids of `text` as a prompt, exactly as generation and scoring tokenise it
    /// (special tokens parsed, BOS added when the model wants one).
    pub async fn tokenize(&self, text: &str) -> Result<Vec<u32>, EngineError> {
        let (tx, rx) = oneshot::channel();
        self.send(Job::Tokenize {
            text: text.to_owned(),
            reply: tx,
        })?;
        rx.await.map_err(|_| EngineError::Stopped)
    }

    /// Counters and memory.
    pub async fn stats(&self) -> Result<EngineStats, EngineError> {
        let (tx, rx) = oneshot::channel();
        self.send(Job::Stats { reply: tx })?;
        rx.await.map_err(|_| EngineError::Stopped)
    }
}

/// The events of one generation request. Dropping it cancels the request.
#[derive(Debug)]
pub struct Generation {
    rx: tmpsc::UnboundedReceiver<Result<StreamEvent, EngineError>>,
}

impl Generation {
    /// The next event; `None` after the last.
    pub async fn next_event(&mut self) -> Option<Result<StreamEvent, EngineError>> {
        self.rx.recv().await
    }

    /// The next event, blocking the current thread (not for use inside an async runtime).
    pub fn blocking_next(&mut self) -> Option<Result<StreamEvent, EngineError>> {
        self.rx.blocking_recv()
    }
}

impl futures::Stream for Generation {
    type Item = Result<StreamEvent, EngineError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}
