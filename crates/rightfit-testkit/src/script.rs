//! What a test server answers: scripted replies and injected faults.

use std::time::Duration;

/// Which protocol a server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// OpenAI Chat Completions: `POST /v1/chat/completions`, `Authorization: Bearer`; and
    /// `POST /v1/embeddings`.
    OpenAi,
    /// Anthropic Messages: `POST /v1/messages`, `x-api-key` (or `Authorization: Bearer`, which
    /// the 2.x Python SDK sends), `anthropic-version`.
    Anthropic,
    /// Google Gemini: `POST /{v1|v1beta}/models/{model}:generateContent` and
    /// `:streamGenerateContent?alt=sse`, `x-goog-api-key` (or `?key=`); and `:embedContent`,
    /// `:batchEmbedContents`.
    Gemini,
}

/// Why a scripted answer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Finish {
    /// The model ended its turn (`stop`, `end_turn`, `STOP`).
    #[default]
    Stop,
    /// The token limit was reached (`length`, `max_tokens`, `MAX_TOKENS`).
    Length,
}

/// A normal answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The text, returned whole or streamed in `chunks` pieces.
    pub text: String,
    /// How many streamed deltas the text is split into (at least 1; split on char boundaries).
    pub chunks: usize,
    /// Reported prompt tokens.
    pub prompt_tokens: u32,
    /// Reported completion tokens.
    pub completion_tokens: u32,
    /// Why it ended.
    pub finish: Finish,
    /// Log-probabilities to report (OpenAI only, when the request asked with `logprobs: true`):
    /// one `(token, logprob)` per token; the text of the tokens should add up to `text`.
    pub logprobs: Vec<(String, f64)>,
    /// Tool calls the answer makes after its text, in order. A reply with calls ends for the
    /// protocol's tool reason (`tool_calls`, `tool_use`; Gemini's `STOP` with `functionCall`
    /// parts) unless `finish` is `Length`.
    pub tool_calls: Vec<ScriptedCall>,
}

/// A tool call in a scripted reply.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptedCall {
    /// The call's id (`call_…` for OpenAI, `toolu_…` for Anthropic; Gemini sends none).
    pub id: String,
    /// The function's name.
    pub name: String,
    /// The arguments' JSON text; streamed in `chunks` pieces where the protocol streams
    /// arguments (OpenAI, Anthropic), whole where it does not (Gemini).
    pub arguments: String,
}

impl ScriptedCall {
    /// The pieces the arguments are streamed in: `chunks` pieces of (nearly) equal length in
    /// chars (fewer when the text is shorter; one empty piece for empty arguments). They join
    /// to `arguments`.
    pub fn pieces(&self, chunks: usize) -> Vec<String> {
        let chars: Vec<(usize, char)> = self.arguments.char_indices().collect();
        let pieces = chunks.max(1).min(chars.len()).max(1);
        let cuts: Vec<usize> = (0..pieces)
            .map(|k| chars.get(k * chars.len() / pieces).map_or(0, |(i, _)| *i))
            .collect();
        cuts.iter()
            .enumerate()
            .map(|(k, &start)| {
                let end = cuts.get(k + 1).copied().unwrap_or(self.arguments.len());
                self.arguments[start..end].to_owned()
            })
            .collect()
    }

    /// The arguments as a JSON object, as protocols that carry them parsed (Anthropic's
    /// `input`, Gemini's `args`) send them; `{}` when they are not one.
    pub fn arguments_object(&self) -> serde_json::Value {
        serde_json::from_str::<serde_json::Value>(&self.arguments)
            .ok()
            .filter(serde_json::Value::is_object)
            .unwrap_or_else(|| serde_json::json!({}))
    }
}

impl Reply {
    /// A reply with this text, streamed in one chunk per whitespace-separated word, with token
    /// counts of 10 for the prompt and one per word for the completion.
    pub fn text(text: impl Into<String>) -> Self {
        let text = text.into();
        let words = text.split_whitespace().count().max(1);
        Self {
            text,
            chunks: words,
            prompt_tokens: 10,
            completion_tokens: words as u32,
            finish: Finish::Stop,
            logprobs: Vec::new(),
            tool_calls: Vec::new(),
        }
    }

    /// The same reply, then a call of `name` with these arguments (JSON text).
    pub fn with_tool_call(
        mut self,
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<String>,
    ) -> Self {
        self.tool_calls.push(ScriptedCall {
            id: id.into(),
            name: name.into(),
            arguments: arguments.into(),
        });
        self
    }

    /// The same reply, streamed in `chunks` deltas.
    pub fn with_chunks(mut self, chunks: usize) -> Self {
        self.chunks = chunks;
        self
    }

    /// The same reply with these token counts.
    pub fn with_tokens(mut self, prompt_tokens: u32, completion_tokens: u32) -> Self {
        self.prompt_tokens = prompt_tokens;
        self.completion_tokens = completion_tokens;
        self
    }

    /// The same reply, ended for this reason.
    pub fn with_finish(mut self, finish: Finish) -> Self {
        self.finish = finish;
        self
    }

    /// The same reply with these log-probabilities; the text becomes the tokens joined.
    pub fn with_logprobs<S: Into<String>>(
        mut self,
        logprobs: impl IntoIterator<Item = (S, f64)>,
    ) -> Self {
        self.logprobs = logprobs.into_iter().map(|(t, p)| (t.into(), p)).collect();
        self.text = self.logprobs.iter().map(|(t, _)| t.as_str()).collect();
        self
    }

    /// The pieces the text is streamed in, in order; they join to `text`.
    ///
    /// When the text has exactly `chunks` whitespace-separated words, each piece is one word
    /// with the whitespace after it (leading whitespace goes with the first). Otherwise the text
    /// is cut into `chunks` pieces of (nearly) equal length in chars — fewer when the text has
    /// fewer chars. An empty text is one empty piece.
    pub fn deltas(&self) -> Vec<String> {
        let wanted = self.chunks.max(1);
        let mut word_starts: Vec<usize> = Vec::new();
        let mut prev_space = true;
        for (i, c) in self.text.char_indices() {
            let space = c.is_whitespace();
            if prev_space && !space {
                word_starts.push(i);
            }
            prev_space = space;
        }
        let cuts: Vec<usize> = if word_starts.len() == wanted {
            let mut cuts = word_starts;
            cuts[0] = 0;
            cuts
        } else {
            let offsets: Vec<usize> = self.text.char_indices().map(|(i, _)| i).collect();
            let pieces = wanted.min(offsets.len()).max(1);
            (0..pieces)
                .map(|k| {
                    offsets
                        .get(k * offsets.len() / pieces)
                        .copied()
                        .unwrap_or(0)
                })
                .collect()
        };
        let mut out = Vec::with_capacity(cuts.len());
        for (k, &start) in cuts.iter().enumerate() {
            let end = cuts.get(k + 1).copied().unwrap_or(self.text.len());
            out.push(self.text[start..end].to_owned());
        }
        out
    }
}

/// One step of a script: what the server does with the next generation or embeddings request it
/// receives (chat completions, messages, generateContent, embeddings, batchEmbedContents; an
/// embeddings request is never streamed, and its `Reply` text is unused). Requests refused before the script is consulted
/// — wrong or missing key, missing `anthropic-version`, an invalid body, an unknown model or
/// path — and model listings take no step.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Answer normally (streamed if the request asked to stream).
    Reply(Reply),
    /// Wait, then answer. For a stream, the wait comes before the response headers.
    Delay(Duration, Reply),
    /// Send the response headers (and the protocol's opening events) at once, then wait `pause`
    /// before each delta (a slow stream; for first-byte and total timeouts). Non-streamed
    /// requests wait `pause` × deltas before the headers.
    Slow {
        /// The answer.
        reply: Reply,
        /// Pause before each delta.
        pause: Duration,
    },
    /// HTTP 429 in the protocol's error shape, with `Retry-After: <seconds>` when given.
    RateLimited {
        /// Seconds to put in `Retry-After`; `None` sends no header.
        retry_after_s: Option<u64>,
    },
    /// An error status in the protocol's error shape (400, 401, 403, 404, 500, 503, 529, ...).
    Status(u16),
    /// Close the connection without answering (no status line).
    Drop,
    /// Stream (or, non-streamed, write) only the first `after_chunks` deltas, then close the
    /// connection without the protocol's end marker (no `[DONE]`, no `message_stop`, no final
    /// chunk with `finishReason`).
    Truncate {
        /// The answer that is cut.
        reply: Reply,
        /// Deltas sent before the cut.
        after_chunks: usize,
    },
    /// Status 200 with a body (or, streamed, an SSE `data:` line) that is not valid JSON.
    MalformedJson,
    /// A mid-stream error event in the protocol's shape after `after_chunks` deltas (Anthropic
    /// `event: error` with `overloaded_error`; OpenAI/Gemini a `data:` line holding an error
    /// object). Non-streamed requests get status 500.
    StreamError {
        /// The answer begun before the error.
        reply: Reply,
        /// Deltas sent before the error.
        after_chunks: usize,
    },
}

/// Deviations from the reference protocol that real OpenAI-compatible servers show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Quirks {
    /// No `usage` anywhere, even when `stream_options.include_usage` is set.
    pub no_usage: bool,
    /// No `id` field in responses and chunks.
    pub no_ids: bool,
    /// The stream ends after the chunk with `finish_reason`, without `data: [DONE]`.
    pub no_done: bool,
    /// Use `\r\n` line endings in the SSE stream.
    pub crlf: bool,
    /// Send SSE comment lines: a `: ping` first, then `: keep-alive` before every event (as
    /// vLLM and proxies do; clients must skip comments).
    pub keep_alives: bool,
    /// Write each SSE event in several small writes (split mid-line) to exercise reassembly:
    /// 3-byte body frames, each flushed to the socket on its own.
    pub split_writes: bool,
}

/// How a server is set up.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    pub protocol: Protocol,
    /// The key the server accepts; requests with another (or none) get 401 in the protocol's
    /// shape, whose message echoes part of the key they sent, as OpenAI's does.
    pub api_key: Option<String>,
    /// Model ids the server knows; others get 404 in the protocol's shape. Empty accepts any.
    pub models: Vec<String>,
    /// What every request gets once the script is used up.
    pub default_reply: Reply,
    /// Deviations (OpenAI protocol only).
    pub quirks: Quirks,
    /// Length of the vectors embeddings requests get (unless the request asks for another with
    /// `dimensions` / `outputDimensionality`).
    pub embedding_dimensions: usize,
}

impl ServerConfig {
    /// A server for `protocol` that accepts the key `test-key` and any model, and answers
    /// "Hello from the test server." to everything.
    pub fn new(protocol: Protocol) -> Self {
        Self {
            protocol,
            api_key: Some("test-key".to_owned()),
            models: Vec::new(),
            default_reply: Reply::text("Hello from the test server."),
            quirks: Quirks::default(),
            embedding_dimensions: 8,
        }
    }
}

/// A request the server received, as it arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// HTTP method.
    pub method: String,
    /// Path, without the query.
    pub path: String,
    /// The query string, if any.
    pub query: Option<String>,
    /// Headers, names lowercased, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body parsed as JSON (`Null` when it was not JSON).
    pub body: serde_json::Value,
}

impl Recorded {
    /// The first value of a header (name in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_follow_words_when_the_counts_match() {
        assert_eq!(
            Reply::text("  one two\tthree ").deltas(),
            ["  one ", "two\t", "three "]
        );
    }

    #[test]
    fn deltas_split_evenly_by_chars_otherwise() {
        let reply = Reply::text("héllo wörld").with_chunks(4);
        let deltas = reply.deltas();
        assert_eq!(deltas.concat(), "héllo wörld");
        assert_eq!(deltas.len(), 4);
        assert_eq!(Reply::text("ab").with_chunks(5).deltas(), ["a", "b"]);
        assert_eq!(Reply::text("").deltas(), [""]);
        assert_eq!(Reply::text("abc").with_chunks(0).deltas(), ["abc"]);
    }

    #[test]
    fn call_arguments_split_into_pieces_that_join() {
        let call = ScriptedCall {
            id: "c".into(),
            name: "f".into(),
            arguments: r#"{"city":"Zürich"}"#.into(),
        };
        let pieces = call.pieces(4);
        assert_eq!(pieces.len(), 4);
        assert_eq!(pieces.concat(), call.arguments);
        assert_eq!(call.arguments_object()["city"], "Zürich");
        let empty = ScriptedCall {
            arguments: String::new(),
            ..call
        };
        assert_eq!(empty.pieces(3), [""]);
    }

    #[test]
    fn logprobs_set_the_text() {
        let reply = Reply::text("ignored").with_logprobs([("a", -1.0), ("b", -2.0)]);
        assert_eq!(reply.text, "ab");
        assert_eq!(reply.logprobs.len(), 2);
    }
}
