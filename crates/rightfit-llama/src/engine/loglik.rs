//! Log-likelihood of fixed continuations, as evaluation harnesses score multiple-choice answers.
//!
//! The context is computed once (reusing any cached prefix, so a few-shot header shared by every
//! question of a run is computed once per run); each continuation then gets its own sequence that
//! shares the context's KV cells, and all continuations are decoded together with logits at every
//! position. Tokenisation follows lm-evaluation-harness: trailing spaces of the context move to the
//! continuations, and a continuation's tokens are those that `context + continuation` adds after
//! the context's own tokens.

use llama_cpp_2::DecodeError;
use llama_cpp_2::token::LlamaToken;
use rightfit_types::{ContinuationScore, LoglikelihoodRequest, LoglikelihoodResponse};

use super::error::EngineError;
use super::queue::LoglikJob;
use super::sampling::log_prob;
use super::worker::{Start, Worker};

/// Which logits a span of tokens needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Want {
    /// Only after the last token.
    Last,
    /// After every token.
    All,
}

/// Tokens to append to a slot's cache.
pub(super) struct Span<'a> {
    pub(super) slot: usize,
    pub(super) tokens: &'a [LlamaToken],
    pub(super) want: Want,
}

impl Worker<'_> {
    pub(super) fn prepare_loglik(
        &self,
        request: LoglikelihoodRequest,
    ) -> Result<LoglikJob, EngineError> {
        if request.continuations.is_empty() {
            return Err(EngineError::InvalidRequest(
                "no continuations to score".to_owned(),
            ));
        }
        let trimmed = request.context.trim_end_matches(' ');
        let moved = &request.context[trimmed.len()..];
        let context = self.tokenize(trimmed);
        if context.is_empty() {
            return Err(EngineError::InvalidRequest(
                "the context is empty and this model adds no BOS token to start from".to_owned(),
            ));
        }
        let n_ctx = self.ctx.n_ctx() as usize;
        let mut continuations = Vec::with_capacity(request.continuations.len());
        for (i, cont) in request.continuations.iter().enumerate() {
            let whole = self.tokenize(&format!("{trimmed}{moved}{cont}"));
            if whole.len() <= context.len() {
                return Err(EngineError::InvalidRequest(format!(
                    "continuation {i} ({cont:?}) adds no tokens to the context"
                )));
            }
            if whole.len() > n_ctx {
                return Err(EngineError::InvalidRequest(format!(
                    "context plus continuation {i} is {} tokens; the context holds {n_ctx}",
                    whole.len()
                )));
            }
            continuations.push(whole[context.len()..].to_vec());
        }
        Ok(LoglikJob {
            model: self.info.name.clone(),
            context,
            continuations,
            reply: None,
        })
    }

    pub(super) fn run_loglik(&mut self, mut job: LoglikJob) {
        let result = self.loglik(&job);
        if let Some(reply) = job.reply.take() {
            let _ = reply.send(result);
        }
    }

    fn loglik(&mut self, job: &LoglikJob) -> Result<LoglikelihoodResponse, EngineError> {
        let ctx_len = job.context.len();
        let (prefix, start) = self.claim(&job.context, false);
        let reused = match start {
            Start::Ready(n) => n,
            Start::Wait { .. } => 0,
        };
        self.stats.prompt_tokens_reused += reused as u64;
        self.stats.prompt_tokens_evaluated += (ctx_len - reused) as u64;
        let mut first: Vec<f32> = Vec::new();
        let rest = job.context[reused..].to_vec();
        self.evaluate(
            &[Span {
                slot: prefix,
                tokens: &rest,
                want: Want::Last,
            }],
            |_, _, logits| {
                first = logits.to_vec();
            },
        )?;
        let mut scores: Vec<ContinuationScore> = job
            .continuations
            .iter()
            .map(|c| {
                let (lp, greedy) = log_prob(&first, c[0].0 as usize);
                ContinuationScore {
                    logprob: lp,
                    tokens: c.len() as u32,
                    is_greedy: greedy,
                }
            })
            .collect();
        // Other free slots decode continuations side by side; with none, the prefix slot takes
        // them one after another.
        let mut lanes: Vec<usize> = (0..self.slots.len())
            .filter(|&i| i != prefix && self.is_free(i))
            .collect();
        if lanes.is_empty() {
            lanes.push(prefix);
        }
        let pending: Vec<usize> = (0..job.continuations.len())
            .filter(|&i| job.continuations[i].len() > 1)
            .collect();
        for group in pending.chunks(lanes.len()) {
            for (&lane, _) in lanes.iter().zip(group) {
                if lane == prefix {
                    self.truncate(prefix, ctx_len);
                } else {
                    self.forget(lane);
                    self.share(prefix, lane, ctx_len);
                }
            }
            let spans: Vec<Span<'_>> = lanes
                .iter()
                .zip(group)
                .map(|(&lane, &c)| {
                    let toks = &job.continuations[c];
                    Span {
                        slot: lane,
                        tokens: &toks[..toks.len() - 1],
                        want: Want::All,
                    }
                })
                .collect();
            self.stats.prompt_tokens_evaluated +=
                spans.iter().map(|s| s.tokens.len() as u64).sum::<u64>();
            self.evaluate(&spans, |span, j, logits| {
                let c = group[span];
                let (lp, greedy) = log_prob(logits, job.continuations[c][j + 1].0 as usize);
                scores[c].logprob += lp;
                scores[c].is_greedy &= greedy;
            })?;
        }
        self.clock += 1;
        for &lane in &lanes {
            self.slots[lane].last_used = self.clock;
        }
        self.slots[prefix].last_used = self.clock;
        Ok(LoglikelihoodResponse {
            model: job.model.clone(),
            scores,
            context_tokens: u32::try_from(ctx_len).unwrap_or(u32::MAX),
        })
    }

    /// Appends spans of tokens to their slots' caches in as few decodes as the batch allows,
    /// handing each requested row of logits to `on_logits(span, token index, logits)`.
    pub(super) fn evaluate(
        &mut self,
        spans: &[Span<'_>],
        mut on_logits: impl FnMut(usize, usize, &[f32]),
    ) -> Result<(), EngineError> {
        let capacity = self.ctx.n_batch() as usize;
        let mut done = vec![0usize; spans.len()];
        let mut evicted = false;
        loop {
            self.batch.clear();
            let mut marks: Vec<(usize, usize, i32)> = Vec::new();
            let mut added = vec![0usize; spans.len()];
            let mut used = 0usize;
            for (si, span) in spans.iter().enumerate() {
                let base = self.slots[span.slot].cached.len();
                while done[si] + added[si] < span.tokens.len() && used < capacity {
                    let k = done[si] + added[si];
                    let logits = match span.want {
                        Want::All => true,
                        Want::Last => k + 1 == span.tokens.len(),
                    };
                    self.batch
                        .add(
                            span.tokens[k],
                            (base + added[si]) as i32,
                            &[span.slot as i32],
                            logits,
                        )
                        .map_err(|e| EngineError::Decode(e.to_string()))?;
                    if logits {
                        marks.push((si, k, used as i32));
                    }
                    added[si] += 1;
                    used += 1;
                }
            }
            if used == 0 {
                return Ok(());
            }
            match self.ctx.decode(&mut self.batch) {
                Ok(()) => {}
                Err(DecodeError::NoKvCacheSlot) if !evicted => {
                    evicted = true;
                    let keep: Vec<usize> = spans.iter().map(|s| s.slot).collect();
                    for i in 0..self.slots.len() {
                        if self.is_free(i) && !keep.contains(&i) {
                            self.forget(i);
                        }
                    }
                    continue;
                }
                Err(e) => {
                    for span in spans {
                        self.forget(span.slot);
                    }
                    return Err(match e {
                        DecodeError::NoKvCacheSlot => EngineError::ContextFull(format!(
                            "scoring needs more than the {} cells of the KV cache",
                            self.ctx.n_ctx()
                        )),
                        other => EngineError::Decode(other.to_string()),
                    });
                }
            }
            self.stats.decode_calls += 1;
            for (si, span) in spans.iter().enumerate() {
                let from = done[si];
                self.slots[span.slot]
                    .cached
                    .extend_from_slice(&span.tokens[from..from + added[si]]);
                done[si] += added[si];
            }
            for (si, k, at) in marks {
                on_logits(si, k, self.ctx.get_logits_ith(at));
            }
        }
    }
}
