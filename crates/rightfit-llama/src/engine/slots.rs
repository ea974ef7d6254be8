//! Slot bookkeeping: which KV cells each sequence id holds, prefix sharing, and eviction.
//!
//! A slot's `cached` tokens mirror its KV cache exactly. `claim` gives a new sequence the free slot
//! whose cache (or another slot's, shared with `seq_cp`) holds the longest prefix of its prompt;
//! if a sequence still computing its prompt shares even more, the newcomer waits for it.

use llama_cpp_2::token::LlamaToken;

use super::error::EngineError;
use super::worker::{Phase, Seq, Start, Worker};

pub(super) fn lcp(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

pub(super) fn seq_id(slot: usize) -> i32 {
    i32::try_from(slot).unwrap_or(i32::MAX)
}

pub(super) fn pos(p: usize) -> u32 {
    u32::try_from(p).unwrap_or(u32::MAX)
}

impl Worker<'_> {
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
            // Only a sequence computing its prompt now is worth waiting for: one that is itself
            // waiting may end up waiting for us (slots are reused), and would resolve at once.
            if let Some(seq) = &s.seq
                && allow_wait
                && matches!(seq.phase, Phase::Prompt)
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

    pub(super) fn lru_free_slot(&self) -> usize {
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
    pub(super) fn resolve_waits(&mut self) {
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

    /// A slot's sequence ended: keep its cache for later prompts, or free the cells when
    /// prefix reuse is off (idle cells still widen every attention pass).
    pub(super) fn release(&mut self, slot: usize) {
        self.slots[slot].last_used = self.clock;
        if !self.options.prefix_cache {
            self.forget(slot);
        }
    }

    /// Frees KV cells after a failed decode: idle caches first, then the newest sequence.
    /// Returns false when nothing could be freed.
    pub(super) fn make_room(&mut self) -> bool {
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
        self.forget(slot);
        true
    }
}
