//! Errors the gateway answers with.
//!
//! One type, [`GatewayError`], knows its HTTP status and renders itself in the shape the client's
//! API uses: OpenAI's `{"error": {"message", "type", "param", "code"}}` or Anthropic's
//! `{"type": "error", "error": {"type", "message"}}`. Errors from models
//! ([`ProviderError`]) are turned into gateway errors by [`GatewayError::from_provider`], which
//! never forwards the upstream's text: upstream messages can echo parts of keys, base URLs and
//! request bodies. The full provider error belongs in the gateway's log, not in the answer.

use std::borrow::Cow;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use rightfit_providers::ProviderError;
use serde_json::{Value, json};

use crate::api::Api;

/// What went wrong, in the gateway's terms. Each kind has one HTTP status and one error type per
/// API; [`ErrorKind::as_str`] is the `kind` label of `rightfit_errors_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// 400: the request is malformed or asks for something the gateway does not serve.
    InvalidRequest,
    /// 401: no gateway key, or an unknown or revoked one.
    Authentication,
    /// 403: the key may not use this model or component.
    Permission,
    /// 404: no model or component of that name.
    NotFound,
    /// 413: the body is larger than `gateway.body_limit_kb`.
    TooLarge,
    /// 429: too many requests (the gateway's or an upstream's limit).
    RateLimited,
    /// 429: the key's spending budget is used up.
    BudgetExhausted,
    /// 500: a bug or an unexpected failure inside the gateway.
    Internal,
    /// 502: the model failed or answered badly.
    Upstream,
    /// 503: the gateway or the model cannot take the request now.
    Unavailable,
    /// 504: the model did not answer in time.
    UpstreamTimeout,
}

impl ErrorKind {
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::InvalidRequest => StatusCode::BAD_REQUEST,
            ErrorKind::Authentication => StatusCode::UNAUTHORIZED,
            ErrorKind::Permission => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::RateLimited | ErrorKind::BudgetExhausted => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorKind::Upstream => StatusCode::BAD_GATEWAY,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// A short snake_case name, for metrics labels and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::Authentication => "authentication",
            ErrorKind::Permission => "permission",
            ErrorKind::NotFound => "not_found",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::BudgetExhausted => "budget_exhausted",
            ErrorKind::Internal => "internal",
            ErrorKind::Upstream => "upstream",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::UpstreamTimeout => "upstream_timeout",
        }
    }

    /// OpenAI's `error.type`. OpenAI reports every client error other than 429 (bad key, unknown
    /// model included) as `invalid_request_error`, a rate limit as `requests`, a used-up quota as
    /// `insufficient_quota`, and its own failures as `server_error`; the SDKs pick their
    /// exception class from the HTTP status, so this only matters to code that reads the body.
    pub fn openai_type(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest
            | ErrorKind::Authentication
            | ErrorKind::Permission
            | ErrorKind::NotFound
            | ErrorKind::TooLarge => "invalid_request_error",
            ErrorKind::RateLimited => "requests",
            ErrorKind::BudgetExhausted => "insufficient_quota",
            ErrorKind::Internal
            | ErrorKind::Upstream
            | ErrorKind::Unavailable
            | ErrorKind::UpstreamTimeout => "server_error",
        }
    }

    /// Anthropic's `error.type` (docs.anthropic.com/en/api/errors).
    pub fn anthropic_type(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest => "invalid_request_error",
            ErrorKind::Authentication => "authentication_error",
            ErrorKind::Permission => "permission_error",
            ErrorKind::NotFound => "not_found_error",
            ErrorKind::TooLarge => "request_too_large",
            ErrorKind::RateLimited | ErrorKind::BudgetExhausted => "rate_limit_error",
            ErrorKind::Internal | ErrorKind::Upstream => "api_error",
            ErrorKind::Unavailable => "overloaded_error",
            ErrorKind::UpstreamTimeout => "timeout_error",
        }
    }
}

/// An error the gateway answers a client with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct GatewayError {
    kind: ErrorKind,
    message: String,
    param: Option<String>,
    code: Option<Cow<'static, str>>,
    retry_after_s: Option<u64>,
}

impl GatewayError {
    /// An error of this kind with this message (no param, no code).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            param: None,
            code: None,
            retry_after_s: None,
        }
    }

    /// 400 about the request field `param` (`messages[1].content`, `temperature`, ...).
    pub fn invalid_request(message: impl Into<String>, param: Option<&str>) -> Self {
        let mut error = Self::new(ErrorKind::InvalidRequest, message);
        error.param = param.map(str::to_owned);
        error
    }

    /// 401 `invalid_api_key`: no key, or an unknown or revoked one.
    pub fn authentication(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Authentication, message).with_code("invalid_api_key")
    }

    /// 403: the key may not do this.
    pub fn permission(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Permission, message)
    }

    /// 404 `model_not_found`, listing what this gateway serves.
    pub fn model_not_found(model: &str, served: &[&str]) -> Self {
        let message = if served.is_empty() {
            format!("The model `{model}` does not exist: this gateway serves no models.")
        } else {
            format!(
                "The model `{model}` does not exist. This gateway serves: {}.",
                served.join(", ")
            )
        };
        let mut error = Self::new(ErrorKind::NotFound, message).with_code("model_not_found");
        error.param = Some("model".to_owned());
        error
    }

    /// 413: the body is over the configured limit.
    pub fn body_too_large(limit_bytes: usize) -> Self {
        Self::new(
            ErrorKind::TooLarge,
            format!(
                "The request body is larger than this gateway accepts ({} KiB); send a shorter \
                 request or raise gateway.body_limit_kb.",
                limit_bytes / 1024
            ),
        )
        .with_code("request_too_large")
    }

    /// 429 `rate_limit_exceeded`, with the seconds to wait when known (sent as `retry-after`).
    pub fn rate_limited(message: impl Into<String>, retry_after_s: Option<u64>) -> Self {
        let mut error = Self::new(ErrorKind::RateLimited, message).with_code("rate_limit_exceeded");
        error.retry_after_s = retry_after_s;
        error
    }

    /// 429 `insufficient_quota`: the key's budget is spent; retrying will not help.
    pub fn budget_exhausted(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BudgetExhausted, message).with_code("insufficient_quota")
    }

    /// 502: the model failed.
    pub fn upstream(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Upstream, message).with_code("upstream_error")
    }

    /// 504: the model did not answer in time.
    pub fn upstream_timeout(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::UpstreamTimeout, message).with_code("upstream_timeout")
    }

    /// 503: the gateway or the model cannot take the request now (overloaded, shutting down).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }

    /// 500: something failed inside the gateway. Say what, without internals (no SQL, paths).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// Sets the machine-readable code (OpenAI's `error.code`).
    pub fn with_code(mut self, code: impl Into<Cow<'static, str>>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Sets the seconds the client should wait (sent as `retry-after`).
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_s = Some(seconds);
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// The message the client sees.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The request field at fault, if one is.
    pub fn param(&self) -> Option<&str> {
        self.param.as_deref()
    }

    /// The machine-readable code, if any.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// Seconds the client should wait before trying again, if known.
    pub fn retry_after_s(&self) -> Option<u64> {
        self.retry_after_s
    }

    /// `{"error": {"message", "type", "param", "code"}}`.
    pub fn openai_body(&self) -> Value {
        json!({"error": {
            "message": self.message,
            "type": self.kind.openai_type(),
            "param": self.param,
            "code": self.code,
        }})
    }

    /// `{"type": "error", "error": {"type", "message"}}`.
    pub fn anthropic_body(&self) -> Value {
        json!({"type": "error", "error": {
            "type": self.kind.anthropic_type(),
            "message": self.message,
        }})
    }

    /// The body in the shape `api` uses.
    pub fn body(&self, api: Api) -> Value {
        match api {
            Api::OpenAi => self.openai_body(),
            Api::Anthropic => self.anthropic_body(),
        }
    }

    /// The HTTP answer: status, JSON body in `api`'s shape, and `retry-after` when known.
    pub fn into_response(self, api: Api) -> Response {
        let mut response = (self.status(), axum::Json(self.body(api))).into_response();
        if let Some(seconds) = self.retry_after_s {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }

    /// The error to answer when a model failed. The message names the kind of failure and the
    /// provider (its configured name and model id) but never the upstream's own text, which can
    /// echo keys, URLs or the request; log `error` itself for the details.
    pub fn from_provider(error: &ProviderError) -> Self {
        match error {
            ProviderError::InvalidRequest { provider, .. } => Self::invalid_request(
                format!(
                    "{provider} refused the request as invalid (for example a prompt longer \
                     than its context, or a parameter it does not take); the details are in \
                     the gateway's log."
                ),
                None,
            )
            .with_code("upstream_invalid_request"),
            ProviderError::Unsupported { provider, what } => {
                Self::invalid_request(format!("{provider} does not support {what}."), None)
                    .with_code("unsupported_by_model")
            }
            ProviderError::Auth {
                provider, status, ..
            } => {
                let why = if *status == 429 {
                    "the upstream account's quota is used up"
                } else {
                    "the upstream refused the gateway's credentials"
                };
                Self::upstream(format!(
                    "{provider} could not be used: {why}. This is the gateway's configuration, \
                     not your key; tell the gateway's operator."
                ))
            }
            ProviderError::NotFound { provider, .. } => Self::upstream(format!(
                "{provider} was not found upstream (the gateway's configuration names a model \
                 the upstream does not serve); tell the gateway's operator."
            )),
            ProviderError::RateLimited {
                provider,
                retry_after,
                ..
            } => Self::rate_limited(
                format!("{provider} is rate limited; try again later."),
                // Round up: waiting 0 s after "retry after 0.4 s" would come back too early.
                retry_after.map(|d| d.as_secs() + u64::from(d.subsec_nanos() > 0)),
            ),
            ProviderError::Server {
                provider, status, ..
            } => {
                let what = if *status == 0 {
                    "reported an error in the middle of its answer".to_owned()
                } else {
                    format!("failed (HTTP {status})")
                };
                Self::upstream(format!("{provider} {what}."))
            }
            ProviderError::Unavailable { provider, .. } => {
                Self::upstream(format!("{provider} could not be reached or loaded."))
            }
            ProviderError::Protocol { provider, .. } => Self::upstream(format!(
                "{provider} answered with something the gateway could not read."
            )),
            ProviderError::Truncated { provider, .. } => Self::upstream(format!(
                "{provider} stopped before its answer was complete."
            )),
            ProviderError::Engine { provider, .. } => {
                Self::upstream(format!("{provider} failed while generating."))
            }
            ProviderError::Timeout {
                provider,
                phase,
                after,
            } => Self::upstream_timeout(format!(
                "{provider} timed out {phase} after {:.1} s.",
                after.as_secs_f64()
            )),
            // The engine shutting down (the caller going away never reaches a client): a
            // retryable 503 rather than a 4xx that clients would not retry.
            ProviderError::Cancelled { provider } => Self::unavailable(format!(
                "{provider} cancelled the request (it is shutting down); try again."
            )),
            // `ProviderError` is non-exhaustive: a variant added later is a failure of the model.
            _ => Self::upstream("The model failed."),
        }
    }
}

impl From<&ProviderError> for GatewayError {
    fn from(error: &ProviderError) -> Self {
        Self::from_provider(error)
    }
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
