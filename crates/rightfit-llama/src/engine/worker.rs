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

use llama_cpp_2::DecodeError;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::token::LlamaToken;
use rightfit_types::{ChatRequest, FinishReason, Prompt, StreamEvent, Timings, Usage};

use super::backend::backend;
use super::loglik::LoglikJob;
use super::memory::ProcessMemory;
use super::sampling::{Constraint, TokenPicker};
use super::template::ChatFormat;
use super::text::TextAssembler;
use super::{EngineError, EngineOptions, EngineStats, EventSender, Job, ModelInfo};
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
    let model = match LlamaModel::load_from_file(backend, path, &LlamaModelParams::default()) {
        Ok(m) => m,
        Err(e) => {
            let _ = ready.send(Err(load_err(format!(
                "{e} (run with RIGHTFIT_LOG=debug for llama.cpp's reasons)"
            ))));
            return;
        }
    };
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
        .with_n_seq_max(options.parallel)
        // A micro-batch of one token runs on `n_threads`: with more than one thread, flash attention
        // over 512+ cells splits the cells between threads and merges partial sums, rounding
        // differently from the same row computed in a larger batch. One thread makes it one chunk.
        .with_n_threads(if options.batch_invariant { 1 } else { threads })
        .with_n_threads_batch(threads)
        .with_kv_unified(true)
        // Keep every position of sliding-window layers so that any cached prefix can be reused.
        .with_swa_full(true);
    let ctx = match model.new_context(backend, params) {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(load_err(format!(
                "cannot create a context of {n_ctx} tokens × {} sequences: {e}",
                options.parallel
            ))));
            return;
        }
    };
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
    worker.serve(&jobs);
}

/// One llama.cpp sequence id and what its KV cache holds.
#[derive(Debug, Default)]
pub(super) struct Slot {
    /// Tokens in the KV cache for this sequence, positions 0..len.
    pub(super) cached: Vec<LlamaToken>,
    pub(super) last_used: u64,
    seq: Option<Seq>,
}

#[derive(Debug)]
enum Phase {
    /// Waiting for another slot's prompt to reach `upto` tokens, then copying them.
    Waiting { src: usize, upto: usize },
    /// Computing the prompt from `cached.len()` onwards.
    Prompt,
    /// `next` was sampled and goes into the next batch.
    Generating { next: LlamaToken },
}

#[derive(Debug)]
struct Seq {
    request: u64,
    choice: u32,
    prompt: Arc<Vec<LlamaToken>>,
    phase: Phase,
    picker: TokenPicker,
    text: TextAssembler,
    generated: u32,
    max_tokens: u32,
    /// Batch position of this sequence's logits in the step being decoded.
    logits_at: Option<i32>,
}

/// A generation request whose prompt is tokenised, waiting for free slots.
struct Prepared {
    tokens: Arc<Vec<LlamaToken>>,
    request: Box<ChatRequest>,
    constraint: Constraint,
    events: EventSender,
    enqueued: Instant,
}

enum Waiting {
    Generate(Prepared),
    Loglik(LoglikJob),
}

/// Book-keeping for a request across its choices.
struct RequestState {
    events: EventSender,
    remaining: u32,
    enqueued: Instant,
    admitted: Instant,
    first_token: Option<Instant>,
    usage: Usage,
    evaluated: u32,
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
    pub(super) options: EngineOptions,
    format: ChatFormat,
    pub(super) info: ModelInfo,
    pub(super) slots: Vec<Slot>,
    waiting: VecDeque<Waiting>,
    requests: std::collections::HashMap<u64, RequestState>,
    next_id: u64,
    pub(super) clock: u64,
    pub(super) batch: LlamaBatch<'static>,
    pub(super) stats: EngineStats,
}

pub(super) fn lcp(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

fn seq_id(slot: usize) -> i32 {
    i32::try_from(slot).unwrap_or(i32::MAX)
}

fn pos(p: usize) -> u32 {
    u32::try_from(p).unwrap_or(u32::MAX)
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
        let stats = EngineStats {
            model_bytes: info.model_bytes,
            context_bytes: info.context_rss_bytes,
            ..EngineStats::default()
        };
        Self {
            model,
            ctx,
            embed_ctx: None,
            options,
            format,
            info,
            slots,
            waiting: VecDeque::new(),
            requests: std::collections::HashMap::new(),
            next_id: 0,
            clock: 0,
            batch,
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
            } => match self.prepare(request, events.clone(), enqueued) {
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

    fn prepare(
        &mut self,
        request: Box<ChatRequest>,
        events: EventSender,
        enqueued: Instant,
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
        let text = match &request.prompt {
            Prompt::Messages(messages) => {
                self.format
                    .render(self.model, messages, request.chat_template.as_deref())?
            }
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
        let constraint = Constraint::from_format(&request.response_format)?;
        // Compile once now so that a bad grammar fails the request before it takes a slot.
        TokenPicker::new(self.model, &request.sampling, &constraint, 0)?;
        Ok(Prepared {
            tokens: Arc::new(tokens),
            request,
            constraint,
            events,
            enqueued,
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
                generated: 0,
                max_tokens,
                logits_at: None,
            });
        }
        self.requests.insert(id, state);
    }

    /// Picks a free slot for `prompt` and puts the longest cached prefix in place.
    pub(super) fn claim(&mut self, prompt: &[LlamaToken], allow_wait: bool) -> (usize, Start) {
        self.clock += 1;
        let cap = prompt.len().saturating_sub(1);
        let reuse = self.options.prefix_cache;
        let mut best: Option<(usize, usize)> = None; // (len, slot)
        let mut future: Option<(usize, usize)> = None;
        for (i, s) in self.slots.iter().enumerate() {
            if !reuse {
                break;
            }
            let l = lcp(&s.cached, prompt).min(cap);
            if l > 0
                && best.is_none_or(|(b, bs)| {
                    l > b || (l == b && s.seq.is_none() && self.slots[bs].seq.is_some())
                })
            {
                best = Some((l, i));
            }
            if let Some(seq) = &s.seq
                && allow_wait
                && matches!(seq.phase, Phase::Prompt | Phase::Waiting { .. })
            {
                let l = lcp(&seq.prompt, prompt).min(cap);
                if l > 0 && future.is_none_or(|(f, _)| l > f) {
                    future = Some((l, i));
                }
            }
        }
        let target = match best {
            Some((_, s)) if self.slots[s].seq.is_none() => s,
            _ => self.lru_free_slot(),
        };
        self.slots[target].last_used = self.clock;
        let best_len = best.map_or(0, |(l, _)| l);
        if let Some((upto, src)) = future
            && upto > best_len
        {
            self.forget(target);
            return (target, Start::Wait { src, upto });
        }
        let reused = match best {
            Some((l, s)) if s == target => self.truncate(target, l),
            Some((l, s)) => {
                self.forget(target);
                self.share(s, target, l);
                l
            }
            None => {
                self.forget(target);
                0
            }
        };
        (target, Start::Ready(reused))
    }

    fn lru_free_slot(&self) -> usize {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.seq.is_none())
            .min_by_key(|(_, s)| (s.last_used, s.cached.len()))
            .map_or(0, |(i, _)| i)
    }

    /// Empties a slot's cache.
    pub(super) fn forget(&mut self, slot: usize) {
        let _ = self.ctx.clear_kv_cache_seq(Some(pos(slot)), None, None);
        self.slots[slot].cached.clear();
    }

    /// Keeps the first `len` cached tokens of a slot; returns how many are kept.
    pub(super) fn truncate(&mut self, slot: usize, len: usize) -> usize {
        if self.slots[slot].cached.len() <= len {
            return self.slots[slot].cached.len();
        }
        match self
            .ctx
            .clear_kv_cache_seq(Some(pos(slot)), Some(pos(len)), None)
        {
            Ok(true) => {
                self.slots[slot].cached.truncate(len);
                len
            }
            _ => {
                self.forget(slot);
                0
            }
        }
    }

    /// Makes the first `len` cached tokens of `src` part of `dst`'s sequence (dst must be empty).
    pub(super) fn share(&mut self, src: usize, dst: usize, len: usize) {
        if len == 0 {
            return;
        }
        let _ = self
            .ctx
            .copy_kv_cache_seq(seq_id(src), seq_id(dst), Some(0), Some(pos(len)));
        let prefix = self.slots[src].cached[..len].to_vec();
        self.slots[dst].cached = prefix;
    }

    /// Starts sequences whose wait is over.
    fn resolve_waits(&mut self) {
        for i in 0..self.slots.len() {
            let Some(Seq {
                phase: Phase::Waiting { src, upto },
                prompt,
                ..
            }) = &self.slots[i].seq
            else {
                continue;
            };
            let (src, upto, prompt) = (*src, *upto, prompt.clone());
            // Only a sequence that is computing its prompt right now is worth waiting for; one that
            // is itself waiting might be waiting for us.
            let src_computing = self.slots[src]
                .seq
                .as_ref()
                .is_some_and(|s| matches!(s.phase, Phase::Prompt));
            let have = lcp(&self.slots[src].cached, &prompt).min(prompt.len() - 1);
            if have < upto && src_computing {
                continue;
            }
            self.forget(i);
            self.share(src, i, have);
            self.stats.prompt_tokens_reused += have as u64;
            let seq = self.slots[i].seq.as_mut().map(|s| {
                s.phase = Phase::Prompt;
                (s.request, s.choice)
            });
            if let Some((req, 0)) = seq
                && let Some(r) = self.requests.get_mut(&req)
            {
                r.usage.cached_prompt_tokens = u32::try_from(have).unwrap_or(0);
            }
        }
    }

    /// One decode: a token for each generating sequence, then prompt tokens while room remains.
    fn step(&mut self) {
        self.resolve_waits();
        loop {
            let planned = self.fill_batch();
            if planned.is_empty() {
                return;
            }
            tracing::trace!(?planned, "decode (slot, tokens)");
            match self.ctx.decode(&mut self.batch) {
                Ok(()) => {
                    self.stats.decode_calls += 1;
                    self.commit(&planned);
                    self.sample_all();
                    return;
                }
                Err(DecodeError::NoKvCacheSlot) => {
                    if !self.make_room() {
                        return;
                    }
                }
                Err(e) => {
                    let msg = e.to_string();
                    for (slot, _) in planned {
                        self.fail_slot(slot, EngineError::Decode(msg.clone()));
                    }
                    return;
                }
            }
        }
    }

    /// Fills the batch; returns (slot, tokens added) for each sequence in it.
    fn fill_batch(&mut self) -> Vec<(usize, usize)> {
        self.batch.clear();
        let capacity = self.ctx.n_batch() as usize;
        let mut planned = Vec::new();
        let mut used = 0usize;
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if let Some(seq) = slot.seq.as_mut() {
                seq.logits_at = None;
                if let Phase::Generating { next } = seq.phase
                    && used < capacity
                    && self
                        .batch
                        .add(next, slot.cached.len() as i32, &[seq_id(i)], true)
                        .is_ok()
                {
                    seq.logits_at = Some(used as i32);
                    used += 1;
                    planned.push((i, 1));
                }
            }
        }
        for (i, slot) in self.slots.iter_mut().enumerate() {
            let Some(seq) = slot.seq.as_mut() else {
                continue;
            };
            if !matches!(seq.phase, Phase::Prompt) {
                continue;
            }
            let from = slot.cached.len();
            let take = (seq.prompt.len() - from).min(capacity - used);
            for k in 0..take {
                let p = from + k;
                let last = p + 1 == seq.prompt.len();
                if self
                    .batch
                    .add(seq.prompt[p], p as i32, &[seq_id(i)], last)
                    .is_err()
                {
                    break;
                }
                if last {
                    seq.logits_at = Some(used as i32);
                }
                used += 1;
            }
            if take > 0 {
                planned.push((i, take));
            }
            if used >= capacity {
                break;
            }
        }
        planned
    }

    /// Records the tokens a successful decode put into each slot's cache.
    fn commit(&mut self, planned: &[(usize, usize)]) {
        for &(i, n) in planned {
            let slot = &mut self.slots[i];
            let Some(seq) = slot.seq.as_ref() else {
                continue;
            };
            match seq.phase {
                Phase::Generating { next } => slot.cached.push(next),
                _ => {
                    let from = slot.cached.len();
                    slot.cached.extend_from_slice(&seq.prompt[from..from + n]);
                    self.stats.prompt_tokens_evaluated += n as u64;
                    if let Some(r) = self.requests.get_mut(&seq.request) {
                        r.evaluated += u32::try_from(n).unwrap_or(0);
                    }
                }
            }
        }
    }

    fn sample_all(&mut self) {
        let now = Instant::now();
        let model = self.model;
        let vocab = model.vocab();
        let mut finished = Vec::new();
        let mut cancelled = Vec::new();
        for i in 0..self.slots.len() {
            let n_ctx = self.ctx.n_ctx() as usize;
            let cached_len = self.slots[i].cached.len();
            let Some(seq) = self.slots[i].seq.as_mut() else {
                continue;
            };
            let Some(at) = seq.logits_at.take() else {
                continue;
            };
            let token = seq.picker.pick(&self.ctx, at);
            let Some(req) = self.requests.get_mut(&seq.request) else {
                continue;
            };
            req.first_token.get_or_insert(now);
            if vocab.is_eog(token) {
                finished.push((i, FinishReason::Stop));
                continue;
            }
            seq.generated += 1;
            req.usage.completion_tokens += 1;
            self.stats.generated_tokens += 1;
            let (text, stopped) = seq.text.push(&vocab.token_to_piece(token, false, None));
            if !text.is_empty()
                && req
                    .events
                    .send(Ok(StreamEvent::Delta {
                        index: seq.choice,
                        text,
                    }))
                    .is_err()
            {
                cancelled.push(seq.request);
                continue;
            }
            if stopped {
                finished.push((i, FinishReason::Stop));
            } else if seq.generated >= seq.max_tokens || cached_len + 1 >= n_ctx {
                finished.push((i, FinishReason::Length));
            } else {
                seq.phase = Phase::Generating { next: token };
            }
        }
        for (slot, reason) in finished {
            self.finish_slot(slot, reason);
        }
        for request in cancelled {
            self.cancel(request);
        }
    }

    fn finish_slot(&mut self, slot: usize, reason: FinishReason) {
        let Some(mut seq) = self.slots[slot].seq.take() else {
            return;
        };
        self.slots[slot].last_used = self.clock;
        let Some(req) = self.requests.get_mut(&seq.request) else {
            return;
        };
        let rest = seq.text.finish();
        if !rest.is_empty() {
            let _ = req.events.send(Ok(StreamEvent::Delta {
                index: seq.choice,
                text: rest,
            }));
        }
        let _ = req.events.send(Ok(StreamEvent::Finish {
            index: seq.choice,
            reason,
        }));
        req.remaining -= 1;
        if req.remaining == 0 {
            let now = Instant::now();
            let ms = |t: Instant| t.duration_since(req.enqueued).as_secs_f64() * 1000.0;
            let timings = Timings {
                queue_ms: ms(req.admitted),
                ttft_ms: ms(req.first_token.unwrap_or(now)),
                total_ms: ms(now),
                prompt_tokens_evaluated: req.evaluated,
                generated_tokens: req.usage.completion_tokens,
            };
            let _ = req.events.send(Ok(StreamEvent::Done {
                usage: req.usage,
                timings,
            }));
            self.requests.remove(&seq.request);
            self.stats.requests += 1;
        }
    }

    /// Ends a sequence with an error (and the rest of its request).
    fn fail_slot(&mut self, slot: usize, error: EngineError) {
        let Some(seq) = self.slots[slot].seq.as_ref() else {
            return;
        };
        let request = seq.request;
        if let Some(req) = self.requests.get(&request) {
            let _ = req.events.send(Err(error));
        }
        self.cancel(request);
    }

    /// Drops every sequence of a request (its receiver is gone, or it failed).
    fn cancel(&mut self, request: u64) {
        for i in 0..self.slots.len() {
            if self.slots[i]
                .seq
                .as_ref()
                .is_some_and(|s| s.request == request)
            {
                self.slots[i].seq = None;
            }
        }
        if self.requests.remove(&request).is_some() {
            self.stats.requests += 1;
        }
    }

    /// Frees KV cells after a failed decode: idle caches first, then the newest sequence.
    /// Returns false when nothing could be freed.
    fn make_room(&mut self) -> bool {
        let idle: Vec<usize> = (0..self.slots.len())
            .filter(|&i| self.slots[i].seq.is_none() && !self.slots[i].cached.is_empty())
            .collect();
        if !idle.is_empty() {
            for i in idle {
                self.forget(i);
            }
            return true;
        }
        let newest = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.seq.as_ref().map(|q| (q.request, i)))
            .max();
        let Some((_, slot)) = newest else {
            return false;
        };
        let n_ctx = self.ctx.n_ctx();
        self.fail_slot(
            slot,
            EngineError::ContextFull(format!(
                "the {n_ctx}-token KV cache cannot hold all concurrent sequences; \
                 lower concurrency or raise the context size"
            )),
        );
        let _ = self.ctx.clear_kv_cache_seq(Some(pos(slot)), None, None);
        self.slots[slot].cached.clear();
        true
    }
}
