//! How long an operation takes on one GPU: a roofline (compute or HBM bound, whichever
//! is slower) with an efficiency model for matrix products and attention. The constants
//! are in [`crate::calibration`]; the per-GPU peaks and measured big-GEMM fractions in
//! the catalog.

use crate::calibration as cal;
use crate::catalog::GpuSpec;
use crate::scenario::{Fp8Recipe, Precision, Scenario};

/// A GPU at a given precision: the rates the operations run at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Device {
    /// Achievable FLOP/s of a big BF16/FP16 GEMM (peak × MAMF fraction).
    pub bf16_gemm_flops: f64,
    /// Achievable FLOP/s of a big GEMM at the training precision.
    pub gemm_flops: f64,
    /// Achievable HBM bytes/s for streaming kernels.
    pub hbm_bytes_per_s: f64,
    /// Bytes per element of weights and activations as stored (BF16/FP16: 2).
    pub fp8: bool,
    /// How FP8 operands are scaled.
    pub fp8_recipe: Fp8Recipe,
}

impl Device {
    pub fn new(gpu: &GpuSpec, precision: Precision) -> Device {
        let sustained = cal::GEMM_SUSTAINED_FRACTION;
        let bf16_gemm_flops = gpu.bf16_flops * gpu.matmul_peak_fraction * sustained;
        let fp8 = precision == Precision::Fp8;
        let gemm_flops = if fp8 { gpu.fp8_flops * gpu.fp8_matmul_peak_fraction * sustained } else { bf16_gemm_flops };
        Device { bf16_gemm_flops, gemm_flops, hbm_bytes_per_s: gpu.hbm_bytes_per_s * cal::HBM_EFFICIENCY, fp8, fp8_recipe: Fp8Recipe::Tensorwise }
    }

    /// The scenario's GPU at its precision and FP8 recipe.
    pub fn of(s: &Scenario) -> Device {
        Device { fp8_recipe: s.training.fp8_recipe, ..Device::new(&s.cluster.gpu, s.training.precision) }
    }

    /// The FP8 GEMM kernel's speed relative to cuBLAS's per-tensor-scaled one.
    fn fp8_kernel_efficiency(&self) -> f64 {
        match self.fp8_recipe {
            Fp8Recipe::Rowwise | Fp8Recipe::RowwiseGwHp if self.fp8 => cal::ROWWISE_FP8_GEMM_EFFICIENCY,
            _ => 1.0,
        }
    }

    /// Backward time of one FP8 linear `(m×k)·(k×n)` beyond twice its forward (what
    /// per-tensor scaling costs): re-quantising the input, the weight and the output
    /// gradient along the other axis (rowwise, MX: read 2 + write 1 bytes each, with
    /// the scale pass the forward's casts also pay), and, with a BF16 weight gradient,
    /// that GEMM at the BF16 rate.
    pub fn fp8_backward_extra_s(&self, m: f64, n: f64, k: f64) -> f64 {
        if !self.fp8 || m <= 0.0 || n <= 0.0 || k <= 0.0 {
            return 0.0;
        }
        let recast = cal::FP8_CAST_BYTES_PER_ELEMENT * (m * k + k * n + m * n) / self.hbm_bytes_per_s;
        match self.fp8_recipe {
            Fp8Recipe::Tensorwise => 0.0,
            Fp8Recipe::Rowwise | Fp8Recipe::Mxfp8 => recast,
            Fp8Recipe::RowwiseGwHp => {
                let shape = Self::gemm_shape_efficiency(m, n, k);
                let flops = 2.0 * m * n * k;
                flops / (self.bf16_gemm_flops * shape) - flops / (self.gemm_flops * shape * self.fp8_kernel_efficiency())
            }
        }
    }

    /// Efficiency of a GEMM of shape (m, n, k) relative to a big one: each dimension
    /// loses to tile and wave quantisation as it shrinks.
    pub fn gemm_shape_efficiency(m: f64, n: f64, k: f64) -> f64 {
        let f = |d: f64| d / (d + cal::GEMM_HALF_DIM);
        f(m) * f(n) * f(k)
    }

    /// Time of a linear layer's GEMM `(m×k)·(k×n)` at the training precision: compute
    /// bound at the shape's efficiency, or HBM bound on its operands, plus launch cost.
    /// FP8 adds the quantisation of its inputs as HBM traffic.
    pub fn linear_gemm_s(&self, m: f64, n: f64, k: f64) -> f64 {
        if m <= 0.0 || n <= 0.0 || k <= 0.0 {
            return 0.0;
        }
        let flops = 2.0 * m * n * k;
        let compute = flops / (self.gemm_flops * Self::gemm_shape_efficiency(m, n, k) * self.fp8_kernel_efficiency());
        let elem_bytes = if self.fp8 { 1.0 } else { 2.0 };
        let operand_bytes = elem_bytes * (m * k + k * n) + 2.0 * m * n;
        let cast_bytes = if self.fp8 { cal::FP8_CAST_BYTES_PER_ELEMENT * (m * k + k * n) } else { 0.0 };
        let memory = operand_bytes / self.hbm_bytes_per_s;
        compute.max(memory) + cast_bytes / self.hbm_bytes_per_s + cal::KERNEL_OVERHEAD_S
    }

    /// Time of `count` independent GEMMs of one shape (experts of a grouped GEMM): one
    /// launch, each shape's efficiency.
    pub fn grouped_gemm_s(&self, count: f64, m: f64, n: f64, k: f64) -> f64 {
        if count <= 0.0 {
            return 0.0;
        }
        count * (self.linear_gemm_s(m, n, k) - cal::KERNEL_OVERHEAD_S) + cal::KERNEL_OVERHEAD_S
    }

    /// Time of the GEMMs of `count` local experts, `(m×k)·(k×n)` each: Transformer
    /// Engine's GroupedLinear (Megatron-Core's TEGroupedMLP) launches one GEMM per
    /// expert, each with its own launch and, under FP8, its own input quantisation.
    pub fn expert_gemms_s(&self, count: f64, m: f64, n: f64, k: f64) -> f64 {
        if count <= 0.0 {
            return 0.0;
        }
        count * self.linear_gemm_s(m, n, k)
    }

    /// Time of fused (flash) attention doing `flops` of matrix products in BF16
    /// (attention stays in BF16 under FP8 training in Transformer Engine).
    pub fn flash_attention_s(&self, flops: f64, head_dim: f64) -> f64 {
        if flops <= 0.0 {
            return 0.0;
        }
        let shape = head_dim / (head_dim + cal::GEMM_HALF_DIM);
        flops / (self.bf16_gemm_flops * cal::FLASH_ATTENTION_EFFICIENCY * shape) + cal::KERNEL_OVERHEAD_S
    }

    /// Time of a memory-bound kernel moving `bytes` through HBM.
    pub fn streaming_s(&self, bytes: f64, kernels: f64) -> f64 {
        bytes / self.hbm_bytes_per_s + kernels * cal::KERNEL_OVERHEAD_S
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;

    #[test]
    fn big_gemm_runs_near_the_measured_mamf() {
        let d = Device::new(catalog::gpu("g", "h100-sxm").unwrap(), Precision::Bf16);
        let (m, n, k) = (16384.0, 16384.0, 16384.0);
        let t = d.linear_gemm_s(m, n, k);
        let achieved = 2.0 * m * n * k / t;
        assert!(achieved < 794.5e12 && achieved > 0.95 * 794.5e12 * cal::GEMM_SUSTAINED_FRACTION, "{achieved}");
    }

    #[test]
    fn small_gemm_is_memory_or_overhead_bound() {
        let d = Device::new(catalog::gpu("g", "h100-sxm").unwrap(), Precision::Bf16);
        let t = d.linear_gemm_s(16.0, 4096.0, 4096.0);
        let achieved = 2.0 * 16.0 * 4096.0 * 4096.0 / t;
        assert!(achieved < 0.1 * 989e12, "{achieved}");
    }

    #[test]
    fn fp8_is_faster_than_bf16_on_big_gemms() {
        let gpu = catalog::gpu("g", "h100-sxm").unwrap();
        let b = Device::new(gpu, Precision::Bf16).linear_gemm_s(8192.0, 8192.0, 8192.0);
        let f = Device::new(gpu, Precision::Fp8).linear_gemm_s(8192.0, 8192.0, 8192.0);
        assert!(f < 0.75 * b, "{f} vs {b}");
    }

    /// Per-tensor scaling reuses the forward's FP8 copies; rowwise and MX scaling
    /// quantise again along the other axis; a BF16 weight gradient costs a BF16 GEMM.
    #[test]
    fn fp8_recipes_order_their_backward_cost() {
        let gpu = catalog::gpu("g", "h100-sxm").unwrap();
        let at = |r: Fp8Recipe| Device { fp8_recipe: r, ..Device::new(gpu, Precision::Fp8) };
        let (m, n, k) = (8192.0, 14336.0, 4096.0);
        let extra = |r: Fp8Recipe| at(r).fp8_backward_extra_s(m, n, k);
        assert_eq!(extra(Fp8Recipe::Tensorwise), 0.0);
        let recast = cal::FP8_CAST_BYTES_PER_ELEMENT * (m * k + k * n + m * n) / at(Fp8Recipe::Rowwise).hbm_bytes_per_s;
        assert!((extra(Fp8Recipe::Rowwise) - recast).abs() < 1e-12);
        assert_eq!(extra(Fp8Recipe::Mxfp8), recast);
        assert!(extra(Fp8Recipe::RowwiseGwHp) > 0.0);
        // The rowwise kernel runs at FBGEMM's measured share of cuBLAS's tensorwise one.
        let (tw, rw) = (at(Fp8Recipe::Tensorwise).linear_gemm_s(m, n, k), at(Fp8Recipe::Rowwise).linear_gemm_s(m, n, k));
        assert!(rw > tw && rw < tw / cal::ROWWISE_FP8_GEMM_EFFICIENCY + 1e-9, "{tw} {rw}");
        // BF16 training has no recipe.
        assert_eq!(Device { fp8_recipe: Fp8Recipe::Rowwise, ..Device::new(gpu, Precision::Bf16) }.fp8_backward_extra_s(m, n, k), 0.0);
    }
}
