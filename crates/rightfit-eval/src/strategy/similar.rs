//! Few-shot examples chosen per input: the `k` examples of the pool whose prompts are most
//! similar to the input's (cosine of unit-length embeddings from the embedder model).
//!
//! The pool is embedded once per run and embedder, on first use; each input costs one
//! embedding call, counted in its latency. The chosen examples are shown most similar last,
//! next to the input.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use rightfit_config::project::ModelConfig;
use rightfit_providers::Provider;
use rightfit_types::EmbeddingRequest;
use tokio::sync::Mutex;

use crate::example::Example;
use crate::outcome::Outcome;
use crate::prompt::Templates;

/// Inputs per embedding request when embedding the pool.
const BATCH: usize = 32;

/// The pool's embeddings, per embedder model, computed on first use.
#[derive(Default)]
pub struct SimilarShots {
    pools: Mutex<BTreeMap<String, Arc<Vec<Vec<f32>>>>>,
}

impl std::fmt::Debug for SimilarShots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimilarShots").finish_non_exhaustive()
    }
}

/// Indices of the `k` rows most similar to `query` (dot product; vectors are unit length),
/// least similar first; ties go to the earlier row.
pub fn nearest(pool: &[Vec<f32>], query: &[f32], k: usize) -> Vec<usize> {
    let mut scored: Vec<(usize, f32)> = pool
        .iter()
        .enumerate()
        .map(|(i, v)| (i, v.iter().zip(query).map(|(a, b)| a * b).sum()))
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.truncate(k);
    scored.reverse();
    scored.into_iter().map(|(i, _)| i).collect()
}

async fn embed(
    provider: &Arc<dyn Provider>,
    inputs: Vec<String>,
) -> Result<(Vec<Vec<f32>>, u32), String> {
    let n = inputs.len();
    let r = provider
        .embed(EmbeddingRequest {
            model: String::new(),
            inputs,
            normalize: true,
        })
        .await
        .map_err(|e| e.to_string())?;
    if r.embeddings.len() != n {
        return Err(format!(
            "{}: {} embeddings for {n} inputs",
            provider.name(),
            r.embeddings.len()
        ));
    }
    Ok((r.embeddings, r.prompt_tokens))
}

impl SimilarShots {
    async fn pool(
        &self,
        (templates, shots): (&Templates, &[Example]),
        embedder: &str,
        provider: &Arc<dyn Provider>,
    ) -> Result<Arc<Vec<Vec<f32>>>, String> {
        let mut pools = self.pools.lock().await;
        if let Some(p) = pools.get(embedder) {
            return Ok(p.clone());
        }
        let texts = shots
            .iter()
            .map(|s| templates.task(s).map(|(_, prompt)| prompt))
            .collect::<Result<Vec<_>, _>>()?;
        let mut vectors = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(BATCH) {
            let (v, _) = embed(provider, chunk.to_vec()).await?;
            vectors.extend(v);
        }
        let pool = Arc::new(vectors);
        pools.insert(embedder.to_owned(), pool.clone());
        Ok(pool)
    }

    /// The `k` pool examples nearest to `example`, and the embedding call that chose them
    /// (its text lists the chosen examples' ids).
    pub(super) async fn choose(
        &self,
        (templates, shots): (&Templates, &[Example]),
        (embedder, model, provider): (&str, &ModelConfig, &Arc<dyn Provider>),
        k: usize,
        example: &Example,
    ) -> Result<(Vec<Example>, Option<Outcome>), String> {
        let pool = self.pool((templates, shots), embedder, provider).await?;
        let (_, prompt) = templates.task(example)?;
        let started = Instant::now();
        let (mut query, tokens) = embed(provider, vec![prompt]).await?;
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        let query = query.pop().unwrap_or_default();
        let chosen: Vec<Example> = nearest(&pool, &query, k)
            .into_iter()
            .map(|i| shots[i].clone())
            .collect();
        let ids: Vec<&str> = chosen.iter().map(|s| s.id.as_str()).collect();
        let outcome = Outcome {
            text: format!("chosen examples: {}", ids.join(", ")),
            latency_ms,
            tokens_in: u64::from(tokens),
            cost_usd: model.request_cost(u64::from(tokens), 0, latency_ms),
            calls: 1,
            ..Outcome::default()
        };
        Ok((chosen, Some(outcome)))
    }
}

#[cfg(test)]
mod tests {
    use super::nearest;

    #[test]
    fn the_nearest_rows_come_most_similar_last() {
        let pool = vec![
            vec![1.0, 0.0],
            vec![0.0, 1.0],
            vec![0.6, 0.8],
            vec![0.8, 0.6],
            vec![0.8, 0.6],
        ];
        // Similarities to (1, 0): 1.0, 0.0, 0.6, 0.8, 0.8.
        assert_eq!(nearest(&pool, &[1.0, 0.0], 3), vec![4, 3, 0]);
        assert_eq!(nearest(&pool, &[0.0, 1.0], 1), vec![1]);
        assert_eq!(nearest(&pool, &[0.0, 1.0], 9).len(), 5);
    }
}
