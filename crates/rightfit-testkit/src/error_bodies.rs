//! Each protocol's error responses, worded and shaped as the real service does: used by its
//! generation handler (`openai.rs`, `gemini.rs`) and by its embeddings handler
//! (`embeddings.rs`), which therefore need not import each other.

/// OpenAI's: `{"error": {"message", "type", "param", "code"}}`.
pub(crate) mod openai {
    use axum::body::Body;
    use http::{HeaderValue, Response};
    use serde_json::{Value, json};

    use crate::respond;
    use crate::shared::Shared;

    /// 404 `model_not_found` for a model the server does not know.
    pub(crate) fn check_model(shared: &Shared, model: &str) -> Result<(), Response<Body>> {
        if shared.knows_model(model) {
            return Ok(());
        }
        let message =
            format!("The model `{model}` does not exist or you do not have access to it.");
        Err(error(
            404,
            &message,
            "invalid_request_error",
            None,
            Some("model_not_found"),
        ))
    }

    pub(crate) fn json_ok(value: &Value) -> Response<Body> {
        let mut response = Response::new(Body::from(respond::to_vec(value)));
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }

    /// `{"error": {"message", "type", "param", "code"}}` with this status.
    pub(crate) fn error(
        status: u16,
        message: &str,
        kind: &str,
        param: Option<&str>,
        code: Option<&str>,
    ) -> Response<Body> {
        let body =
            json!({"error": {"message": message, "type": kind, "param": param, "code": code}});
        let mut response = json_ok(&body);
        *response.status_mut() = respond::status(status);
        response
    }

    /// The error a scripted `Status` (or `RateLimited`) step answers with, as OpenAI words it.
    pub(crate) fn scripted_error(status: u16, model: &str) -> Response<Body> {
        let (message, kind, code) = match status {
            400 => (
                "Invalid request (scripted by the test server).".to_owned(),
                "invalid_request_error",
                None,
            ),
            401 => (
                "Incorrect API key provided.".to_owned(),
                "invalid_request_error",
                Some("invalid_api_key"),
            ),
            403 => (
                "Country, region, or territory not supported".to_owned(),
                "request_forbidden",
                Some("unsupported_country_region_territory"),
            ),
            404 => (
                format!("The model `{model}` does not exist or you do not have access to it."),
                "invalid_request_error",
                Some("model_not_found"),
            ),
            429 => (
                format!(
                    "Rate limit reached for {model} in organization org-testkit on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s."
                ),
                "requests",
                Some("rate_limit_exceeded"),
            ),
            503 => (
                "The engine is currently overloaded, please try again later.".to_owned(),
                "server_error",
                None,
            ),
            s if s >= 500 => (
                "The server had an error while processing your request. Sorry about that!"
                    .to_owned(),
                "server_error",
                None,
            ),
            _ => (
                format!("Request failed with status {status}."),
                "invalid_request_error",
                None,
            ),
        };
        error(status, &message, kind, None, code)
    }
}

/// Gemini's: `{"error": {"code", "message", "status"}}`, the status a gRPC name.
pub(crate) mod gemini {
    use axum::body::Body;
    use http::{HeaderValue, Response};
    use serde_json::{Value, json};

    use crate::respond;

    pub(crate) fn json_response(status: u16, value: &Value) -> Response<Body> {
        let mut response = Response::new(Body::from(respond::to_vec(value)));
        *response.status_mut() = respond::status(status);
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=UTF-8"),
        );
        response
    }

    /// The gRPC status name Google puts beside an HTTP status.
    pub(crate) fn status_name(status: u16) -> &'static str {
        match status {
            400 => "INVALID_ARGUMENT",
            401 => "UNAUTHENTICATED",
            403 => "PERMISSION_DENIED",
            404 => "NOT_FOUND",
            409 => "ABORTED",
            429 => "RESOURCE_EXHAUSTED",
            499 => "CANCELLED",
            500 => "INTERNAL",
            501 => "NOT_IMPLEMENTED",
            503 => "UNAVAILABLE",
            504 => "DEADLINE_EXCEEDED",
            _ => "UNKNOWN",
        }
    }

    pub(crate) fn error_body(status: u16, message: &str, details: Option<Value>) -> Value {
        let mut error = json!({"code": status, "message": message, "status": status_name(status)});
        if let (Some(details), Value::Object(map)) = (details, &mut error) {
            map.insert("details".to_owned(), details);
        }
        json!({ "error": error })
    }

    pub(crate) fn error(status: u16, message: &str, details: Option<Value>) -> Response<Body> {
        json_response(status, &error_body(status, message, details))
    }

    /// The error a scripted `Status` (or `RateLimited`) step answers with, as Gemini words it.
    pub(crate) fn scripted_error(status: u16, model: &str) -> Response<Body> {
        let message = match status {
            400 => "Request contains an invalid argument.".to_owned(),
            401 => "Request had invalid authentication credentials.".to_owned(),
            403 => "The caller does not have permission".to_owned(),
            404 => format!("models/{model} is not found"),
            429 => "Resource has been exhausted (e.g. check quota).".to_owned(),
            500 => "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting".to_owned(),
            503 => "The model is overloaded. Please try again later.".to_owned(),
            _ => format!("Request failed with status {status}."),
        };
        error(status, &message, None)
    }
}
