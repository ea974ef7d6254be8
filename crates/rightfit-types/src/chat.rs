//! Generation requests and responses.

use serde::{Deserialize, Serialize};

use crate::tools::{ImagePart, Tool, ToolCall, ToolChoice};

/// Who said a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions that frame the conversation.
    System,
    /// The application's user.
    User,
    /// The model.
    Assistant,
    /// The result of a tool call, given back to the model.
    Tool,
}

impl Role {
    /// The lowercase name chat templates expect (`system`, `user`, `assistant`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }
}

/// One turn of a conversation.
///
/// Besides its text, an assistant turn may carry the tool calls the model made, a tool turn
/// answers one call (`tool_call_id`), and a user turn may carry images. Every extra field is left
/// out of the serialised form when empty, so plain conversations (and the cache keys and run hashes
/// made from them) are unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Who said it.
    pub role: Role,
    /// What was said (plain text; for a tool turn, the tool's result).
    pub content: String,
    /// The calls an assistant turn made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For a tool turn: the id of the call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// Images of a user turn, in order, before its text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ImagePart>,
}

impl Message {
    /// A plain message of any role.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
            images: Vec::new(),
        }
    }
    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }
    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }
    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }
    /// An assistant turn that calls tools (with any text it said before the calls).
    pub fn assistant_calls(content: impl Into<String>, calls: Vec<ToolCall>) -> Self {
        Self {
            tool_calls: calls,
            ..Self::new(Role::Assistant, content)
        }
    }
    /// A tool's result for the call `call_id`.
    pub fn tool_result(call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            tool_call_id: Some(call_id.into()),
            ..Self::new(Role::Tool, content)
        }
    }
    /// Whether the message is plain text: no tool calls, no tool result, no images.
    pub fn is_plain(&self) -> bool {
        self.tool_calls.is_empty() && self.tool_call_id.is_none() && self.images.is_empty()
    }
}

/// What the model continues from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prompt {
    /// A conversation, rendered with the model's chat template (or its provider's API).
    Messages(Vec<Message>),
    /// Raw text, continued as is (completion; no template).
    Text(String),
}

/// How the next token is chosen.
///
/// `temperature` of `None` or `0.0` means greedy decoding (always the most likely token), which
/// makes output reproducible. Any positive temperature samples; `seed` makes sampling reproducible
/// for the embedded engine (hosted providers treat it as a hint).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Sampling {
    /// Softmax temperature; `None` or 0 is greedy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Nucleus sampling: keep the smallest set of tokens whose probability adds up to `top_p`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    /// Keep only the `top_k` most likely tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    /// Seed for the random choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

impl Sampling {
    /// Greedy decoding.
    pub fn greedy() -> Self {
        Self::default()
    }

    /// Whether these settings choose the most likely token every time.
    pub fn is_greedy(&self) -> bool {
        self.temperature.is_none_or(|t| t <= 0.0)
    }
}

/// A constraint on the shape of the output.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    /// Free text.
    #[default]
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON matching a JSON Schema.
    JsonSchema {
        /// A name for the schema (OpenAI requires one).
        #[serde(default)]
        name: String,
        /// The schema itself.
        schema: serde_json::Value,
        /// Whether the provider must follow the schema exactly (OpenAI `strict`).
        #[serde(default)]
        strict: bool,
    },
    /// A GBNF grammar (embedded engine only).
    Grammar {
        /// The grammar text; its start rule is `root`.
        gbnf: String,
    },
}

/// A request to generate text, understood by every provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The model id as the provider knows it (for the embedded engine, informational).
    #[serde(default)]
    pub model: String,
    /// What to continue.
    pub prompt: Prompt,
    /// Token selection.
    #[serde(default)]
    pub sampling: Sampling,
    /// Most tokens to generate; `None` lets the provider decide (the engine stops at its context).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Generation stops before any of these strings; they are not part of the output.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    /// Output constraint.
    #[serde(default)]
    pub response_format: ResponseFormat,
    /// How many independent choices to generate for the same prompt (at least 1).
    #[serde(default = "one")]
    pub n: u32,
    /// Keep generating past the end-of-turn token, up to `max_tokens` (benchmarks; embedded engine).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignore_eos: bool,
    /// Chat template override: a built-in template name (such as `chatml`, `gemma`, `llama3`)
    /// for models that embed none (embedded engine only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_template: Option<String>,
    /// Return the log-probability of each generated token, with this many most likely
    /// alternatives per position (0: the chosen token only). `None`: no log-probabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<u32>,
    /// Functions the model may call (empty: none; the request is plain generation).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool>,
    /// Whether and which tool the model must call.
    #[serde(default, skip_serializing_if = "ToolChoice::is_auto")]
    pub tool_choice: ToolChoice,
    /// Whether the model may make several calls in one turn (`None`: the provider's default,
    /// which is yes for OpenAI and Anthropic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
}

fn one() -> u32 {
    1
}

impl ChatRequest {
    /// A greedy request for a conversation.
    pub fn chat(messages: Vec<Message>) -> Self {
        Self::new(Prompt::Messages(messages))
    }

    /// A greedy request that continues raw text.
    pub fn completion(text: impl Into<String>) -> Self {
        Self::new(Prompt::Text(text.into()))
    }

    fn new(prompt: Prompt) -> Self {
        Self {
            model: String::new(),
            prompt,
            sampling: Sampling::default(),
            max_tokens: None,
            stop: Vec::new(),
            response_format: ResponseFormat::Text,
            n: 1,
            ignore_eos: false,
            chat_template: None,
            logprobs: None,
            tools: Vec::new(),
            tool_choice: ToolChoice::Auto,
            parallel_tool_calls: None,
        }
    }

    /// Offers these functions to the model.
    pub fn with_tools(mut self, tools: Vec<Tool>, choice: ToolChoice) -> Self {
        self.tools = tools;
        self.tool_choice = choice;
        self
    }

    /// Sets the token limit.
    pub fn with_max_tokens(mut self, max_tokens: u32) -> Self {
        self.max_tokens = Some(max_tokens);
        self
    }

    /// Sets the sampling parameters.
    pub fn with_sampling(mut self, sampling: Sampling) -> Self {
        self.sampling = sampling;
        self
    }

    /// Adds stop sequences.
    pub fn with_stop<I, S>(mut self, stop: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.stop.extend(stop.into_iter().map(Into::into));
        self
    }

    /// Sets the response format.
    pub fn with_response_format(mut self, format: ResponseFormat) -> Self {
        self.response_format = format;
        self
    }

    /// Sets the number of choices.
    pub fn with_n(mut self, n: u32) -> Self {
        self.n = n;
        self
    }
}

/// Why a choice stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model ended its turn, or a stop sequence matched.
    Stop,
    /// The token limit (or the context) was reached.
    Length,
    /// The provider withheld the output.
    ContentFilter,
    /// The model called tools and waits for their results.
    ToolCalls,
}

impl FinishReason {
    /// The OpenAI spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ContentFilter => "content_filter",
            FinishReason::ToolCalls => "tool_calls",
        }
    }
}

/// One generated answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// Position among the request's `n` choices.
    pub index: u32,
    /// The generated text (stop sequences removed); with tool calls, what the model said before
    /// them (often empty).
    pub text: String,
    /// The tools the model called, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// Why generation ended.
    pub finish_reason: FinishReason,
    /// Per-token log-probabilities, when the request asked for them and the provider gave them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Vec<TokenLogprob>>,
}

/// The log-probability of one generated token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenLogprob {
    /// The token's text.
    pub token: String,
    /// Its natural-log probability.
    pub logprob: f64,
    /// The most likely tokens at this position, best first (as many as were asked for).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub top: Vec<TopLogprob>,
}

/// One alternative at a position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopLogprob {
    /// The token's text.
    pub token: String,
    /// Its natural-log probability.
    pub logprob: f64,
}

/// Tokens counted by the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the prompt (after template rendering).
    pub prompt_tokens: u32,
    /// Tokens generated over all choices.
    pub completion_tokens: u32,
    /// Prompt tokens served from a cache rather than computed (KV prefix reuse, provider caches).
    #[serde(default)]
    pub cached_prompt_tokens: u32,
}

impl Usage {
    /// Prompt plus completion tokens.
    pub fn total_tokens(&self) -> u32 {
        self.prompt_tokens + self.completion_tokens
    }
}

/// Where the time of one request went, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Timings {
    /// From submission until work on the request began (waiting for a free slot).
    pub queue_ms: f64,
    /// From submission until the first generated token was available.
    pub ttft_ms: f64,
    /// From submission until the last token.
    pub total_ms: f64,
    /// Prompt tokens that were computed (not reused from the cache).
    pub prompt_tokens_evaluated: u32,
    /// Tokens generated.
    pub generated_tokens: u32,
}

impl Timings {
    /// Generated tokens per second after the first token (the decode rate), if measurable.
    pub fn generation_tokens_per_s(&self) -> Option<f64> {
        let span = self.total_ms - self.ttft_ms;
        (self.generated_tokens > 1 && span > 0.0)
            .then(|| f64::from(self.generated_tokens - 1) * 1000.0 / span)
    }
}

/// The answer to a [`ChatRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// An identifier (the provider's, or one made up locally).
    pub id: String,
    /// The model that answered.
    pub model: String,
    /// One per requested choice, ordered by index.
    pub choices: Vec<Choice>,
    /// Tokens counted.
    pub usage: Usage,
    /// Where the time went.
    pub timings: Timings,
}

impl ChatResponse {
    /// The text of the first choice (empty when there is none).
    pub fn text(&self) -> &str {
        self.choices.first().map_or("", |c| c.text.as_str())
    }
}

/// One event of a streamed response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum StreamEvent {
    /// More text for a choice.
    Delta {
        /// Which choice.
        index: u32,
        /// The new text.
        text: String,
    },
    /// Log-probabilities of tokens just generated for a choice.
    Logprobs {
        /// Which choice.
        index: u32,
        /// The tokens, in order.
        tokens: Vec<TokenLogprob>,
    },
    /// Part of a tool call for a choice. The first event of a call carries its id and name; it
    /// and later ones carry more of its arguments' JSON text, which joined in order give
    /// [`ToolCall::arguments`].
    ToolCall {
        /// Which choice.
        index: u32,
        /// Which call of the choice, from 0 in order.
        call: u32,
        /// The call's id (first event of the call only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// The function's name (first event of the call only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// More argument text.
        #[serde(default)]
        arguments: String,
    },
    /// A choice is complete.
    Finish {
        /// Which choice.
        index: u32,
        /// Why it stopped.
        reason: FinishReason,
    },
    /// The last event: totals for the whole request.
    Done {
        /// Tokens counted.
        usage: Usage,
        /// Where the time went.
        timings: Timings,
    },
}
