//! The embedded llama.cpp engine.
//!
//! [`Engine::load`] starts one worker thread that owns the model and its context; every request
//! travels to it over a channel, and generated text streams back over another. The worker decodes
//! all active sequences together in one batch per step (requests that arrive together share each
//! decode), reuses the KV cache of prompt prefixes it has already computed (few-shot examples are
//! computed once per run, not once per example), scores fixed continuations by log-likelihood,
//! constrains output with grammars, answers
//! tool calls (the tools rendered through the chat template, calls constrained by a grammar and
//! read back from the text; see `tools`), and computes pooled embeddings in a second context created on
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

use crate::gguf;

mod backend;
mod decode;
mod embed;
mod error;
mod info;
mod job;
mod loglik;
mod logprobs;
mod lora;
mod memory;
mod options;
mod queue;
mod sampling;
mod slots;
mod template;
mod text;
mod tools;
mod worker;

pub use backend::builtin_templates;
pub use error::EngineError;
pub use info::{EngineStats, ModelInfo, TrainingTokens};
pub use lora::{LoraAdapter, check_adapter};
pub use memory::{ProcessMemory, proc_kb_field};
pub use options::EngineOptions;

pub(crate) use backend::backend as shared_backend;
pub(crate) use template::ChatFormat;

use job::Job;

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

/// A reference to a loaded engine that does not keep it loaded: it upgrades to the [`Engine`]
/// while some clone of it is alive. The model registry keeps these, so that models configured
/// alike share one loaded engine and an unused one is freed.
#[derive(Clone)]
pub struct WeakEngine {
    inner: std::sync::Weak<Inner>,
}

impl std::fmt::Debug for WeakEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WeakEngine")
            .field("alive", &(self.inner.strong_count() > 0))
            .finish()
    }
}

impl WeakEngine {
    /// The engine, if it is still loaded.
    pub fn upgrade(&self) -> Option<Engine> {
        self.inner.upgrade().map(|inner| Engine { inner })
    }
}

impl Engine {
    /// A reference that does not keep the engine loaded.
    pub fn downgrade(&self) -> WeakEngine {
        WeakEngine {
            inner: Arc::downgrade(&self.inner),
        }
    }

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
        // llama.cpp keeps an output row per sequence in a batch's outputs, and aborts the
        // process when a batch has room for fewer.
        if options.parallel > options.batch_size || options.parallel > 256 {
            return Err(EngineError::InvalidRequest(format!(
                "parallel = {} sequences; llama.cpp decodes at most 256 at once and at most one \
                 per batch token (batch size {})",
                options.parallel, options.batch_size
            )));
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

    /// The tokens of one answered turn for fine-tuning: see [`TrainingTokens`]. `template`
    /// overrides the chat template as a request's `chat_template` does.
    pub async fn training_tokens(
        &self,
        messages: Vec<rightfit_types::Message>,
        answer: &str,
        template: Option<String>,
    ) -> Result<TrainingTokens, EngineError> {
        let (tx, rx) = oneshot::channel();
        self.send(Job::TrainingTokens {
            messages,
            answer: answer.to_owned(),
            template,
            reply: tx,
        })?;
        rx.await.map_err(|_| EngineError::Stopped)?
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
