//! Turning what went wrong into errors a person can act on, with the key kept out of them.

use std::time::Duration;

use bytes::Bytes;
use rightfit_config::Secret;
use tokio::time::{Instant, timeout_at};

use super::super::codec::StreamFault;
use super::super::retry::parse_retry_after;
use super::client::HostedProvider;
use crate::error::ProviderError;

impl HostedProvider {
    /// The error for a request to the endpoint `base` that got no answer.
    pub(super) fn transport_error(&self, e: &reqwest::Error, base: &str) -> ProviderError {
        let detail = self.redact(&error_chain(e));
        if e.is_connect() && e.is_timeout() {
            ProviderError::Timeout {
                provider: self.label.clone(),
                phase: "connecting (connect_timeout_s)",
                after: Duration::ZERO,
            }
        } else if e.is_connect() {
            ProviderError::Unavailable {
                provider: self.label.clone(),
                detail: format!("cannot connect to {base}: {detail}"),
            }
        } else {
            ProviderError::Unavailable {
                provider: self.label.clone(),
                detail: format!("the connection failed: {detail}"),
            }
        }
    }

    /// Turns an unsuccessful response from the endpoint `base` into the error a person can act on.
    pub(super) async fn status_error(
        &self,
        response: reqwest::Response,
        deadline: Instant,
        base: &str,
    ) -> ProviderError {
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let mut retry_after = parse_retry_after(
            header("retry-after").as_deref(),
            header("retry-after-ms").as_deref(),
        );
        let body = match timeout_at(deadline, response.bytes()).await {
            Ok(Ok(b)) => b,
            _ => Bytes::new(),
        };
        if retry_after.is_none() {
            retry_after = gemini_retry_delay(&body);
        }
        let parsed = self.codec.error_body(&body);
        let kind = parsed.as_ref().and_then(|e| e.kind.clone());
        let message = match &parsed {
            Some(e) => match &e.kind {
                Some(k) if !e.message.contains(k.as_str()) => format!("{} ({k})", e.message),
                _ => e.message.clone(),
            },
            None if body.is_empty() => "no error body".to_owned(),
            None => format!("unexpected error body: {}", excerpt(&body)),
        };
        let message = self.redact(&message);
        let provider = self.label.clone();
        let key_hint = match &self.key_source {
            Some(var) => format!("check the key in ${var}"),
            None => "this server wants a key: set api_key = \"env:VARIABLE\"".to_owned(),
        };
        match status {
            // Gemini answers a bad key with 400 INVALID_ARGUMENT "API key not valid".
            400 if message.to_ascii_lowercase().contains("api key") => ProviderError::Auth {
                provider,
                status,
                message: format!("{message} — {key_hint}"),
            },
            401 | 403 => ProviderError::Auth {
                provider,
                status,
                message: format!("{message} — {key_hint}"),
            },
            404 => ProviderError::NotFound {
                provider,
                message: format!(
                    "{message} — is the model '{}' served at {base}?",
                    self.model
                ),
            },
            429 if kind.as_deref() == Some("insufficient_quota") => ProviderError::Auth {
                provider,
                status,
                message: format!("{message} — the account's quota is used up; retrying won't help"),
            },
            429 => ProviderError::RateLimited {
                provider,
                retry_after,
                message,
            },
            503 if retry_after.is_some() => ProviderError::RateLimited {
                provider,
                retry_after,
                message,
            },
            408 | 409 | 425 | 500..=599 => ProviderError::Server {
                provider,
                status,
                message,
            },
            _ => ProviderError::InvalidRequest {
                provider,
                detail: format!("HTTP {status}: {message}"),
            },
        }
    }

    /// Removes the key, and the masked fragments of it that some APIs echo, from a message.
    pub(super) fn redact(&self, text: &str) -> String {
        let Some(key) = &self.key else {
            return text.to_owned();
        };
        redact(text, key.expose())
    }

    pub(super) fn fault(&self, fault: StreamFault) -> ProviderError {
        map_fault(&self.label, self.key.as_ref(), fault)
    }
}

/// The error for a stream that could not be read.
pub(super) fn map_fault(label: &str, key: Option<&Secret>, fault: StreamFault) -> ProviderError {
    let provider = label.to_owned();
    match fault {
        StreamFault::Upstream { message, kind } => {
            let message = match key {
                Some(k) => redact(&message, k.expose()),
                None => message,
            };
            let transient = kind.as_deref().is_none_or(is_transient_kind);
            let message = match kind {
                Some(k) => format!("error event in the stream: {message} ({k})"),
                None => format!("error event in the stream: {message}"),
            };
            if transient {
                ProviderError::Server {
                    provider,
                    status: 0,
                    message,
                }
            } else {
                ProviderError::InvalidRequest {
                    provider,
                    detail: message,
                }
            }
        }
        StreamFault::Protocol(detail) => ProviderError::Protocol { provider, detail },
        StreamFault::Truncated(detail) => ProviderError::Truncated { provider, detail },
    }
}

fn is_transient_kind(kind: &str) -> bool {
    let k = kind.to_ascii_lowercase();
    [
        "overloaded",
        "rate_limit",
        "api_error",
        "server",
        "unavailable",
        "internal",
        "resource_exhausted",
        "timeout",
    ]
    .iter()
    .any(|t| k.contains(t))
}

pub(super) fn annotate(error: ProviderError, note: &str) -> ProviderError {
    match error {
        ProviderError::Server {
            provider,
            status,
            message,
        } => ProviderError::Server {
            provider,
            status,
            message: format!("{message}; {note}"),
        },
        ProviderError::RateLimited {
            provider,
            retry_after,
            message,
        } => ProviderError::RateLimited {
            provider,
            retry_after,
            message: format!("{message}; {note}"),
        },
        ProviderError::Unavailable { provider, detail } => ProviderError::Unavailable {
            provider,
            detail: format!("{detail}; {note}"),
        },
        ProviderError::Truncated { provider, detail } => ProviderError::Truncated {
            provider,
            detail: format!("{detail}; {note}"),
        },
        other => other,
    }
}

/// Removes `key`, and words that hold a recognisable piece of it, from `text`.
pub(crate) fn redact(text: &str, key: &str) -> String {
    if key.is_empty() {
        return text.to_owned();
    }
    let text = text.replace(key, "***");
    if key.len() < 12 {
        return text;
    }
    let (head, tail) = (&key[..6.min(key.len())], &key[key.len() - 4..]);
    text.split_inclusive(char::is_whitespace)
        .map(|word| {
            let w = word.trim_end();
            if w.contains(head) || (w.contains('*') && w.contains(tail)) {
                format!("***{}", &word[w.len()..])
            } else {
                word.to_owned()
            }
        })
        .collect()
}

/// Gemini puts the wait in the body: `"retryDelay": "30s"`.
pub(super) fn gemini_retry_delay(body: &[u8]) -> Option<Duration> {
    let text = std::str::from_utf8(body).ok()?;
    let at = text.find("\"retryDelay\"")?;
    let rest = &text[at + "\"retryDelay\"".len()..];
    let start = rest.find('"')? + 1;
    let end = start + rest[start..].find('"')?;
    let secs: f64 = rest[start..end].strip_suffix('s')?.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

pub(super) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_removes_the_key_and_masked_echoes() {
        let key = "sk-proj-abcdefghijklmnop1234";
        let msg =
            format!("Incorrect API key provided: sk-proj-****************1234. Also {key} here.");
        let out = redact(&msg, key);
        assert!(!out.contains(key), "{out}");
        assert!(!out.contains("sk-proj"), "{out}");
        assert!(out.contains("Incorrect API key provided: ***"), "{out}");
        assert_eq!(redact("nothing to hide", key), "nothing to hide");
    }

    #[test]
    fn gemini_retry_delay_is_read_from_the_body() {
        let body = br#"{"error":{"code":429,"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"7s"}]}}"#;
        assert_eq!(gemini_retry_delay(body), Some(Duration::from_secs(7)));
        assert_eq!(gemini_retry_delay(b"{}"), None);
    }
}
