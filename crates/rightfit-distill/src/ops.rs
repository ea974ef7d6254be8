//! Fused CPU ops with hand-written backward passes, where candle's own would cost a product or a
//! dozen intermediate tensors per layer:
//!
//! - [`frozen_linear`]: `x · Wᵀ` whose backward computes only the input's gradient (candle's
//!   `matmul` backward also computes the frozen weight's, an `in × out` product per projection).
//! - [`lora_linear`]: a stack of frozen projections plus their LoRA updates as one graph node
//!   (`x·Wᵀ + s·(x·Aᵢᵀ)·Bᵢᵀ` per part); composed, each update is four nodes whose gradients
//!   candle allocates, zeroes and accumulates one by one.
//! - [`rms_norm`], [`rope`], [`causal_softmax`]: one output tensor each instead of the five to
//!   twelve that the composed `rms_norm_slow`, `rope_i_slow`/`rope_slow` and masked `softmax`
//!   keep alive for backward; the activations of a 30-layer model shrink accordingly.
//!
//! Each backward is checked against finite differences in the crate's tests.

use candle_core::{CpuStorage, CustomOp1, CustomOp3, Device, Layout, Shape, Tensor};

use crate::base::{Frozen, RopeStyle};

fn slice<'a>(storage: &'a CpuStorage, layout: &Layout, op: &str) -> candle_core::Result<&'a [f32]> {
    let data = storage.as_slice::<f32>()?;
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => candle_core::bail!("{op} needs a contiguous input"),
    }
}

fn values(t: &Tensor) -> candle_core::Result<Vec<f32>> {
    t.flatten_all()?.to_vec1::<f32>()
}

struct FrozenLinear {
    /// `[out, in]`.
    w: Tensor,
}

impl CustomOp1 for FrozenLinear {
    fn name(&self) -> &'static str {
        "frozen-linear"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (n, inp) = layout.shape().dims2()?;
        // One copy of the input (n·in) next to an n·in·out product.
        let x = Tensor::from_slice(slice(storage, layout, self.name())?, (n, inp), &Device::Cpu)?;
        let y = x.matmul(&self.w.t()?)?;
        let out = y.dim(1)?;
        Ok((CpuStorage::F32(values(&y)?), Shape::from((n, out))))
    }

    fn bwd(&self, _: &Tensor, _: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(grad.matmul(&self.w)?))
    }
}

/// `x · Wᵀ` for `x [n, in]`; gradients flow to `x` only.
pub fn frozen_linear(x: &Tensor, w: &Frozen) -> candle_core::Result<Tensor> {
    x.contiguous()?.apply_op1(FrozenLinear { w: w.w.clone() })
}

/// One part of a stacked projection: its output width, and whether it has a LoRA pair.
#[derive(Debug, Clone, Copy)]
pub struct Part {
    /// Output width.
    pub out: usize,
    /// Whether `A`/`B` hold a pair for it.
    pub lora: bool,
}

struct LoraLinear {
    /// `[Σ out, in]`.
    w: Tensor,
    parts: Vec<Part>,
    rank: usize,
    scale: f64,
}

impl LoraLinear {
    /// `x·Wᵀ`, then each LoRA part's `s·(x·Aᵢᵀ)·Bᵢᵀ` added to its columns.
    fn forward(&self, x: &Tensor, a: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
        let y = x.matmul(&self.w.t()?)?;
        let down = x.matmul(&a.t()?)?;
        let mut pieces = Vec::with_capacity(self.parts.len());
        let (mut col, mut li, mut brow) = (0, 0, 0);
        for p in &self.parts {
            let base = y.narrow(1, col, p.out)?;
            pieces.push(if p.lora {
                let d = down.narrow(1, li * self.rank, self.rank)?;
                let up = d.matmul(&b.narrow(0, brow, p.out)?.t()?)?;
                li += 1;
                brow += p.out;
                (base + (up * self.scale)?)?
            } else {
                base
            });
            col += p.out;
        }
        Tensor::cat(&pieces, 1)
    }
}

impl CustomOp3 for LoraLinear {
    fn name(&self) -> &'static str {
        "lora-linear"
    }

    fn cpu_fwd(
        &self,
        sx: &CpuStorage,
        lx: &Layout,
        sa: &CpuStorage,
        la: &Layout,
        sb: &CpuStorage,
        lb: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let cpu = &Device::Cpu;
        let x = Tensor::from_slice(slice(sx, lx, self.name())?, lx.shape(), cpu)?;
        let a = Tensor::from_slice(slice(sa, la, self.name())?, la.shape(), cpu)?;
        let b = Tensor::from_slice(slice(sb, lb, self.name())?, lb.shape(), cpu)?;
        let y = self.forward(&x, &a, &b)?;
        let shape = y.shape().clone();
        Ok((CpuStorage::F32(values(&y)?), shape))
    }

    fn bwd(
        &self,
        x: &Tensor,
        a: &Tensor,
        b: &Tensor,
        _: &Tensor,
        g: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (x, a, b) = (x.detach(), a.detach(), b.detach());
        let down = x.matmul(&a.t()?)?;
        let mut gx = g.matmul(&self.w)?;
        let (mut gdown, mut gb) = (Vec::new(), Vec::new());
        let (mut col, mut li, mut brow) = (0, 0, 0);
        for p in &self.parts {
            if p.lora {
                let gi = g.narrow(1, col, p.out)?.contiguous()?;
                let bi = b.narrow(0, brow, p.out)?;
                let di = down.narrow(1, li * self.rank, self.rank)?.contiguous()?;
                gdown.push((gi.matmul(&bi)? * self.scale)?);
                gb.push((gi.t()?.matmul(&di)? * self.scale)?);
                li += 1;
                brow += p.out;
            }
            col += p.out;
        }
        let gdown = Tensor::cat(&gdown, 1)?;
        gx = (gx + gdown.matmul(&a)?)?;
        let ga = gdown.t()?.matmul(&x)?;
        Ok((Some(gx), Some(ga), Some(Tensor::cat(&gb, 0)?)))
    }
}

/// `x [n, in]` through stacked frozen projections `w` (rows in `parts` order), with the LoRA
/// pairs of the parts that have one stacked in `a` (`[pairs·r, in]`) and `b` (`[Σ out, r]`).
pub fn lora_linear(
    x: &Tensor,
    w: &Frozen,
    parts: &[Part],
    a: &Tensor,
    b: &Tensor,
    scale: f64,
) -> candle_core::Result<Tensor> {
    let pairs = parts.iter().filter(|p| p.lora).count();
    let rank = a.dim(0)? / pairs.max(1);
    if pairs == 0 || a.dim(0)? != pairs * rank || b.dim(1)? != rank {
        candle_core::bail!(
            "lora-linear: {pairs} pairs, A {:?}, B {:?}",
            a.dims(),
            b.dims()
        )
    }
    x.contiguous()?.apply_op3(
        &a.contiguous()?,
        &b.contiguous()?,
        LoraLinear {
            w: w.w.clone(),
            parts: parts.to_vec(),
            rank,
            scale,
        },
    )
}

struct RmsNorm {
    /// `[d]`, frozen.
    w: Vec<f32>,
    eps: f32,
}

impl RmsNorm {
    fn inv_rms(&self, row: &[f32]) -> f32 {
        let ms = row.iter().map(|v| v * v).sum::<f32>() / row.len() as f32;
        1.0 / (ms + self.eps).sqrt()
    }
}

impl CustomOp1 for RmsNorm {
    fn name(&self) -> &'static str {
        "rms-norm"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = slice(storage, layout, self.name())?;
        let d = self.w.len();
        let mut y = Vec::with_capacity(x.len());
        for row in x.chunks_exact(d) {
            let inv = self.inv_rms(row);
            y.extend(row.iter().zip(&self.w).map(|(v, w)| v * inv * w));
        }
        Ok((CpuStorage::F32(y), layout.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, _: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let (xs, gs) = (values(x)?, values(grad)?);
        let d = self.w.len();
        let mut dx = Vec::with_capacity(xs.len());
        for (row, g) in xs.chunks_exact(d).zip(gs.chunks_exact(d)) {
            let inv = self.inv_rms(row);
            // dx = inv · (w∘g − x̂ · mean(w∘g∘x̂)), x̂ = x · inv
            let dot = row
                .iter()
                .zip(g)
                .zip(&self.w)
                .map(|((v, g), w)| w * g * v * inv)
                .sum::<f32>()
                / d as f32;
            dx.extend(
                row.iter()
                    .zip(g)
                    .zip(&self.w)
                    .map(|((v, g), w)| inv * (w * g - v * inv * dot)),
            );
        }
        Ok(Some(Tensor::from_vec(dx, x.shape(), x.device())?))
    }
}

/// RMSNorm over the last dimension with a frozen weight (llama.cpp's `ggml_rms_norm` · w).
pub fn rms_norm(x: &Tensor, w: &Tensor, eps: f32) -> candle_core::Result<Tensor> {
    let w = values(w)?;
    if x.dim(candle_core::D::Minus1)? != w.len() {
        candle_core::bail!("rms-norm: width {:?} vs weight {}", x.dims(), w.len())
    }
    x.contiguous()?.apply_op1(RmsNorm { w, eps })
}

/// Rotation tables: `cos`/`sin` of `position · base^(−2i/d)`, `[t, d/2]` row-major.
#[derive(Debug, Clone)]
pub struct RopeTables {
    cos: Vec<f32>,
    sin: Vec<f32>,
    half: usize,
}

impl RopeTables {
    /// Tables for positions `0..len`.
    pub fn new(len: usize, head_dim: usize, base: f32) -> RopeTables {
        let half = head_dim / 2;
        let mut cos = Vec::with_capacity(len * half);
        let mut sin = Vec::with_capacity(len * half);
        for p in 0..len {
            for i in 0..half {
                let theta = f64::from(base).powf(-2.0 * i as f64 / head_dim as f64);
                let (s, c) = (p as f64 * theta).sin_cos();
                cos.push(c as f32);
                sin.push(s as f32);
            }
        }
        RopeTables { cos, sin, half }
    }
}

struct Rope {
    tables: RopeTables,
    style: RopeStyle,
}

impl Rope {
    /// Rotates `x [b, h, t, d]` (flattened) by `sign · angle`.
    fn rotate(&self, x: &[f32], t: usize, sign: f32) -> Vec<f32> {
        let half = self.tables.half;
        let d = 2 * half;
        let mut y = vec![0f32; x.len()];
        for (row_i, (row, out)) in x.chunks_exact(d).zip(y.chunks_exact_mut(d)).enumerate() {
            let pos = row_i % t;
            let cos = &self.tables.cos[pos * half..(pos + 1) * half];
            let sin = &self.tables.sin[pos * half..(pos + 1) * half];
            for i in 0..half {
                let (a, b) = match self.style {
                    RopeStyle::Pairs => (2 * i, 2 * i + 1),
                    RopeStyle::Halves => (i, i + half),
                };
                let (c, s) = (cos[i], sign * sin[i]);
                out[a] = row[a] * c - row[b] * s;
                out[b] = row[a] * s + row[b] * c;
            }
        }
        y
    }
}

impl CustomOp1 for Rope {
    fn name(&self) -> &'static str {
        "rope"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (_, _, t, _) = layout.shape().dims4()?;
        let y = self.rotate(slice(storage, layout, self.name())?, t, 1.0);
        Ok((CpuStorage::F32(y), layout.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, _: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        // A rotation's transpose is the opposite rotation.
        let (_, _, t, _) = x.dims4()?;
        let dx = self.rotate(&values(grad)?, t, -1.0);
        Ok(Some(Tensor::from_vec(dx, x.shape(), x.device())?))
    }
}

/// Rotary position embedding of `x [b, heads, t, head_dim]`, positions `0..t`.
pub fn rope(x: &Tensor, tables: &RopeTables, style: RopeStyle) -> candle_core::Result<Tensor> {
    let (_, _, t, d) = x.dims4()?;
    if d != 2 * tables.half || tables.cos.len() < t * tables.half {
        candle_core::bail!(
            "rope: input {:?} vs tables for width {}",
            x.dims(),
            2 * tables.half
        )
    }
    x.contiguous()?.apply_op1(Rope {
        tables: tables.clone(),
        style,
    })
}

struct CausalSoftmax {
    scale: f32,
}

impl CustomOp1 for CausalSoftmax {
    fn name(&self) -> &'static str {
        "causal-softmax"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let t = layout.shape().dims().last().copied().unwrap_or(0);
        let s = slice(storage, layout, self.name())?;
        let mut p = vec![0f32; s.len()];
        for (r, (row, out)) in s.chunks_exact(t).zip(p.chunks_exact_mut(t)).enumerate() {
            let q = r % t; // query position: keys 0..=q are visible
            let max = row[..=q].iter().fold(f32::NEG_INFINITY, |m, v| m.max(*v));
            let mut z = 0f32;
            for j in 0..=q {
                let e = (self.scale * (row[j] - max)).exp();
                out[j] = e;
                z += e;
            }
            out[..=q].iter_mut().for_each(|v| *v /= z);
        }
        Ok((CpuStorage::F32(p), layout.shape().clone()))
    }

    fn bwd(&self, s: &Tensor, p: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let t = s.dims().last().copied().unwrap_or(0);
        let (ps, gs) = (values(p)?, values(grad)?);
        let mut ds = vec![0f32; ps.len()];
        for ((p, g), out) in ps
            .chunks_exact(t)
            .zip(gs.chunks_exact(t))
            .zip(ds.chunks_exact_mut(t))
        {
            let dot: f32 = p.iter().zip(g).map(|(p, g)| p * g).sum();
            for j in 0..t {
                out[j] = self.scale * p[j] * (g[j] - dot);
            }
        }
        Ok(Some(Tensor::from_vec(ds, s.shape(), s.device())?))
    }
}

/// `softmax(scale · s)` over the last dimension of `s [.., rows, t]`, where row `r` is query
/// position `r mod t` and sees keys `0..=r mod t` only (causal attention, positions from 0).
pub fn causal_softmax(s: &Tensor, scale: f32) -> candle_core::Result<Tensor> {
    s.contiguous()?.apply_op1(CausalSoftmax { scale })
}
