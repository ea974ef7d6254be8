//! Requests the worker has accepted but not started: each waits, in arrival order, until enough
//! slots are free.

use std::sync::Arc;
use std::time::Instant;

use llama_cpp_2::token::LlamaToken;
use rightfit_types::{ChatRequest, LoglikelihoodResponse};
use tokio::sync::oneshot;

use super::error::EngineError;
use super::job::EventSender;
use super::sampling::Constraint;

/// A generation request whose prompt is tokenised, waiting for free slots.
pub(super) struct Prepared {
    pub(super) tokens: Arc<Vec<LlamaToken>>,
    pub(super) request: Box<ChatRequest>,
    pub(super) constraint: Constraint,
    pub(super) events: EventSender,
    pub(super) enqueued: Instant,
    pub(super) stream: bool,
    /// The functions whose calls are read back from the output (`None`: plain text).
    pub(super) callable: Option<Arc<[String]>>,
}

/// A request accepted by the worker, in arrival order.
pub(super) enum Waiting {
    Generate(Prepared),
    Loglik(LoglikJob),
}

type Reply = oneshot::Sender<Result<LoglikelihoodResponse, EngineError>>;

/// A tokenised scoring request.
pub(super) struct LoglikJob {
    /// The model's name, for the response.
    pub(super) model: String,
    pub(super) context: Vec<LlamaToken>,
    /// Each continuation's own tokens (those `context + continuation` adds after the context).
    pub(super) continuations: Vec<Vec<LlamaToken>>,
    pub(super) reply: Option<Reply>,
}

impl LoglikJob {
    pub(super) fn with_reply(mut self, reply: Reply) -> Self {
        self.reply = Some(reply);
        self
    }
}
