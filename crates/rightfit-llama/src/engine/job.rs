//! What an [`super::Engine`] handle sends its worker thread.

use std::time::Instant;

use rightfit_types::{
    ChatRequest, EmbeddingRequest, EmbeddingResponse, LoglikelihoodRequest, LoglikelihoodResponse,
    StreamEvent,
};
use tokio::sync::{mpsc as tmpsc, oneshot};

use super::error::EngineError;
use super::info::{EngineStats, TrainingTokens};

/// Where a generation's events go; the receiving end is the caller's `Generation`.
pub(crate) type EventSender = tmpsc::UnboundedSender<Result<StreamEvent, EngineError>>;

/// One piece of work for the worker thread; each carries the channel its answer goes back on.
pub(crate) enum Job {
    Generate {
        request: Box<ChatRequest>,
        events: EventSender,
        enqueued: Instant,
        /// Send text as it is generated (else once per choice, when it ends).
        stream: bool,
    },
    Loglikelihood {
        request: LoglikelihoodRequest,
        reply: oneshot::Sender<Result<LoglikelihoodResponse, EngineError>>,
    },
    Embed {
        request: EmbeddingRequest,
        reply: oneshot::Sender<Result<EmbeddingResponse, EngineError>>,
    },
    Tokenize {
        text: String,
        reply: oneshot::Sender<Vec<u32>>,
    },
    TrainingTokens {
        messages: Vec<rightfit_types::Message>,
        answer: String,
        template: Option<String>,
        reply: oneshot::Sender<Result<TrainingTokens, EngineError>>,
    },
    Stats {
        reply: oneshot::Sender<EngineStats>,
    },
}
