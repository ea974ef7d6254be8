//! Embeddings over HTTP: the same posting, retries, timeouts, rate limits and error mapping as
//! chat, with the protocol's [`EmbeddingCodec`] for the URL and the bodies.

use futures::StreamExt;
use rightfit_types::{EmbeddingRequest, EmbeddingResponse};
use tokio::time::Instant;

use super::super::codec::{Embedded, EmbeddingCodec};
use super::client::HostedProvider;
use super::live::read_all;
use crate::error::ProviderError;
use crate::provider::unit_length;

impl HostedProvider {
    /// Embeds every input, in batches the API accepts, in input order.
    pub(super) async fn embed_texts(
        &self,
        request: EmbeddingRequest,
    ) -> Result<EmbeddingResponse, ProviderError> {
        let codec = self
            .codec
            .embeddings()
            .map_err(|what| ProviderError::Unsupported {
                provider: self.label.clone(),
                what,
            })?;
        let mut embeddings = Vec::with_capacity(request.inputs.len());
        let mut prompt_tokens = 0u32;
        for batch in request.inputs.chunks(codec.max_inputs().max(1)) {
            let embedded = self.embed_batch(codec, batch).await?;
            embeddings.extend(embedded.vectors);
            prompt_tokens = prompt_tokens.saturating_add(embedded.prompt_tokens.unwrap_or(0));
        }
        if let Some(first) = embeddings.first() {
            let dims = first.len();
            let odd = embeddings
                .iter()
                .position(|v| v.len() != dims)
                .filter(|_| dims > 0);
            if dims == 0 || odd.is_some() {
                let i = odd.unwrap_or(0);
                return Err(ProviderError::Protocol {
                    provider: self.label.clone(),
                    detail: format!(
                        "vector {i} has {} dimensions, vector 0 has {dims}",
                        embeddings[i].len()
                    ),
                });
            }
        }
        if request.normalize {
            embeddings.iter_mut().for_each(|v| unit_length(v));
        }
        Ok(EmbeddingResponse {
            model: self.model.clone(),
            embeddings,
            prompt_tokens,
        })
    }

    /// One request for `inputs`, retried as a chat request is.
    async fn embed_batch(
        &self,
        codec: &dyn EmbeddingCodec,
        inputs: &[String],
    ) -> Result<Embedded, ProviderError> {
        let body = &codec.embed_body(&self.model, inputs);
        let chars: usize = inputs.iter().map(String::len).sum();
        let (_, estimate) = self.admit((chars / 4) as f64).await;
        let started = Instant::now();
        let (embedded, _) = self
            .retrying(started, move |base| async move {
                let deadline = Instant::now() + self.timeout;
                let url = codec.embed_url(&base, &self.model);
                let response = self.post(&base, &url, body, false, deadline).await?;
                let mut stream = response.bytes_stream().boxed();
                let bytes = read_all(&mut stream, deadline).await.map_err(|e| {
                    self.read_error(
                        e,
                        "before the answer was complete (timeout_s)",
                        self.timeout,
                    )
                })?;
                let embedded = self.read_json(&bytes, |v| codec.parse_embeddings(v))?;
                if embedded.vectors.len() != inputs.len() {
                    return Err(ProviderError::Protocol {
                        provider: self.label.clone(),
                        detail: format!(
                            "sent {} text(s), the answer has {} vector(s)",
                            inputs.len(),
                            embedded.vectors.len()
                        ),
                    });
                }
                Ok(embedded)
            })
            .await?;
        self.settle(estimate, embedded.prompt_tokens).await;
        Ok(embedded)
    }
}
