//! AdamW over the LoRA tensors, global-norm gradient clipping and a warmup + cosine schedule.
//!
//! Written out rather than taken from `candle_nn::AdamW` so that the moments can be saved in a
//! checkpoint and restored: a resumed run continues exactly where it stopped.

use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};

use crate::error::{DistillError, Result};

/// Optimiser and schedule settings.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimConfig {
    /// Peak learning rate.
    pub lr: f64,
    /// Adam β₁.
    pub beta1: f64,
    /// Adam β₂.
    pub beta2: f64,
    /// Adam ε.
    pub eps: f64,
    /// Decoupled weight decay.
    pub weight_decay: f64,
    /// Clip the global gradient norm to this (0: no clipping).
    pub clip_norm: f64,
    /// Steps of linear warmup from 0 to `lr`.
    pub warmup_steps: usize,
    /// Total steps; after warmup the rate follows a cosine down to `min_lr_ratio · lr` here.
    pub total_steps: usize,
    /// Final learning rate as a fraction of the peak.
    pub min_lr_ratio: f64,
}

impl Default for OptimConfig {
    fn default() -> Self {
        OptimConfig {
            lr: 2e-4,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            clip_norm: 1.0,
            warmup_steps: 10,
            total_steps: 1000,
            min_lr_ratio: 0.1,
        }
    }
}

impl OptimConfig {
    /// The learning rate of step `step` (0-based).
    pub fn lr_at(&self, step: usize) -> f64 {
        if step < self.warmup_steps {
            return self.lr * (step + 1) as f64 / self.warmup_steps as f64;
        }
        let span = self.total_steps.saturating_sub(self.warmup_steps).max(1);
        let done = ((step - self.warmup_steps) as f64 / span as f64).min(1.0);
        let cosine = 0.5 * (1.0 + (std::f64::consts::PI * done).cos());
        self.lr * (self.min_lr_ratio + (1.0 - self.min_lr_ratio) * cosine)
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        let ok = self.lr > 0.0
            && (0.0..1.0).contains(&self.beta1)
            && (0.0..1.0).contains(&self.beta2)
            && self.eps > 0.0
            && self.weight_decay >= 0.0
            && self.clip_norm >= 0.0
            && (0.0..=1.0).contains(&self.min_lr_ratio)
            && self.total_steps > 0;
        if ok {
            Ok(())
        } else {
            Err(DistillError::Settings(format!(
                "optimiser settings {self:?}"
            )))
        }
    }
}

/// Adam's running moments for one tensor.
#[derive(Debug, Clone)]
pub struct Moments {
    /// First moment.
    pub m: Tensor,
    /// Second moment.
    pub v: Tensor,
}

/// AdamW state over a fixed list of variables.
#[derive(Debug)]
pub struct AdamW {
    /// Settings.
    pub config: OptimConfig,
    vars: Vec<Var>,
    /// One per variable, same order.
    pub moments: Vec<Moments>,
    /// Updates applied so far.
    pub step: usize,
}

/// What one update did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UpdateStats {
    /// Learning rate used.
    pub lr: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
}

impl AdamW {
    /// Fresh state (zero moments).
    pub fn new(vars: Vec<Var>, config: OptimConfig) -> Result<AdamW> {
        config.validate()?;
        let moments = vars
            .iter()
            .map(|v| {
                Ok(Moments {
                    m: v.zeros_like()?,
                    v: v.zeros_like()?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(AdamW {
            config,
            vars,
            moments,
            step: 0,
        })
    }

    /// Clips the gradients to the global norm and applies one AdamW update.
    pub fn update(&mut self, grads: &GradStore) -> Result<UpdateStats> {
        let mut sq = 0f64;
        let mut gs = Vec::with_capacity(self.vars.len());
        for v in &self.vars {
            let g = match grads.get(v.as_tensor()) {
                Some(g) => g.clone(),
                None => v.zeros_like()?,
            };
            sq += f64::from(g.sqr()?.sum_all()?.to_scalar::<f32>()?);
            gs.push(g);
        }
        let grad_norm = sq.sqrt();
        if !grad_norm.is_finite() {
            return Err(DistillError::Settings(format!(
                "the gradient norm is {grad_norm} at step {}; lower the learning rate",
                self.step
            )));
        }
        let c = &self.config;
        let clip = if c.clip_norm > 0.0 && grad_norm > c.clip_norm {
            c.clip_norm / grad_norm
        } else {
            1.0
        };
        let lr = c.lr_at(self.step);
        let t = (self.step + 1) as i32;
        let bias1 = 1.0 - c.beta1.powi(t);
        let bias2 = 1.0 - c.beta2.powi(t);
        for ((var, g), mo) in self.vars.iter().zip(gs).zip(self.moments.iter_mut()) {
            let g = (g * clip)?;
            let m = ((&mo.m * c.beta1)? + (&g * (1.0 - c.beta1))?)?;
            let v = ((&mo.v * c.beta2)? + (g.sqr()? * (1.0 - c.beta2))?)?;
            let m_hat = (&m / bias1)?;
            let v_hat = (&v / bias2)?;
            let step = (m_hat / (v_hat.sqrt()? + c.eps)?)?;
            let decayed = (var.as_tensor() * (1.0 - lr * c.weight_decay))?;
            var.set(&(decayed - (step * lr)?)?)?;
            mo.m = m;
            mo.v = v;
        }
        self.step += 1;
        Ok(UpdateStats { lr, grad_norm })
    }
}
