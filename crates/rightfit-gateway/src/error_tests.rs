use std::time::Duration;

use http::StatusCode;
use rightfit_providers::ProviderError;
use serde_json::json;

use super::{ErrorKind, GatewayError};
use crate::api::Api;

const SECRET: &str = "sk-abc123";
const URL: &str = "https://internal.example:8443/v1";

fn provider() -> String {
    "gpt4o (openai model gpt-4o)".to_owned()
}

/// Every variant, each with a message that carries a key and a URL.
fn all_provider_errors() -> Vec<ProviderError> {
    let text = format!("Incorrect API key provided: {SECRET}****. at {URL} body {{\"x\":1}}");
    vec![
        ProviderError::InvalidRequest {
            provider: provider(),
            detail: text.clone(),
        },
        ProviderError::Unsupported {
            provider: provider(),
            what: "log-likelihood",
        },
        ProviderError::Unavailable {
            provider: provider(),
            detail: format!("cannot connect to {URL}: {text}"),
        },
        ProviderError::Protocol {
            provider: provider(),
            detail: text.clone(),
        },
        ProviderError::Truncated {
            provider: provider(),
            detail: text.clone(),
        },
        ProviderError::Engine {
            provider: provider(),
            detail: text.clone(),
        },
        ProviderError::Auth {
            provider: provider(),
            status: 401,
            message: text.clone(),
        },
        ProviderError::NotFound {
            provider: provider(),
            message: text.clone(),
        },
        ProviderError::RateLimited {
            provider: provider(),
            retry_after: Some(Duration::from_millis(2500)),
            message: text.clone(),
        },
        ProviderError::Server {
            provider: provider(),
            status: 500,
            message: text.clone(),
        },
        ProviderError::Timeout {
            provider: provider(),
            phase: "waiting for the first byte",
            after: Duration::from_secs(30),
        },
        ProviderError::Cancelled {
            provider: provider(),
        },
    ]
}

#[test]
fn provider_errors_never_leak_keys_urls_or_bodies() {
    for error in all_provider_errors() {
        let mapped = GatewayError::from_provider(&error);
        for api in [Api::OpenAi, Api::Anthropic] {
            let body = mapped.body(api).to_string();
            assert!(!body.contains("sk-abc"), "{error:?} leaked the key: {body}");
            assert!(
                !body.contains("internal.example"),
                "{error:?} leaked the URL: {body}"
            );
            assert!(
                !body.contains("Incorrect API key"),
                "{error:?} leaked the text: {body}"
            );
            assert!(
                body.contains("gpt4o"),
                "{error:?} does not name the model: {body}"
            );
        }
    }
}

#[test]
fn provider_errors_map_to_statuses() {
    let statuses: Vec<u16> = all_provider_errors()
        .iter()
        .map(|e| GatewayError::from_provider(e).status().as_u16())
        .collect();
    assert_eq!(
        statuses,
        [400, 400, 502, 502, 502, 502, 502, 502, 429, 502, 504, 503]
    );
}

#[test]
fn an_upstream_401_is_not_the_clients_401() {
    let error = GatewayError::from_provider(&ProviderError::Auth {
        provider: provider(),
        status: 401,
        message: format!("Incorrect API key provided: {SECRET}"),
    });
    assert_eq!(error.status(), StatusCode::BAD_GATEWAY);
    assert!(
        error
            .message()
            .contains("the upstream refused the gateway's credentials"),
        "{}",
        error.message()
    );
    let quota = GatewayError::from_provider(&ProviderError::Auth {
        provider: provider(),
        status: 429,
        message: "quota".into(),
    });
    assert!(quota.message().contains("quota is used up"));
}

#[test]
fn upstream_retry_after_is_rounded_up_to_whole_seconds() {
    let error = GatewayError::from_provider(&ProviderError::RateLimited {
        provider: provider(),
        retry_after: Some(Duration::from_millis(2500)),
        message: String::new(),
    });
    assert_eq!(error.retry_after_s(), Some(3));
    assert_eq!(error.code(), Some("rate_limit_exceeded"));
    let exact = GatewayError::from_provider(&ProviderError::RateLimited {
        provider: provider(),
        retry_after: Some(Duration::from_secs(2)),
        message: String::new(),
    });
    assert_eq!(exact.retry_after_s(), Some(2));
}

#[test]
fn openai_bodies_have_openais_shape() {
    let error = GatewayError::invalid_request("bad", Some("messages[1].content"));
    assert_eq!(
        error.openai_body(),
        json!({"error": {"message": "bad", "type": "invalid_request_error", "param": "messages[1].content", "code": null}})
    );
    let error = GatewayError::model_not_found("gpt-5", &["intent", "qwen"]);
    assert_eq!(
        error.openai_body(),
        json!({"error": {
            "message": "The model `gpt-5` does not exist. This gateway serves: intent, qwen.",
            "type": "invalid_request_error", "param": "model", "code": "model_not_found"}})
    );
    let error = GatewayError::budget_exhausted("spent");
    assert_eq!(
        error.openai_body(),
        json!({"error": {"message": "spent", "type": "insufficient_quota", "param": null, "code": "insufficient_quota"}})
    );
}

#[test]
fn anthropic_bodies_have_anthropics_shape() {
    let error = GatewayError::authentication("invalid x-api-key");
    assert_eq!(
        error.anthropic_body(),
        json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}})
    );
}

#[test]
fn each_constructor_has_its_status_and_types() {
    let cases = [
        (
            GatewayError::invalid_request("m", None),
            400,
            "invalid_request_error",
            "invalid_request_error",
        ),
        (
            GatewayError::authentication("m"),
            401,
            "invalid_request_error",
            "authentication_error",
        ),
        (
            GatewayError::permission("m"),
            403,
            "invalid_request_error",
            "permission_error",
        ),
        (
            GatewayError::model_not_found("x", &[]),
            404,
            "invalid_request_error",
            "not_found_error",
        ),
        (
            GatewayError::body_too_large(4096 * 1024),
            413,
            "invalid_request_error",
            "request_too_large",
        ),
        (
            GatewayError::rate_limited("m", None),
            429,
            "requests",
            "rate_limit_error",
        ),
        (
            GatewayError::budget_exhausted("m"),
            429,
            "insufficient_quota",
            "rate_limit_error",
        ),
        (
            GatewayError::internal("m"),
            500,
            "server_error",
            "api_error",
        ),
        (
            GatewayError::upstream("m"),
            502,
            "server_error",
            "api_error",
        ),
        (
            GatewayError::unavailable("m"),
            503,
            "server_error",
            "overloaded_error",
        ),
        (
            GatewayError::upstream_timeout("m"),
            504,
            "server_error",
            "timeout_error",
        ),
    ];
    for (error, status, openai, anthropic) in cases {
        assert_eq!(error.status().as_u16(), status, "{error:?}");
        assert_eq!(error.openai_body()["error"]["type"], openai, "{error:?}");
        assert_eq!(
            error.anthropic_body()["error"]["type"],
            anthropic,
            "{error:?}"
        );
    }
    assert_eq!(
        GatewayError::authentication("m").code(),
        Some("invalid_api_key")
    );
    assert!(
        GatewayError::body_too_large(4096 * 1024)
            .message()
            .contains("4096 KiB")
    );
}

#[tokio::test]
async fn responses_carry_status_json_and_retry_after() {
    let response = GatewayError::rate_limited("slow down", Some(7)).into_response(Api::Anthropic);
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "7");
    assert_eq!(response.headers()["content-type"], "application/json");

    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .expect("the body is in memory");
    let body: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(body["error"]["type"], "rate_limit_error");

    let response = GatewayError::upstream("x").into_response(Api::OpenAi);
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert!(response.headers().get("retry-after").is_none());
}

#[test]
fn kinds_have_metric_names() {
    assert_eq!(ErrorKind::BudgetExhausted.as_str(), "budget_exhausted");
    assert_eq!(
        GatewayError::upstream_timeout("x").kind().as_str(),
        "upstream_timeout"
    );
}
