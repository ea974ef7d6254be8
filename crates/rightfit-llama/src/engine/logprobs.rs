//! Token log-probabilities of generated text, as the OpenAI API reports them.
//!
//! Each generated token's log-probability is the log-softmax of the logits the engine sampled it
//! from — the model's own distribution, before temperature, top-k/top-p or a grammar reshaped it —
//! so a greedy answer's log-probabilities add up to what the log-likelihood path gives the same
//! text. A token is reported once the first byte of its text is released: tokens held back because
//! they might start a stop sequence wait, and tokens that only spell the stop sequence (or the end
//! of turn) are never reported, as the stop sequence is not part of the answer.

use std::collections::VecDeque;

use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use rightfit_types::{TokenLogprob, TopLogprob};

use super::sampling::log_normaliser;

/// Most alternatives per position a request may ask for (the OpenAI API's limit).
pub(crate) const MAX_TOP_LOGPROBS: u32 = 20;

/// The log-probabilities of one choice's tokens, waiting for their text to be released.
#[derive(Debug)]
pub(super) struct LogprobTrack {
    /// Alternatives to report per position.
    top: usize,
    /// Tokens not yet reported, with the byte offset where their text starts.
    pending: VecDeque<(usize, TokenLogprob)>,
    /// Bytes of text generated so far (token pieces, concatenated).
    generated: usize,
    /// Bytes of text released so far.
    released: usize,
    /// Reported tokens of a request that wants its answer whole (sent when the choice ends).
    pub(super) held: Vec<TokenLogprob>,
}

impl LogprobTrack {
    pub(super) fn new(top: u32) -> Self {
        Self {
            top: top as usize,
            pending: VecDeque::new(),
            generated: 0,
            released: 0,
            held: Vec::new(),
        }
    }

    /// Records a generated token: `piece` is its text, `logits` the row it was sampled from.
    pub(super) fn push(
        &mut self,
        model: &LlamaModel,
        logits: &[f32],
        token: LlamaToken,
        piece: &[u8],
    ) {
        let index = usize::try_from(token.0).unwrap_or(0).min(logits.len() - 1);
        let (logprob, top) = log_softmax_at(logits, index, self.top);
        let text = |t: usize| {
            let piece = model.vocab().token_to_piece(
                LlamaToken(i32::try_from(t).unwrap_or(0)),
                false,
                None,
            );
            String::from_utf8_lossy(&piece).into_owned()
        };
        let entry = TokenLogprob {
            token: String::from_utf8_lossy(piece).into_owned(),
            logprob,
            top: top
                .into_iter()
                .map(|(t, lp)| TopLogprob {
                    token: text(t),
                    logprob: lp,
                })
                .collect(),
        };
        self.pending.push_back((self.generated, entry));
        self.generated += piece.len();
    }

    /// Counts `bytes` more bytes of text as released; returns the tokens whose text has now
    /// started to appear, in order.
    pub(super) fn release(&mut self, bytes: usize) -> Vec<TokenLogprob> {
        self.released += bytes;
        let mut out = Vec::new();
        while self
            .pending
            .front()
            .is_some_and(|(start, _)| *start < self.released)
        {
            if let Some((_, t)) = self.pending.pop_front() {
                out.push(t);
            }
        }
        out
    }
}

/// `log p(token)` under the softmax of `logits`, and the `top` most likely tokens with theirs,
/// best first (ties: the lower token id first).
pub(super) fn log_softmax_at(logits: &[f32], token: usize, top: usize) -> (f64, Vec<(usize, f64)>) {
    let norm = log_normaliser(logits);
    let lp = |i: usize| f64::from(logits[i]) - norm;
    let mut best: Vec<usize> = Vec::with_capacity(top + 1);
    if top > 0 {
        for (i, &v) in logits.iter().enumerate() {
            if best.len() == top && v <= logits[best[top - 1]] {
                continue;
            }
            let at = best.partition_point(|&b| logits[b] >= v);
            best.insert(at, i);
            best.truncate(top);
        }
    }
    (lp(token), best.into_iter().map(|i| (i, lp(i))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_softmax_matches_a_direct_computation_and_ranks_alternatives() {
        let logits = [0.5f32, 2.0, -1.0, 2.0, 1.0];
        let z: f64 = logits.iter().map(|&v| f64::from(v).exp()).sum();
        for (i, &v) in logits.iter().enumerate() {
            let (lp, _) = log_softmax_at(&logits, i, 0);
            assert!((lp - (f64::from(v).exp() / z).ln()).abs() < 1e-9, "{i}");
        }
        let (_, top) = log_softmax_at(&logits, 0, 3);
        let ids: Vec<usize> = top.iter().map(|t| t.0).collect();
        assert_eq!(ids, [1, 3, 4]);
        assert!((top[2].1 - (1f64.exp() / z).ln()).abs() < 1e-9);
        // More alternatives than tokens: all of them.
        assert_eq!(log_softmax_at(&logits, 0, 9).1.len(), 5);
        // Large logits do not overflow.
        let (lp, _) = log_softmax_at(&[1000.0, 1000.0], 1, 0);
        assert!((lp - 0.5f64.ln()).abs() < 1e-9);
    }

    #[test]
    fn tokens_are_reported_once_their_text_starts_to_appear() {
        let mut track = LogprobTrack::new(0);
        let entry = |t: &str| TokenLogprob {
            token: t.to_owned(),
            logprob: -1.0,
            top: Vec::new(),
        };
        for piece in ["He", "llo", " wor", "ld"] {
            track.pending.push_back((track.generated, entry(piece)));
            track.generated += piece.len();
        }
        assert!(track.release(0).is_empty());
        let first: Vec<String> = track.release(3).into_iter().map(|t| t.token).collect();
        assert_eq!(first, ["He", "llo"]);
        // " wor" starts at byte 5: released once byte 5 is.
        assert!(track.release(0).is_empty());
        let next: Vec<String> = track.release(3).into_iter().map(|t| t.token).collect();
        assert_eq!(next, [" wor"]);
    }
}
