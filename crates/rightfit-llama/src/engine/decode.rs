//! One decode step: build the batch, run llama.cpp, sample, stream text, finish sequences.

use std::time::Instant;

use llama_cpp_2::DecodeError;
use rightfit_types::{FinishReason, StreamEvent, Timings};

use super::error::EngineError;
use super::slots::seq_id;
use super::worker::{Phase, Worker};

impl Worker<'_> {
    /// One decode: a token for each generating sequence, then prompt tokens while room remains.
    pub(super) fn step(&mut self) {
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
            let mut added = 0;
            for p in from..from + take {
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
                added += 1;
            }
            if added > 0 {
                planned.push((i, added));
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
        let n_ctx = self.ctx.n_ctx() as usize;
        for i in 0..self.slots.len() {
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
            if vocab.is_eog(token) && !seq.ignore_eos {
                finished.push((i, FinishReason::Stop));
                continue;
            }
            seq.generated += 1;
            req.usage.completion_tokens += 1;
            self.stats.generated_tokens += 1;
            // Tool-call markup may be a special token (Qwen2.5's `<tool_call>`), which renders
            // as nothing unless asked for.
            let special = seq.calls.is_some() && self.markup_tokens.contains(&token);
            let piece = vocab.token_to_piece(token, special, None);
            if let Some(track) = seq.logprobs.as_mut() {
                track.push(model, self.ctx.get_logits_ith(at), token, &piece);
            }
            let (text, stopped) = seq.text.push(&piece);
            let released = seq
                .logprobs
                .as_mut()
                .map(|t| t.release(text.len()))
                .unwrap_or_default();
            let gone = if !req.stream {
                seq.held.push_str(&text);
                if let Some(track) = seq.logprobs.as_mut() {
                    track.held.extend(released);
                }
                req.events.is_closed()
            } else {
                let index = seq.choice;
                let events = match seq.calls.as_mut() {
                    Some(reader) => reader.push_events(index, &text),
                    None if text.is_empty() => Vec::new(),
                    None => vec![StreamEvent::Delta { index, text }],
                };
                events.into_iter().any(|e| req.events.send(Ok(e)).is_err())
                    || (!released.is_empty()
                        && req
                            .events
                            .send(Ok(StreamEvent::Logprobs {
                                index,
                                tokens: released,
                            }))
                            .is_err())
            };
            if gone {
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

    fn finish_slot(&mut self, slot: usize, mut reason: FinishReason) {
        let Some(mut seq) = self.slots[slot].seq.take() else {
            return;
        };
        self.release(slot);
        let Some(req) = self.requests.get_mut(&seq.request) else {
            return;
        };
        let tail = seq.text.finish();
        let mut rest = std::mem::take(&mut seq.held);
        rest.push_str(&tail);
        if let Some(reader) = seq.calls.as_mut() {
            let mut events = reader.push_events(seq.choice, &rest);
            events.extend(reader.finish_events(seq.choice));
            for event in events {
                let _ = req.events.send(Ok(event));
            }
            if reader.made_calls() && reason == FinishReason::Stop {
                reason = FinishReason::ToolCalls;
            }
        } else if !rest.is_empty() {
            let _ = req.events.send(Ok(StreamEvent::Delta {
                index: seq.choice,
                text: rest,
            }));
        }
        if let Some(mut track) = seq.logprobs.take() {
            let released = track.release(tail.len());
            // A whole answer reports its tokens once (an empty list when it has none); a stream
            // reports what is left.
            let tokens = if req.stream {
                released
            } else {
                let mut all = std::mem::take(&mut track.held);
                all.extend(released);
                all
            };
            if !req.stream || !tokens.is_empty() {
                let _ = req.events.send(Ok(StreamEvent::Logprobs {
                    index: seq.choice,
                    tokens,
                }));
            }
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
    pub(super) fn fail_slot(&mut self, slot: usize, error: EngineError) {
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
                self.release(i);
            }
        }
        if self.requests.remove(&request).is_some() {
            self.stats.requests += 1;
        }
    }
}
