//! Whether the model can be reached: a cheap, free request (the model list or the model's
//! metadata) to each endpoint.

use std::time::Duration;

use tokio::time::{Instant, timeout_at};

use super::client::HostedProvider;
use crate::provider::Health;

impl HostedProvider {
    /// Asks every endpoint at once. A fleet is ready when one of its endpoints is; the detail
    /// says how many are, and what each answered.
    pub(super) async fn check_health(&self) -> Health {
        let urls = self.pool.urls();
        if let [only] = urls {
            return self.endpoint_health(only).await;
        }
        let each = futures::future::join_all(urls.iter().map(|u| self.endpoint_health(u))).await;
        let ready = each.iter().filter(|h| h.ready).count();
        let details: Vec<&str> = each.iter().map(|h| h.detail.as_str()).collect();
        Health {
            ready: ready > 0,
            detail: format!(
                "{ready} of {} endpoints ready: {}",
                urls.len(),
                details.join("; ")
            ),
        }
    }

    async fn endpoint_health(&self, base: &str) -> Health {
        let url = match self.codec.kind() {
            "anthropic" => format!("{}/v1/models", base.trim_end_matches("/v1")),
            "gemini" => format!("{base}/models/{}", self.model.trim_start_matches("models/")),
            _ => format!("{base}/models"),
        };
        let mut builder = self.client.get(&url);
        for (name, value) in self.codec.headers(self.key.as_ref()) {
            builder = builder.header(name, value);
        }
        let deadline = Instant::now() + self.timeout.min(Duration::from_secs(30));
        let response = match timeout_at(deadline, builder.send()).await {
            Err(_) => {
                return Health {
                    ready: false,
                    detail: format!("{url}: no answer in time"),
                };
            }
            Ok(Err(e)) => {
                return Health {
                    ready: false,
                    detail: self.transport_error(&e, base).to_string(),
                };
            }
            Ok(Ok(r)) => r,
        };
        if response.status().is_success() {
            Health {
                ready: true,
                detail: format!("{url} answered {}", response.status()),
            }
        } else {
            Health {
                ready: false,
                detail: self
                    .status_error(response, deadline, base)
                    .await
                    .to_string(),
            }
        }
    }
}
