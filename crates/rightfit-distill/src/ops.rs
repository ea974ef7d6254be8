//! A matrix product with a frozen weight whose backward pass computes only the input's gradient.
//!
//! candle's `matmul` backward always computes both operands' gradients; for a frozen `[out, in]`
//! weight that is a wasted `in × out` product per projection and step (and for the output head a
//! `vocab × width` one). [`frozen_linear`] wraps `x · Wᵀ` in a custom op whose backward is just
//! `grad · W`.

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};

use crate::base::Frozen;

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
        let data = storage.as_slice::<f32>()?;
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("frozen-linear needs a contiguous input")
        };
        // One copy of the input (n·in) next to an n·in·out product.
        let x = Tensor::from_slice(&data[start..end], (n, inp), &candle_core::Device::Cpu)?;
        let y = x.matmul(&self.w.t()?)?;
        let out = y.dim(1)?;
        let v = y.flatten_all()?.to_vec1::<f32>()?;
        Ok((CpuStorage::F32(v), Shape::from((n, out))))
    }

    fn bwd(
        &self,
        _arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(grad_res.matmul(&self.w)?))
    }
}

/// `x · Wᵀ` for `x [n, in]`; gradients flow to `x` only.
pub fn frozen_linear(x: &Tensor, w: &Frozen) -> candle_core::Result<Tensor> {
    let x = x.contiguous()?;
    x.apply_op1(FrozenLinear { w: w.w.clone() })
}
