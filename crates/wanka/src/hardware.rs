//! How long an operation takes on one GPU: a roofline (compute or HBM bound, whichever
//! is slower) with an efficiency model for matrix products and attention. The constants
//! are in [`crate::calibration`]; the per-GPU peaks and measured big-GEMM fractions in
//! the catalog.

use crate::calibration as cal;
use crate::catalog::GpuSpec;
use crate::scenario::{Fp8Gemms, Fp8Recipe, Precision, Scenario};

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
    /// Streaming multiprocessors (NVIDIA) or compute units (AMD) the GEMM tiles share.
    pub sm_count: f64,
    /// Rowwise-scaled FP8 GEMMs run PyTorch's CUTLASS kernel (NVIDIA), whose persistent
    /// scheduler splits only the output into tiles; on ROCm they go through hipBLASLt.
    pub cutlass_rowwise: bool,
}

impl Device {
    pub fn new(gpu: &GpuSpec, precision: Precision) -> Device {
        let sustained = cal::GEMM_SUSTAINED_FRACTION;
        let bf16_gemm_flops = gpu.bf16_flops * gpu.matmul_peak_fraction * sustained;
        let fp8 = precision == Precision::Fp8;
        let gemm_flops = if fp8 { gpu.fp8_flops * gpu.fp8_matmul_peak_fraction * sustained } else { bf16_gemm_flops };
        Device {
            bf16_gemm_flops,
            gemm_flops,
            hbm_bytes_per_s: gpu.hbm_bytes_per_s * cal::HBM_EFFICIENCY,
            fp8,
            fp8_recipe: Fp8Recipe::Tensorwise,
            sm_count: gpu.sm_count as f64,
            cutlass_rowwise: gpu.vendor == "nvidia",
        }
    }

    /// The scenario's GPU at its precision and FP8 recipe, as every GEMM outside the
    /// routed experts runs (`training.fp8_gemms`).
    pub fn of(s: &Scenario) -> Device {
        let d = Device { fp8_recipe: s.training.fp8_recipe, ..Device::new(&s.cluster.gpu, s.training.precision) };
        Device { fp8: d.fp8 && s.training.fp8_gemms != Fp8Gemms::Experts, ..d }
    }

    /// As the routed experts' GEMMs run: in FP8 unless only the dense GEMMs are.
    pub fn experts_of(&self, s: &Scenario) -> Device {
        Device { fp8: s.training.precision == Precision::Fp8 && s.training.fp8_gemms != Fp8Gemms::Dense, ..*self }
    }

    /// In BF16 whatever the training precision (the LM head, which neither Megatron-Core
    /// nor torchtitan quantises).
    pub fn bf16(&self) -> Device {
        Device { fp8: false, ..*self }
    }

    /// Rowwise-scaled FP8 GEMMs go through PyTorch's CUTLASS kernel.
    fn runs_cutlass_rowwise(&self, fp8: bool) -> bool {
        fp8 && self.cutlass_rowwise && matches!(self.fp8_recipe, Fp8Recipe::Rowwise | Fp8Recipe::RowwiseGwHp)
    }

    /// Share of the GPU's tile slots that PyTorch's rowwise FP8 kernel fills for an
    /// output of `rows × cols` (aten/src/ATen/native/cuda/RowwiseScaledMM.cu): its
    /// persistent scheduler tiles only the output, with no split-K; it takes 64×128
    /// tiles when they fit in one wave over the SMs, else 128×128 tiles over
    /// ⌈tiles / SMs⌉ waves. cuBLAS splits the reduction of such shapes instead
    /// (the smooth [`Self::gemm_shape_efficiency`]).
    pub fn rowwise_tile_fill(&self, rows: f64, cols: f64) -> f64 {
        let sms = self.sm_count.max(1.0);
        let small = (rows / 64.0).ceil() * (cols / 128.0).ceil();
        let slots = if small <= sms {
            sms * 64.0 * 128.0
        } else {
            let tiles = (rows / 128.0).ceil() * (cols / 128.0).ceil();
            (tiles / sms).ceil() * sms * 128.0 * 128.0
        };
        (rows * cols / slots).min(1.0)
    }

    /// Time of one GEMM `(m×k)·(k×n)`, FP8 or BF16, without quantising its inputs:
    /// compute bound at the shape's efficiency, or HBM bound on its operands, plus launch.
    fn gemm_s(&self, m: f64, n: f64, k: f64, fp8: bool) -> f64 {
        let flops = 2.0 * m * n * k;
        let compute = if self.runs_cutlass_rowwise(fp8) {
            let shape = self.rowwise_tile_fill(m, n) * k / (k + cal::GEMM_HALF_DIM);
            flops / (self.gemm_flops * cal::ROWWISE_FP8_GEMM_EFFICIENCY * shape)
        } else {
            let rate = if fp8 { self.gemm_flops } else { self.bf16_gemm_flops };
            flops / (rate * Self::gemm_shape_efficiency(m, n, k))
        };
        let elem_bytes = if fp8 { 1.0 } else { 2.0 };
        let memory = (elem_bytes * (m * k + k * n) + 2.0 * m * n) / self.hbm_bytes_per_s;
        compute.max(memory) + cal::KERNEL_OVERHEAD_S
    }

    /// Backward time of one FP8 linear `(m×k)·(k×n)` beyond twice its forward (what
    /// per-tensor scaling costs): re-quantising the input, the weight and the output
    /// gradient along the other axis (rowwise, MX: read 2 + write 1 bytes each, with
    /// the scale pass the forward's casts also pay); with a BF16 weight gradient, that
    /// GEMM at the BF16 rate. torchao runs the rowwise-scaled backward GEMMs (slow
    /// accumulation) through cuBLAS's tensorwise kernel with unit scales and rescales
    /// each output afterwards in a kernel of its own ([`Self::rowwise_backward_gemm_s`]).
    pub fn fp8_backward_extra_s(&self, m: f64, n: f64, k: f64) -> f64 {
        if !self.fp8 || m <= 0.0 || n <= 0.0 || k <= 0.0 {
            return 0.0;
        }
        let forward = self.gemm_s(m, n, k, true);
        let gemms = match self.fp8_recipe {
            Fp8Recipe::Tensorwise | Fp8Recipe::Mxfp8 => 0.0,
            Fp8Recipe::Rowwise => self.rowwise_backward_gemm_s(m, k, n) + self.rowwise_backward_gemm_s(k, n, m) - 2.0 * forward,
            Fp8Recipe::RowwiseGwHp => self.rowwise_backward_gemm_s(m, k, n) + self.gemm_s(k, n, m, false) - 2.0 * forward,
        };
        let casts = match self.fp8_recipe {
            Fp8Recipe::Tensorwise | Fp8Recipe::RowwiseGwHp => 0.0,
            Fp8Recipe::Rowwise | Fp8Recipe::Mxfp8 => cal::FP8_CAST_BYTES_PER_ELEMENT * (m * k + k * n + m * n),
        };
        gemms + casts / self.hbm_bytes_per_s
    }

    /// One rowwise-scaled backward GEMM `(m×k)·(k×n)` as torchao runs it: its gradient
    /// GEMMs keep slow accumulation (`Float8LinearConfig`'s default for `grad_input`
    /// and `grad_weight`), for which PyTorch's CUTLASS rowwise kernel is so slow that
    /// torchao calls cuBLAS's tensorwise kernel with unit scales and multiplies the
    /// `m×n` BF16 output by the row and column scales afterwards
    /// (torchao/float8/float8_ops.py `addmm_float8_unwrapped`, ao PR #1325), one extra
    /// kernel per GEMM even under torch.compile (ao issue #2184): read and write the
    /// output, 4 bytes per element.
    fn rowwise_backward_gemm_s(&self, m: f64, n: f64, k: f64) -> f64 {
        let cublas = Device { cutlass_rowwise: false, ..*self };
        cublas.gemm_s(m, n, k, true) + self.streaming_s(4.0 * m * n, 1.0)
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
        self.gemm_s(m, n, k, self.fp8) + self.fp8_forward_cast_s(m, n, k)
    }

    /// Quantising an `m×k` input and a `k×n` weight for a forward GEMM (nothing at BF16).
    fn fp8_forward_cast_s(&self, m: f64, n: f64, k: f64) -> f64 {
        if self.fp8 { cal::FP8_CAST_BYTES_PER_ELEMENT * (m * k + k * n) / self.hbm_bytes_per_s } else { 0.0 }
    }

    /// Forward and backward cast time of an `m×k` input (see
    /// [`Self::fp8_backward_extra_s`]): what each linear beyond the first that reads
    /// the same input saves when its casts are computed once.
    pub fn fp8_input_cast_s(&self, m: f64, k: f64) -> (f64, f64) {
        let fwd = self.fp8_forward_cast_s(m, 0.0, k);
        let recast = self.fp8 && matches!(self.fp8_recipe, Fp8Recipe::Rowwise | Fp8Recipe::Mxfp8);
        (fwd, if recast { fwd } else { 0.0 })
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
        assert_eq!(extra(Fp8Recipe::Mxfp8), recast);
        // Rowwise: the re-cast, and the two backward GEMMs through cuBLAS, each output
        // rescaled by a kernel of its own (read and write BF16).
        let rw = at(Fp8Recipe::Rowwise);
        let tw = at(Fp8Recipe::Tensorwise);
        let rescale = |elements: f64| 4.0 * elements / rw.hbm_bytes_per_s + cal::KERNEL_OVERHEAD_S;
        let backward = tw.gemm_s(m, k, n, true) + rescale(m * k) + tw.gemm_s(k, n, m, true) + rescale(k * n);
        assert!((extra(Fp8Recipe::Rowwise) - recast - (backward - 2.0 * rw.gemm_s(m, n, k, true))).abs() < 1e-12);
        assert!(extra(Fp8Recipe::RowwiseGwHp) > 0.0);
        // The rowwise kernel runs at FBGEMM's measured share of cuBLAS's tensorwise one
        // on big shapes, less the waves its output tiles leave part-filled.
        let (tw, rw) = (at(Fp8Recipe::Tensorwise).linear_gemm_s(m, n, k), at(Fp8Recipe::Rowwise).linear_gemm_s(m, n, k));
        let fill = at(Fp8Recipe::Rowwise).rowwise_tile_fill(m, n);
        assert!(rw > tw && rw < tw / (cal::ROWWISE_FP8_GEMM_EFFICIENCY * fill) + 1e-9, "{tw} {rw}");
        // BF16 training has no recipe.
        assert_eq!(Device { fp8_recipe: Fp8Recipe::Rowwise, ..Device::new(gpu, Precision::Bf16) }.fp8_backward_extra_s(m, n, k), 0.0);
    }

    /// PyTorch's rowwise kernel tiles only the output (RowwiseScaledMM.cu): 64×128
    /// tiles when one wave holds them, else 128×128 tiles over whole waves of SMs.
    #[test]
    fn rowwise_tiles_fill_the_sms_by_waves() {
        let d = Device { fp8_recipe: Fp8Recipe::Rowwise, ..Device::new(catalog::gpu("g", "h100-sxm").unwrap(), Precision::Fp8) };
        assert_eq!(d.sm_count, 132.0);
        // The weight gradient of a thin projection (4,096 × 128 out): 64 small tiles
        // on 132 SMs.
        assert!((d.rowwise_tile_fill(4096.0, 128.0) - 4096.0 * 128.0 / (132.0 * 64.0 * 128.0)).abs() < 1e-12);
        // 133 tiles of 128×128 need a second wave that holds one tile.
        assert!((d.rowwise_tile_fill(133.0 * 128.0, 128.0) - 133.0 / 264.0).abs() < 1e-12);
        // Big outputs fill the waves almost completely.
        assert!(d.rowwise_tile_fill(98304.0, 4096.0) > 0.99);
        // So an output of 8,192 × 384 (192 tiles, two waves) runs well below the rate of
        // one of 98,304 × 384 (18 waves), at the same work per tile.
        let (m, n, k) = (98304.0, 384.0, 8192.0);
        let rate = |t: f64, mm: f64, nn: f64, kk: f64| 2.0 * mm * nn * kk / t;
        assert!(rate(d.gemm_s(k, n, m, true), k, n, m) < 0.8 * rate(d.gemm_s(m, n, k, true), m, n, k));
        // cuBLAS (tensorwise, BF16) splits the reduction instead: no such loss.
        let tw = Device { fp8_recipe: Fp8Recipe::Tensorwise, ..d };
        assert!(rate(tw.gemm_s(k, n, m, true), k, n, m) > 0.9 * rate(tw.gemm_s(m, n, k, true), m, n, k));
        // ROCm runs rowwise scaling through hipBLASLt, not this kernel.
        let amd = Device { fp8_recipe: Fp8Recipe::Rowwise, ..Device::new(catalog::gpu("g", "mi300x").unwrap(), Precision::Fp8) };
        assert!(!amd.runs_cutlass_rowwise(true));
    }
}
