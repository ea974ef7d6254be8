//! Log-likelihood of fixed continuations, as evaluation harnesses score multiple-choice answers.
//!
//! The context is computed once (reusing any cached prefix, so a few-shot header shared by every
//! question of a run is computed once per run); its last logits score every continuation's first
//! token. The continuations' other tokens are then decoded together in as few decodes as the batch
//! allows: each continuation on its own sequence id that shares the context's KV cells, and a run
//! of leading tokens that several continuations share (` card` of ` card_arrival` and
//! ` card_linking`) decoded once, on all their sequence ids — a prefix tree. Each row of logits is
//! normalised once for every continuation it scores. Tokenisation follows lm-evaluation-harness:
//! trailing spaces of the context move to the continuations, and a continuation's tokens are those
//! that `context + continuation` adds after the context's own tokens.

use llama_cpp_2::DecodeError;
use llama_cpp_2::token::LlamaToken;
use rightfit_types::{ContinuationScore, LoglikelihoodRequest, LoglikelihoodResponse};

use super::error::EngineError;
use super::queue::LoglikJob;
use super::sampling::{argmax, log_normaliser};
use super::slots::{pos, seq_id};
use super::worker::{Start, Worker};

/// One row of logits, summarised once: its log-normaliser and most likely token.
struct Row {
    norm: f64,
    argmax: usize,
}

impl Row {
    fn of(logits: &[f32]) -> Self {
        Self {
            norm: log_normaliser(logits),
            argmax: argmax(logits) as usize,
        }
    }

    fn log_prob(&self, logits: &[f32], token: usize) -> f64 {
        f64::from(logits[token]) - self.norm
    }
}

/// A token of the prefix tree of continuations: the `depth`-th token after the first (position
/// `context + depth`), shared by the continuations whose sequence ids are `lanes`; its logits
/// score `next` (continuation, its next token) for each of them.
#[derive(Debug)]
struct Node {
    token: LlamaToken,
    depth: usize,
    lanes: Vec<i32>,
    next: Vec<(usize, usize)>,
}

struct Trie;

impl Trie {
    /// The nodes for continuations `(index, sequence id, tokens)`, parents before children
    /// (breadth first), each continuation's tokens but the last (whose logits score nothing).
    fn build<'a>(continuations: impl Iterator<Item = (usize, i32, &'a [LlamaToken])>) -> Vec<Node> {
        let mut nodes: Vec<Node> = Vec::new();
        let mut index: std::collections::HashMap<(usize, LlamaToken), usize> =
            std::collections::HashMap::new();
        for (c, lane, tokens) in continuations {
            // `parent` 0 is the context; node i is key parent i + 1.
            let mut parent = 0usize;
            for depth in 0..tokens.len() - 1 {
                let id = *index.entry((parent, tokens[depth])).or_insert_with(|| {
                    nodes.push(Node {
                        token: tokens[depth],
                        depth,
                        lanes: Vec::new(),
                        next: Vec::new(),
                    });
                    nodes.len() - 1
                });
                nodes[id].lanes.push(lane);
                nodes[id].next.push((c, tokens[depth + 1].0 as usize));
                parent = id + 1;
            }
        }
        nodes.sort_by_key(|n| n.depth);
        nodes
    }
}

/// Tokens to append to a slot's cache (logits after the last one).
pub(super) struct Span<'a> {
    pub(super) slot: usize,
    pub(super) tokens: &'a [LlamaToken],
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
            }],
            |_, _, logits| {
                first = logits.to_vec();
            },
        )?;
        let head = Row::of(&first);
        let mut scores: Vec<ContinuationScore> = job
            .continuations
            .iter()
            .map(|c| {
                let t = c[0].0 as usize;
                ContinuationScore {
                    logprob: head.log_prob(&first, t),
                    tokens: c.len() as u32,
                    is_greedy: head.argmax == t,
                }
            })
            .collect();
        // The other tokens of every continuation: decoded together, each on its own sequence id
        // that shares the context's KV cells, and a token that several continuations begin with
        // decoded once for all of them. With no scoring sequence ids left (a very parallel
        // engine), the context's own sequence takes the continuations one after another.
        let lanes: Vec<i32> = if self.scoring_lanes.is_empty() {
            vec![seq_id(prefix)]
        } else {
            self.scoring_lanes.clone()
        };
        // In token order, so that continuations sharing leading tokens fall in the same round
        // (more than `lanes` continuations take several) and share their nodes.
        let mut pending: Vec<usize> = (0..job.continuations.len())
            .filter(|&i| job.continuations[i].len() > 1)
            .collect();
        pending.sort_by(|&a, &b| {
            let key = |c: usize| job.continuations[c].iter().map(|t| t.0);
            key(a).cmp(key(b))
        });
        for group in pending.chunks(lanes.len()) {
            let result = self.score_group(job, group, &lanes, prefix, &mut scores);
            for &lane in &lanes[..group.len()] {
                if lane == seq_id(prefix) {
                    let _ =
                        self.ctx
                            .clear_kv_cache_seq(Some(pos(prefix)), Some(pos(ctx_len)), None);
                } else {
                    let _ = self
                        .ctx
                        .clear_kv_cache_seq(Some(lane.unsigned_abs()), None, None);
                }
            }
            result?;
        }
        self.clock += 1;
        self.slots[prefix].last_used = self.clock;
        Ok(LoglikelihoodResponse {
            model: job.model.clone(),
            scores,
            context_tokens: u32::try_from(ctx_len).unwrap_or(u32::MAX),
        })
    }

    /// Scores the tokens after the first of the continuations `group`, continuation `group[k]` on
    /// sequence id `lanes[k]`, as a prefix tree: each distinct run of leading tokens is one node,
    /// decoded once, on the sequence ids of every continuation that starts with it.
    fn score_group(
        &mut self,
        job: &LoglikJob,
        group: &[usize],
        lanes: &[i32],
        prefix: usize,
        scores: &mut [ContinuationScore],
    ) -> Result<(), EngineError> {
        let ctx_len = job.context.len();
        for &lane in &lanes[..group.len()] {
            if lane != seq_id(prefix) {
                let _ = self
                    .ctx
                    .clear_kv_cache_seq(Some(lane.unsigned_abs()), None, None);
                let _ =
                    self.ctx
                        .copy_kv_cache_seq(seq_id(prefix), lane, Some(0), Some(pos(ctx_len)));
            }
        }
        let nodes = Trie::build(
            group
                .iter()
                .zip(lanes)
                .map(|(&c, &lane)| (c, lane, job.continuations[c].as_slice())),
        );
        self.stats.prompt_tokens_evaluated += nodes.len() as u64;
        let capacity = self.score_batch_capacity();
        let mut evicted = false;
        let mut at = 0;
        while at < nodes.len() {
            let chunk = &nodes[at..(at + capacity).min(nodes.len())];
            self.score_batch.clear();
            for node in chunk {
                self.score_batch
                    .add(node.token, (ctx_len + node.depth) as i32, &node.lanes, true)
                    .map_err(|e| EngineError::Decode(e.to_string()))?;
            }
            match self.ctx.decode(&mut self.score_batch) {
                Ok(()) => {}
                Err(DecodeError::NoKvCacheSlot) if !evicted => {
                    // Idle caches of other slots make room; the chunk is tried again.
                    evicted = true;
                    for i in 0..self.slots.len() {
                        if i != prefix && self.is_free(i) {
                            self.forget(i);
                        }
                    }
                    continue;
                }
                Err(DecodeError::NoKvCacheSlot) => {
                    return Err(EngineError::ContextFull(format!(
                        "scoring needs more than the {} cells of the KV cache",
                        self.ctx.n_ctx()
                    )));
                }
                Err(other) => return Err(EngineError::Decode(other.to_string())),
            }
            self.stats.decode_calls += 1;
            for (i, node) in chunk.iter().enumerate() {
                let logits = self.ctx.get_logits_ith(i as i32);
                let row = Row::of(logits);
                for &(c, next) in &node.next {
                    scores[c].logprob += row.log_prob(logits, next);
                    scores[c].is_greedy &= row.argmax == next;
                }
            }
            at += chunk.len();
        }
        Ok(())
    }

    fn score_batch_capacity(&self) -> usize {
        (self.ctx.n_batch() as usize).max(1)
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
                    let logits = k + 1 == span.tokens.len();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::options::scoring_lanes;

    #[test]
    fn a_row_gives_log_softmax_and_its_argmax() {
        let logits = [1.0f32, 3.0, 2.0, 3.0];
        let row = Row::of(&logits);
        let z: f64 = logits.iter().map(|&v| f64::from(v).exp()).sum();
        for (i, &v) in logits.iter().enumerate() {
            assert!((row.log_prob(&logits, i) - (f64::from(v).exp() / z).ln()).abs() < 1e-9);
        }
        assert_eq!(row.argmax, 1);
        // Large logits do not overflow.
        let big = [1000.0f32, 1000.0];
        assert!((Row::of(&big).log_prob(&big, 0) - 0.5f64.ln()).abs() < 1e-9);
    }

    #[test]
    fn continuations_sharing_leading_tokens_share_nodes_parents_first() {
        let t = |ids: &[i32]| ids.iter().map(|&i| LlamaToken(i)).collect::<Vec<_>>();
        let (a, b, c) = (t(&[5, 6, 7]), t(&[5, 6, 8, 9]), t(&[4, 6]));
        let nodes = Trie::build(
            [
                (0, 10, a.as_slice()),
                (1, 11, b.as_slice()),
                (2, 12, c.as_slice()),
            ]
            .into_iter(),
        );
        type View = (i32, usize, Vec<i32>, Vec<(usize, usize)>);
        let view: Vec<View> = nodes
            .iter()
            .map(|n| (n.token.0, n.depth, n.lanes.clone(), n.next.clone()))
            .collect();
        assert_eq!(
            view,
            [
                // "5" is decoded once for a and b and predicts "6" for both.
                (5, 0, vec![10, 11], vec![(0, 6), (1, 6)]),
                (4, 0, vec![12], vec![(2, 6)]),
                (6, 1, vec![10, 11], vec![(0, 7), (1, 8)]),
                (8, 2, vec![11], vec![(1, 9)]),
            ]
        );
        assert_eq!(scoring_lanes(8, 512), (8..40).collect::<Vec<_>>());
        assert_eq!(scoring_lanes(250, 512), (250..256).collect::<Vec<_>>());
        assert_eq!(scoring_lanes(4, 8), (4..8).collect::<Vec<_>>());
        assert!(scoring_lanes(256, 512).is_empty());
        assert!(scoring_lanes(64, 64).is_empty());
    }
}
