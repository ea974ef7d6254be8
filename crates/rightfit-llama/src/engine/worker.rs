//! The engine thread: owns the model and context, schedules sequences, decodes in batches.
//!
//! Each *slot* is one llama.cpp sequence id. A slot remembers which tokens its KV cache holds
//! (`cached`), even after its request finished, so that a later prompt sharing a prefix can reuse
//! those cells (`seq_cp` into a unified KV cache shares cells rather than copying them). A
//! sequence whose prompt shares a prefix with one still being computed waits for it instead of
//! computing the same tokens twice. Every step decodes one token for each generating sequence plus
//! as many prompt tokens as the batch has room for.

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::path::Path;
use std::sync::{Arc, mpsc};
use std::time::Instant;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::token::LlamaToken;
use rightfit_types::{ChatRequest, Prompt, Usage};

use super::backend::backend;
use super::error::EngineError;
use super::info::{EngineStats, ModelInfo, TrainingTokens};
use super::job::{EventSender, Job};
use super::logprobs::{LogprobTrack, MAX_TOP_LOGPROBS};
use super::memory::ProcessMemory;
use super::options::EngineOptions;
use super::queue::{Prepared, Waiting};
use super::sampling::{Constraint, TokenPicker};
use super::template::ChatFormat;
use super::text::TextAssembler;
use super::tools::ToolPlan;
use super::tools::output::CallReader;
use crate::gguf::GgufHeader;

/// Largest default context: enough for few-shot prompts, small enough for small machines.
const DEFAULT_MAX_CONTEXT: u32 = 8192;

/// `GGML_FA_TILE_Q` in the llama.cpp that `llama-cpp-sys-2` 0.1.161 vendors (ggml-cpu/common.h).
const FA_TILE_Q: u32 = 64;

/// Loads the model, reports readiness, then serves jobs until every engine handle is gone.
pub(super) fn run(
    path: &Path,
    header: &GgufHeader,
    options: &EngineOptions,
    jobs: mpsc::Receiver<Job>,
    ready: mpsc::Sender<Result<ModelInfo, EngineError>>,
) {
    let load_err = |detail: String| EngineError::Load {
        path: path.to_owned(),
        detail,
    };
    let backend = match backend() {
        Ok(b) => b,
        Err(e) => {
            let _ = ready.send(Err(load_err(e)));
            return;
        }
    };
    let before = ProcessMemory::now();
    let mut model = match LlamaModel::load_from_file(backend, path, &LlamaModelParams::default()) {
        Ok(m) => m,
        Err(e) => {
            let _ = ready.send(Err(load_err(format!(
                "{e} (run with RIGHTFIT_LOG=debug for llama.cpp's reasons)"
            ))));
            return;
        }
    };
    let mut adapters = match super::lora::load_adapters(&mut model, header, &options.adapters) {
        Ok(a) => a,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let model = model;
    let loaded = ProcessMemory::now();
    let train = model.n_ctx_train();
    let n_ctx = if options.context_size == 0 {
        train.min(DEFAULT_MAX_CONTEXT)
    } else {
        options.context_size
    };
    let threads = i32::try_from(options.threads).unwrap_or(i32::MAX);
    let batch = options.batch_size.min(n_ctx.max(1));
    // llama.cpp's CPU flash attention switches to a tiled kernel, with its own rounding, once a
    // micro-batch holds FA_TILE_Q queries; which kernel a sequence's rows go through then depends
    // on what else shares the batch. Batch-invariant mode keeps micro-batches below that size.
    let ubatch = if options.batch_invariant {
        batch.min(FA_TILE_Q - 1)
    } else {
        batch
    };
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n_ctx.max(16)))
        .with_n_batch(batch)
        .with_n_ubatch(ubatch)
        // Sequence ids after the generation slots are log-likelihood scoring's (see loglik.rs).
        .with_n_seq_max(
            options.parallel + super::options::scoring_lanes(options.parallel, batch).len() as u32,
        )
        // A micro-batch of one token runs on `n_threads`: with more than one thread, flash attention
        // over 512+ cells splits the cells between threads and merges partial sums, rounding
        // differently from the same row computed in a larger batch. One thread makes it one chunk.
        .with_n_threads(if options.batch_invariant { 1 } else { threads })
        .with_n_threads_batch(threads)
        .with_kv_unified(true)
        // Keep every position of sliding-window layers so that any cached prefix can be reused.
        .with_swa_full(true);
    let mut ctx = match model.new_context(backend, params) {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(load_err(format!(
                "cannot create a context of {n_ctx} tokens × {} sequences: {e}",
                options.parallel
            ))));
            return;
        }
    };
    if let Err(e) = super::lora::apply(&mut ctx, &mut adapters) {
        let _ = ready.send(Err(e));
        return;
    }
    let created = ProcessMemory::now();
    let embedded = model
        .chat_template(None)
        .ok()
        .and_then(|t| t.to_string().ok());
    let vocab = model.vocab();
    let piece =
        |t: LlamaToken| String::from_utf8_lossy(&vocab.token_to_piece(t, true, None)).into_owned();
    let format = ChatFormat {
        embedded: embedded.clone(),
        fallback: options.chat_template.clone(),
        bos: piece(vocab.bos()),
        eos: piece(vocab.eos()),
    };
    let info = ModelInfo {
        path: path.to_owned(),
        name: header.name().map_or_else(
            || {
                path.file_stem()
                    .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
            },
            str::to_owned,
        ),
        architecture: header.architecture().unwrap_or("unknown").to_owned(),
        parameters: model.n_params(),
        model_bytes: model.size(),
        context_train: train,
        vocab_size: u32::try_from(model.n_vocab()).unwrap_or(0),
        embedding_size: u32::try_from(model.n_embd()).unwrap_or(0),
        has_chat_template: embedded.is_some(),
        context_size: ctx.n_ctx(),
        parallel: options.parallel,
        threads: options.threads,
        load_rss_bytes: loaded.rss_bytes.saturating_sub(before.rss_bytes),
        context_rss_bytes: created.rss_bytes.saturating_sub(loaded.rss_bytes),
    };
    if ready.send(Ok(info.clone())).is_err() {
        return;
    }
    let mut worker = Worker::new(&model, ctx, options.clone(), format, info);
    worker.adapters = adapters;
    worker.serve(&jobs);
}

/// One llama.cpp sequence id and what its KV cache holds.
#[derive(Debug, Default)]
pub(super) struct Slot {
    /// Tokens in the KV cache for this sequence, positions 0..len.
    pub(super) cached: Vec<LlamaToken>,
    pub(super) last_used: u64,
    pub(super) seq: Option<Seq>,
}

#[derive(Debug)]
pub(super) enum Phase {
    /// Waiting for another slot's prompt to reach `upto` tokens, then copying them.
    Waiting { src: usize, upto: usize },
    /// Computing the prompt from `cached.len()` onwards.
    Prompt,
    /// `next` was sampled and goes into the next batch.
    Generating { next: LlamaToken },
}

#[derive(Debug)]
pub(super) struct Seq {
    pub(super) request: u64,
    pub(super) choice: u32,
    pub(super) prompt: Arc<Vec<LlamaToken>>,
    pub(super) phase: Phase,
    pub(super) picker: TokenPicker,
    pub(super) text: TextAssembler,
    /// Text released but not yet sent (requests that want the whole answer).
    pub(super) held: String,
    pub(super) generated: u32,
    pub(super) max_tokens: u32,
    pub(super) ignore_eos: bool,
    /// Batch position of this sequence's logits in the step being decoded.
    pub(super) logits_at: Option<i32>,
    /// Log-probabilities of the generated tokens, when the request asked for them.
    pub(super) logprobs: Option<LogprobTrack>,
    /// Reads tool calls out of the text, when the model may call tools.
    pub(super) calls: Option<CallReader>,
}

/// Book-keeping for a request across its choices.
pub(super) struct RequestState {
    pub(super) events: EventSender,
    pub(super) remaining: u32,
    pub(super) enqueued: Instant,
    pub(super) admitted: Instant,
    pub(super) first_token: Option<Instant>,
    pub(super) usage: Usage,
    pub(super) evaluated: u32,
    /// Send text per token (else per choice, at its end).
    pub(super) stream: bool,
}

/// Where a new sequence starts.
pub(super) enum Start {
    /// This many prompt tokens are already in the slot's cache.
    Ready(usize),
    /// Wait for slot `src` to compute `upto` prompt tokens, then share them.
    Wait { src: usize, upto: usize },
}

pub(super) struct Worker<'m> {
    pub(super) model: &'m LlamaModel,
    pub(super) ctx: LlamaContext<'m>,
    pub(super) embed_ctx: Option<LlamaContext<'m>>,
    /// LoRA adapters set on every context (owned by the model, which frees them).
    pub(super) adapters: Vec<(llama_cpp_2::model::LlamaLoraAdapter, f32)>,
    pub(super) options: EngineOptions,
    pub(super) format: ChatFormat,
    pub(super) info: ModelInfo,
    pub(super) slots: Vec<Slot>,
    pub(super) waiting: VecDeque<Waiting>,
    pub(super) requests: std::collections::HashMap<u64, RequestState>,
    pub(super) next_id: u64,
    pub(super) clock: u64,
    pub(super) batch: LlamaBatch<'static>,
    /// Sequence ids that scoring decodes continuations on, and its batch (a token may belong
    /// to all of them).
    pub(super) scoring_lanes: Vec<i32>,
    pub(super) score_batch: LlamaBatch<'static>,
    pub(super) stats: EngineStats,
    /// Tokens that spell tool-call markup by themselves, rendered in tool requests' text.
    pub(super) markup_tokens: Vec<LlamaToken>,
}

impl<'m> Worker<'m> {
    fn new(
        model: &'m LlamaModel,
        ctx: LlamaContext<'m>,
        options: EngineOptions,
        format: ChatFormat,
        info: ModelInfo,
    ) -> Self {
        let slots = (0..options.parallel).map(|_| Slot::default()).collect();
        let batch = LlamaBatch::new(ctx.n_batch() as usize, 1);
        let scoring_lanes = super::options::scoring_lanes(options.parallel, ctx.n_batch());
        let score_batch = LlamaBatch::new(
            ctx.n_batch() as usize,
            i32::try_from(scoring_lanes.len().max(1)).unwrap_or(1),
        );
        let stats = EngineStats {
            model_bytes: info.model_bytes,
            context_bytes: info.context_rss_bytes,
            ..EngineStats::default()
        };
        let markup_tokens = super::tools::grammar::markup_tokens(model);
        Self {
            markup_tokens,
            model,
            ctx,
            embed_ctx: None,
            adapters: Vec::new(),
            options,
            format,
            info,
            slots,
            waiting: VecDeque::new(),
            requests: std::collections::HashMap::new(),
            next_id: 0,
            clock: 0,
            batch,
            scoring_lanes,
            score_batch,
            stats,
        }
    }

    fn serve(&mut self, jobs: &mpsc::Receiver<Job>) {
        let mut open = true;
        loop {
            let busy = !self.waiting.is_empty() || self.slots.iter().any(|s| s.seq.is_some());
            if !busy {
                if !open {
                    return;
                }
                match jobs.recv() {
                    Ok(job) => self.accept(job),
                    Err(_) => return,
                }
            }
            while open {
                match jobs.try_recv() {
                    Ok(job) => self.accept(job),
                    Err(mpsc::TryRecvError::Empty) => break,
                    Err(mpsc::TryRecvError::Disconnected) => open = false,
                }
            }
            self.admit();
            if self.slots.iter().any(|s| s.seq.is_some()) {
                self.step();
            }
        }
    }

    fn accept(&mut self, job: Job) {
        match job {
            Job::Generate {
                request,
                events,
                enqueued,
                stream,
            } => match self.prepare(request, events.clone(), enqueued, stream) {
                Ok(p) => self.waiting.push_back(Waiting::Generate(p)),
                Err(e) => {
                    self.stats.requests += 1;
                    let _ = events.send(Err(e));
                }
            },
            Job::Loglikelihood { request, reply } => match self.prepare_loglik(request) {
                Ok(job) => self
                    .waiting
                    .push_back(Waiting::Loglik(job.with_reply(reply))),
                Err(e) => {
                    let _ = reply.send(Err(e));
                }
            },
            Job::Embed { request, reply } => {
                let _ = reply.send(self.embed(&request));
            }
            Job::Tokenize { text, reply } => {
                let ids = self
                    .tokenize(&text)
                    .iter()
                    .map(|t| t.0.unsigned_abs())
                    .collect();
                let _ = reply.send(ids);
            }
            Job::TrainingTokens {
                messages,
                answer,
                template,
                reply,
            } => {
                let _ = reply.send(self.training_tokens(&messages, &answer, template.as_deref()));
            }
            Job::Stats { reply } => {
                self.stats.memory = ProcessMemory::now();
                let _ = reply.send(self.stats);
            }
        }
    }

    /// Tokenises text as a prompt: special tokens are parsed, BOS is added when the model wants
    /// one, and a BOS the template already wrote is not doubled.
    pub(super) fn tokenize(&self, text: &str) -> Vec<LlamaToken> {
        let vocab = self.model.vocab();
        let mut tokens = vocab.tokenize(text.as_bytes(), true, true);
        let bos = vocab.bos();
        if tokens.len() >= 2 && tokens[0] == bos && tokens[1] == bos {
            tokens.remove(0);
        }
        tokens
    }

    fn training_tokens(
        &self,
        messages: &[rightfit_types::Message],
        answer: &str,
        template: Option<&str>,
    ) -> Result<TrainingTokens, EngineError> {
        let (prompt, turn) = self
            .format
            .render_turn(self.model, messages, answer, template)?;
        let to_ids = |t: Vec<LlamaToken>| t.iter().map(|t| t.0.unsigned_abs()).collect();
        let answer = self.model.vocab().tokenize(turn.as_bytes(), false, true);
        Ok(TrainingTokens {
            prompt: to_ids(self.tokenize(&prompt)),
            answer: to_ids(answer),
        })
    }

    fn prepare(
        &mut self,
        request: Box<ChatRequest>,
        events: EventSender,
        enqueued: Instant,
        stream: bool,
    ) -> Result<Prepared, EngineError> {
        let parallel = self.options.parallel;
        if request.n == 0 || request.n > parallel {
            return Err(EngineError::InvalidRequest(format!(
                "n = {} choices; this engine decodes 1 to {parallel} sequences at once (--parallel)",
                request.n
            )));
        }
        if request.max_tokens == Some(0) {
            return Err(EngineError::InvalidRequest(
                "max_tokens must be at least 1".to_owned(),
            ));
        }
        let plan = ToolPlan::new(&request)?;
        let text = match &request.prompt {
            Prompt::Messages(messages) => self.format.render_tools(
                self.model,
                messages,
                request.chat_template.as_deref(),
                &plan.offered,
            )?,
            Prompt::Text(text) => text.clone(),
        };
        let tokens = self.tokenize(&text);
        if tokens.is_empty() {
            return Err(EngineError::InvalidRequest(
                "the prompt is empty".to_owned(),
            ));
        }
        let n_ctx = self.ctx.n_ctx() as usize;
        if tokens.len() >= n_ctx {
            return Err(EngineError::InvalidRequest(format!(
                "the prompt is {} tokens but the context holds {n_ctx}; shorten it or raise the context size",
                tokens.len()
            )));
        }
        if let Some(top) = request.logprobs
            && top > MAX_TOP_LOGPROBS
        {
            return Err(EngineError::InvalidRequest(format!(
                "top_logprobs = {top}; at most {MAX_TOP_LOGPROBS} alternatives per token"
            )));
        }
        let constraint = match plan.constraint {
            Some(tools) => tools,
            None => Constraint::from_format(&request.response_format)?,
        };
        // Compile once now so that a bad grammar fails the request before it takes a slot.
        TokenPicker::new(self.model, &request.sampling, &constraint, 0)?;
        Ok(Prepared {
            tokens: Arc::new(tokens),
            request,
            constraint,
            events,
            enqueued,
            stream,
            callable: plan.callable,
        })
    }

    pub(super) fn is_free(&self, slot: usize) -> bool {
        self.slots[slot].seq.is_none()
    }

    pub(super) fn free_slots(&self) -> usize {
        self.slots.iter().filter(|s| s.seq.is_none()).count()
    }

    fn admit(&mut self) {
        while let Some(front) = self.waiting.front() {
            let ready = match front {
                Waiting::Generate(p) if p.events.is_closed() => {
                    self.waiting.pop_front();
                    self.stats.requests += 1;
                    continue;
                }
                Waiting::Generate(p) => self.free_slots() >= p.request.n as usize,
                Waiting::Loglik(_) => self.free_slots() >= 1,
            };
            if !ready {
                return;
            }
            match self.waiting.pop_front() {
                Some(Waiting::Generate(p)) => self.start(p),
                Some(Waiting::Loglik(job)) => self.run_loglik(job),
                None => return,
            }
        }
    }

    fn start(&mut self, p: Prepared) {
        let id = self.next_id;
        self.next_id += 1;
        let prompt_len = p.tokens.len();
        let n_ctx = self.ctx.n_ctx() as usize;
        let room = u32::try_from(n_ctx - prompt_len).unwrap_or(u32::MAX);
        let max_tokens = p.request.max_tokens.unwrap_or(u32::MAX).min(room);
        let mut state = RequestState {
            events: p.events,
            remaining: p.request.n,
            enqueued: p.enqueued,
            admitted: Instant::now(),
            first_token: None,
            usage: Usage {
                prompt_tokens: u32::try_from(prompt_len).unwrap_or(u32::MAX),
                ..Usage::default()
            },
            evaluated: 0,
            stream: p.stream,
        };
        for choice in 0..p.request.n {
            let picker =
                match TokenPicker::new(self.model, &p.request.sampling, &p.constraint, choice) {
                    Ok(picker) => picker,
                    Err(e) => {
                        let _ = state.events.send(Err(e));
                        self.stats.requests += 1;
                        return;
                    }
                };
            let (slot, start) = self.claim(&p.tokens, true);
            let phase = match start {
                Start::Ready(reused) => {
                    if choice == 0 {
                        state.usage.cached_prompt_tokens = u32::try_from(reused).unwrap_or(0);
                    }
                    self.stats.prompt_tokens_reused += reused as u64;
                    Phase::Prompt
                }
                Start::Wait { src, upto } => Phase::Waiting { src, upto },
            };
            self.slots[slot].seq = Some(Seq {
                request: id,
                choice,
                prompt: p.tokens.clone(),
                phase,
                picker,
                text: TextAssembler::new(&p.request.stop),
                held: String::new(),
                generated: 0,
                max_tokens,
                ignore_eos: p.request.ignore_eos,
                logits_at: None,
                logprobs: p.request.logprobs.map(LogprobTrack::new),
                calls: p.callable.clone().map(CallReader::new),
            });
        }
        self.requests.insert(id, state);
    }
}
