//! LoRA settings and weights: which projections of which layers get a low-rank update
//! `W·x + (alpha/r)·B·A·x`, with `A [r, in]` and `B [out, r]` named after the base tensor they
//! update (`blk.3.attn_q.weight`), exactly as llama.cpp's adapter loader pairs them.

use candle_core::{DType, Device, Tensor, Var};
use rand_chacha::ChaCha8Rng;
use rand_core::RngCore;

use crate::base::Hparams;
use crate::error::{DistillError, Result};

/// A projection inside a transformer block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Projection {
    /// `attn_q`.
    Q,
    /// `attn_k`.
    K,
    /// `attn_v`.
    V,
    /// `attn_output`.
    O,
    /// `ffn_gate`.
    Gate,
    /// `ffn_up`.
    Up,
    /// `ffn_down`.
    Down,
}

impl Projection {
    /// Every projection, in block order.
    pub const ALL: [Projection; 7] = [
        Projection::Q,
        Projection::K,
        Projection::V,
        Projection::O,
        Projection::Gate,
        Projection::Up,
        Projection::Down,
    ];
    /// The attention projections.
    pub const ATTENTION: [Projection; 4] =
        [Projection::Q, Projection::K, Projection::V, Projection::O];

    /// The GGUF tensor stem (`attn_q`).
    pub fn gguf_stem(self) -> &'static str {
        match self {
            Projection::Q => "attn_q",
            Projection::K => "attn_k",
            Projection::V => "attn_v",
            Projection::O => "attn_output",
            Projection::Gate => "ffn_gate",
            Projection::Up => "ffn_up",
            Projection::Down => "ffn_down",
        }
    }

    /// Parses a short name (`q`, `k`, `v`, `o`, `gate`, `up`, `down`) or a GGUF stem.
    pub fn parse(s: &str) -> Option<Projection> {
        Projection::ALL
            .into_iter()
            .find(|p| p.gguf_stem() == s || p.short() == s)
    }

    /// The short name (`q`, `gate`, ...).
    pub fn short(self) -> &'static str {
        match self {
            Projection::Q => "q",
            Projection::K => "k",
            Projection::V => "v",
            Projection::O => "o",
            Projection::Gate => "gate",
            Projection::Up => "up",
            Projection::Down => "down",
        }
    }

    /// `(out, in)` of this projection's weight.
    pub fn dims(self, hp: &Hparams) -> (usize, usize) {
        let q = hp.n_head * hp.head_dim;
        let kv = hp.n_head_kv * hp.head_dim;
        match self {
            Projection::Q => (q, hp.n_embd),
            Projection::K | Projection::V => (kv, hp.n_embd),
            Projection::O => (hp.n_embd, q),
            Projection::Gate | Projection::Up => (hp.n_ff, hp.n_embd),
            Projection::Down => (hp.n_embd, hp.n_ff),
        }
    }

    /// The base tensor name in layer `layer` (`blk.3.attn_q.weight`).
    pub fn tensor_name(self, layer: usize) -> String {
        format!("blk.{layer}.{}.weight", self.gguf_stem())
    }
}

/// Which layers get LoRA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layers {
    /// Every layer.
    All,
    /// The top `n` layers only: backward stops below them.
    Top(usize),
}

/// LoRA hyper-parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct LoraConfig {
    /// Rank `r`.
    pub rank: usize,
    /// `alpha`; the update is scaled by `alpha / rank` (llama.cpp's rule).
    pub alpha: f32,
    /// Projections that get an update.
    pub targets: Vec<Projection>,
    /// Layers that get an update.
    pub layers: Layers,
}

impl Default for LoraConfig {
    fn default() -> Self {
        LoraConfig {
            rank: 8,
            alpha: 16.0,
            targets: Projection::ALL.to_vec(),
            layers: Layers::All,
        }
    }
}

impl LoraConfig {
    /// The update's scale, `alpha / rank`.
    pub fn scale(&self) -> f64 {
        f64::from(self.alpha) / self.rank as f64
    }

    /// Checks the settings against a model shape.
    pub fn validate(&self, hp: &Hparams) -> Result<()> {
        if self.rank == 0 {
            return Err(DistillError::Settings(
                "LoRA rank must be at least 1".into(),
            ));
        }
        // llama.cpp treats alpha = 0 as "no scaling" rather than a zero update.
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return Err(DistillError::Settings(format!(
                "LoRA alpha must be positive (got {})",
                self.alpha
            )));
        }
        if self.targets.is_empty() {
            return Err(DistillError::Settings(
                "no projections to put LoRA on".into(),
            ));
        }
        if let Layers::Top(n) = self.layers
            && (n == 0 || n > hp.n_layer)
        {
            return Err(DistillError::Settings(format!(
                "LoRA on the top {n} layers, but the model has {} layers",
                hp.n_layer
            )));
        }
        Ok(())
    }

    /// The first layer that gets LoRA.
    pub fn first_layer(&self, n_layer: usize) -> usize {
        match self.layers {
            Layers::All => 0,
            Layers::Top(n) => n_layer.saturating_sub(n),
        }
    }
}

/// One LoRA pair.
#[derive(Debug, Clone)]
pub struct LoraPair {
    /// Layer index.
    pub layer: usize,
    /// Projection.
    pub proj: Projection,
    /// `[r, in]`.
    pub a: Var,
    /// `[out, r]`.
    pub b: Var,
}

impl LoraPair {
    /// The base tensor this pair updates.
    pub fn base_name(&self) -> String {
        self.proj.tensor_name(self.layer)
    }
}

/// All LoRA pairs of a model, in (layer, projection) order.
#[derive(Debug, Clone)]
pub struct LoraWeights {
    /// Settings.
    pub config: LoraConfig,
    /// Pairs.
    pub pairs: Vec<LoraPair>,
}

/// Uniform in `[-bound, bound)` from the seeded generator.
pub(crate) fn uniform(rng: &mut ChaCha8Rng, n: usize, bound: f32) -> Vec<f32> {
    (0..n)
        .map(|_| {
            // 24 random bits: exactly representable in f32.
            let u = (rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32;
            (2.0 * u - 1.0) * bound
        })
        .collect()
}

impl LoraWeights {
    /// Fresh weights as PEFT starts them: `A` uniform in ±1/√in (Kaiming-uniform with a = √5),
    /// `B` zero, so training starts from the base model exactly.
    pub fn init(config: &LoraConfig, hp: &Hparams, rng: &mut ChaCha8Rng) -> Result<LoraWeights> {
        config.validate(hp)?;
        let mut pairs = Vec::new();
        for layer in config.first_layer(hp.n_layer)..hp.n_layer {
            for proj in Projection::ALL {
                if !config.targets.contains(&proj) {
                    continue;
                }
                let (out, inp) = proj.dims(hp);
                let bound = 1.0 / (inp as f32).sqrt();
                let a = Tensor::from_vec(
                    uniform(rng, config.rank * inp, bound),
                    (config.rank, inp),
                    &Device::Cpu,
                )?;
                pairs.push(LoraPair {
                    layer,
                    proj,
                    a: Var::from_tensor(&a)?,
                    b: Var::zeros((out, config.rank), DType::F32, &Device::Cpu)?,
                });
            }
        }
        Ok(LoraWeights {
            config: config.clone(),
            pairs,
        })
    }

    /// The pair for a layer's projection, if it has one.
    pub fn get(&self, layer: usize, proj: Projection) -> Option<&LoraPair> {
        self.pairs
            .iter()
            .find(|p| p.layer == layer && p.proj == proj)
    }

    /// Every trainable tensor (A then B of each pair).
    pub fn vars(&self) -> Vec<&Var> {
        self.pairs.iter().flat_map(|p| [&p.a, &p.b]).collect()
    }

    /// Trainable parameters.
    pub fn parameter_count(&self) -> usize {
        self.vars().iter().map(|v| v.elem_count()).sum()
    }

    /// Sets every `B` to uniform noise in ±`bound` (tests: a non-zero update to compare).
    pub fn randomize_b(&self, rng: &mut ChaCha8Rng, bound: f32) -> Result<()> {
        for p in &self.pairs {
            let n = p.b.elem_count();
            let t = Tensor::from_vec(uniform(rng, n, bound), p.b.shape(), &Device::Cpu)?;
            p.b.set(&t)?;
        }
        Ok(())
    }
}
