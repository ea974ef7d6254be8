//! The classifier's types and its forward pass: settings, layers, and a trained classifier
//! applied in plain Rust (one matrix-vector product per layer), so serving needs no tensor
//! library. A leaf: `train` builds on it.

use serde::{Deserialize, Serialize};

use crate::error::StudentError;

/// The fewest examples each label needs: enough to hold one out for validation and still learn
/// from several.
pub const MIN_EXAMPLES_PER_LABEL: usize = 5;

/// The classifier's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ModelKind {
    /// Multinomial logistic regression (softmax over one linear layer).
    Linear,
    /// One hidden layer of `hidden` ReLU units, then softmax.
    Mlp {
        /// Hidden units.
        hidden: usize,
    },
}

/// Training settings. The defaults train BANKING77-sized data (10,000 rows, 77 labels) in
/// seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainOptions {
    /// Linear or MLP.
    pub model: ModelKind,
    /// L2 penalty on the weights (not the biases), added to the mean loss as `l2/2 · ‖W‖²`.
    pub l2: f32,
    /// Adam's step size.
    pub learning_rate: f32,
    /// Examples per optimiser step.
    pub batch_size: usize,
    /// The most passes over the training rows.
    pub max_epochs: usize,
    /// Stop after this many epochs without a lower validation loss (the best epoch's weights are
    /// kept).
    pub patience: usize,
    /// Share of each label's rows held out for early stopping (0: none; train `max_epochs`).
    pub validation_fraction: f32,
    /// Seed for the split, the initial weights and the order of examples.
    pub seed: u64,
    /// Weigh each label's loss by `n / (labels · n_label)`, so rare labels count as much.
    pub class_weights: bool,
    /// Refuse data where a label has fewer rows than this. Labelled data should cover every
    /// label; answers from a teacher need not (0: a label never given is never predicted).
    pub min_examples_per_label: usize,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            model: ModelKind::Linear,
            l2: 1e-4,
            learning_rate: 3e-3,
            batch_size: 64,
            max_epochs: 200,
            patience: 8,
            validation_fraction: 0.1,
            seed: 0,
            class_weights: false,
            min_examples_per_label: MIN_EXAMPLES_PER_LABEL,
        }
    }
}

/// One dense layer, `y = x W + b`, with `W` stored row-major as `[inputs, outputs]`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Dense {
    pub(crate) inputs: usize,
    pub(crate) outputs: usize,
    pub(crate) weight: Vec<f32>,
    pub(crate) bias: Vec<f32>,
}

impl Dense {
    fn apply(&self, x: &[f32], relu: bool) -> Vec<f32> {
        let mut y = self.bias.clone();
        for (i, &xi) in x.iter().enumerate() {
            if xi == 0.0 {
                continue;
            }
            let row = &self.weight[i * self.outputs..(i + 1) * self.outputs];
            for (yj, wij) in y.iter_mut().zip(row) {
                *yj += xi * wij;
            }
        }
        if relu {
            y.iter_mut().for_each(|v| *v = v.max(0.0));
        }
        y
    }
}

/// A trained classifier: labels, the feature standardisation, and the layers.
#[derive(Debug, Clone, PartialEq)]
pub struct Classifier {
    pub(crate) labels: Vec<String>,
    pub(crate) kind: ModelKind,
    pub(crate) mean: Vec<f32>,
    pub(crate) scale: Vec<f32>,
    pub(crate) layers: Vec<Dense>,
}

impl Classifier {
    /// The labels, in the order of the probabilities.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// Linear or MLP.
    pub fn kind(&self) -> ModelKind {
        self.kind
    }

    /// The embedding dimensions it reads.
    pub fn dims(&self) -> usize {
        self.mean.len()
    }

    /// The probability of each label for one embedding.
    pub fn probabilities(&self, embedding: &[f32]) -> Result<Vec<f32>, StudentError> {
        if embedding.len() != self.dims() {
            return Err(StudentError::Input(format!(
                "an embedding of {} dimensions, but the classifier was trained on {} — use the \
                 embedding model it was trained with",
                embedding.len(),
                self.dims()
            )));
        }
        if let Some(i) = embedding.iter().position(|v| !v.is_finite()) {
            return Err(StudentError::Input(format!(
                "the embedding has a non-finite value ({}) at dimension {i}",
                embedding[i]
            )));
        }
        let mut x: Vec<f32> = embedding
            .iter()
            .zip(self.mean.iter().zip(&self.scale))
            .map(|(v, (m, s))| (v - m) / s)
            .collect();
        let last = self.layers.len().saturating_sub(1);
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.apply(&x, i < last);
        }
        softmax_in_place(&mut x);
        Ok(x)
    }

    /// The most probable label's index and its probability.
    pub fn predict(&self, embedding: &[f32]) -> Result<(usize, f32), StudentError> {
        let p = self.probabilities(embedding)?;
        Ok(argmax(&p))
    }

    /// Share of `embeddings` whose most probable label is `targets`' (0 for no rows).
    pub fn accuracy(
        &self,
        embeddings: &[Vec<f32>],
        targets: &[usize],
    ) -> Result<f64, StudentError> {
        let mut right = 0usize;
        for (x, &y) in embeddings.iter().zip(targets) {
            if self.predict(x)?.0 == y {
                right += 1;
            }
        }
        Ok(if targets.is_empty() {
            0.0
        } else {
            right as f64 / targets.len() as f64
        })
    }
}

/// Index and value of the largest entry (the first of equals; `(0, 0.0)` when empty).
pub(crate) fn argmax(p: &[f32]) -> (usize, f32) {
    let mut best = (0, 0.0);
    for (i, &v) in p.iter().enumerate() {
        if i == 0 || v > best.1 {
            best = (i, v);
        }
    }
    best
}

fn softmax_in_place(x: &mut [f32]) {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in x.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    if sum > 0.0 {
        x.iter_mut().for_each(|v| *v /= sum);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_by_two() -> Classifier {
        Classifier {
            labels: vec!["a".into(), "b".into()],
            kind: ModelKind::Linear,
            mean: vec![0.0, 0.0],
            scale: vec![1.0, 1.0],
            layers: vec![Dense {
                inputs: 2,
                outputs: 2,
                weight: vec![1.0, 0.0, 0.0, 1.0],
                bias: vec![0.0, 0.0],
            }],
        }
    }

    #[test]
    fn probabilities_are_a_softmax_of_the_scores() {
        let c = two_by_two();
        let p = c.probabilities(&[2.0, 0.0]).expect("fits");
        let e = (2.0f32).exp();
        assert!((p[0] - e / (e + 1.0)).abs() < 1e-6, "{p:?}");
        assert_eq!(c.predict(&[0.0, 3.0]).expect("fits").0, 1);
    }

    #[test]
    fn wrong_dimensions_and_nan_are_input_errors() {
        let c = two_by_two();
        let e = c.probabilities(&[1.0]).expect_err("dims");
        assert!(e.to_string().contains("1 dimensions"), "{e}");
        let e = c.probabilities(&[1.0, f32::NAN]).expect_err("nan");
        assert!(e.to_string().contains("dimension 1"), "{e}");
    }
}
