//! The one global calibration of wanka. Every constant the step model uses that is not
//! a property of one GPU (those live in `catalog/gpus.toml` with their sources) is here,
//! with where it comes from. Nothing in wanka is tuned per validation row or per source.
//!
//! Two kinds of constant:
//! - *measured*: taken from a published measurement (source given);
//! - *fitted*: chosen once against the whole validation set
//!   (`wanka validate`, shared/validation/published.jsonl), all rows at once.

/// NCCL ring bus bandwidth over NVLink as a fraction of the NVLink line rate.
/// Measured: 367.61 GB/s of 450 on 8×H200 (0.82) and 234.89 of 300 on 8×A100 (0.78),
/// ml-engineering network/README.md (fabric.md §3.4); NCCL's own model gives
/// 18 × 20.6 = 370.8 GB/s for H100 (0.82). Mean of the two measurements.
pub const NVLINK_RING_EFFICIENCY: f64 = 0.80;

/// NVLS (in-switch reduction) all-reduce algorithm bandwidth as a fraction of the
/// NVLink line rate. Measured: ~480 GB/s busbw on 8×H100 (nccl-tests #212, maintainer),
/// busbw = algbw · 2(n−1)/n ⇒ algbw = 480 / 1.75 = 274 GB/s = 0.61 of 450.
pub const NVLS_ALLREDUCE_ALGBW_FRACTION: f64 = 0.61;

/// Achievable fraction of a NIC's line rate for large collectives.
/// Measured: "46–48 GB/s per NIC" at NDR 400 Gb/s (50 GB/s), nccl-tests #290 and #267
/// (maintainer); 192 GB/s all-reduce busbw on DGX A100 with 8×200 Gb/s (0.96), nccl #812.
pub const NIC_EFFICIENCY: f64 = 0.95;

/// Fixed cost of one collective call as a framework issues it, on top of the per-step
/// latency: a 32 KiB all-reduce through torch.distributed on 8×H200 takes ≈ 40 µs
/// (ml-engineering's sweep, fabric.md §3.4 [D]); NCCL's own base latency is 8.4 µs
/// (tuning.cc), the rest is launch, stream synchronisation and protocol ramp-up.
/// The same sweep's medium sizes agree: 16 MiB reaches 220 GB/s of 482 busbw.
pub const COLLECTIVE_BASE_LATENCY_S: f64 = 40e-6;

/// Share of the SMs a communication kernel occupies while it overlaps compute: the
/// compute it hides behind runs that much slower for the communication's duration.
/// Transformer Engine's comm-GEMM overlap defaults to 16 SMs of H100's 132 (0.12);
/// NCCL's default channel count takes a similar share.
pub const COMM_SM_SHARE: f64 = 0.12;

/// Achievable fraction of HBM bandwidth for streaming element-wise kernels (norms,
/// activations, residual adds, optimizer). Fitted (a STREAM-like kernel reaches ~0.9 on
/// H100; fused training kernels with several inputs reach less).
pub const HBM_EFFICIENCY: f64 = 0.70;

/// Sustained fraction of the measured big-GEMM rate over a whole training step: MAMF
/// (catalog) is measured on one GEMM shape in a warm loop; a training step alternates
/// GEMMs with memory-bound kernels and runs at the board power limit, where clocks sit
/// below boost (H100 SXM: 1,980 MHz boost, ~1,750 MHz typical under sustained 700 W
/// tensor load [S]: 0.88). Fitted over the validation set together with
/// `STEP_OVERHEAD_S`, with the straggler model on (`crate::variability`): the fit lands
/// on the clock ratio (0.92 before stragglers were modelled, when the gap they leave at
/// scale was spread over every row).
pub const GEMM_SUSTAINED_FRACTION: f64 = 0.88;

/// GEMM efficiency falls as a dimension shrinks (tile and wave quantisation). Each of
/// m, n, k contributes a factor d / (d + GEMM_HALF_DIM) relative to a big GEMM; the
/// big-GEMM fraction itself is the GPU's measured MAMF (catalog). Fitted.
pub const GEMM_HALF_DIM: f64 = 48.0;

/// Fused attention kernels relative to the GPU's big-GEMM rate. FlashAttention-3 forward
/// reaches 740 TFLOP/s on H100 (FA3 paper) against 794.5 MAMF = 0.93; the backward pass
/// runs at roughly 0.75× its forward rate in FA2/FA3 benchmarks. Averaged over a
/// forward (1 part) and backward (2.5 parts) this gives ≈ 0.8. Measured (FA3 abstract)
/// plus derived.
pub const FLASH_ATTENTION_EFFICIENCY: f64 = 0.80;

/// FP8 GEMMs in Transformer Engine quantise their inputs: each GEMM reads its BF16
/// inputs and writes FP8 copies plus amax (≈ 3 bytes per input element), counted as
/// element-wise HBM traffic. Derived from the data types.
pub const FP8_CAST_BYTES_PER_ELEMENT: f64 = 3.0;

/// Launch and framework overhead per kernel (CUDA launch ≈ 3–5 µs without graphs;
/// PyTorch dispatch). Fitted within that range.
pub const KERNEL_OVERHEAD_S: f64 = 4e-6;

/// Fixed cost of each training step outside the model: data loader, logging,
/// gradient-norm and loss all-reduce, Python. Fitted with `GEMM_SUSTAINED_FRACTION`
/// (0.15 s before stragglers were modelled; the small, short-step rows were then
/// predicted 9–14% slow).
pub const STEP_OVERHEAD_S: f64 = 0.05;

/// Bytes of the optimizer step per parameter it updates (Adam, mixed precision):
/// read FP32 master, m, v and the FP32 gradient (16 bytes), write master, m, v (12) and
/// the BF16 weights (2). Derived from the data types (ZeRO paper, Rajbhandari et al. 2020).
pub const OPTIMIZER_BYTES_PER_PARAM: f64 = 30.0;

/// Speed of the rowwise-scaled FP8 GEMM (a CUTLASS kernel) relative to cuBLAS's
/// tensorwise one on Hopper: 310 µs against 317 µs for a Llama projection (m 4176,
/// n 12288, k 4096; FBGEMM PR #2764); "most shapes within 90-100% of tensor-wise
/// efficiency" (pytorch#147971).
pub const ROWWISE_FP8_GEMM_EFFICIENCY: f64 = 310.0 / 317.0;

/// Memory outside PyTorch's allocator that `nvidia-smi` counts: CUDA context, NCCL
/// buffers, cuBLAS workspaces. ~3 GiB is typical on H100 with NCCL (ml-engineering,
/// "CUDA context 0.5-1 GB"; NCCL buffers up to ~1 GB per communicator set). Estimate.
pub const RUNTIME_RESERVED_BYTES: f64 = 3.0 * 1024.0 * 1024.0 * 1024.0;

/// What PyTorch's caching allocator reserves beyond its allocated peak, as a share of
/// the transient (activation and loss) bytes: freed blocks stay cached and blocks of
/// one size do not serve requests of another, so the reserved peak outgrows the
/// allocated one by a share of what comes and goes each step. Parameters, gradients
/// and optimizer state are allocated once and add none. Fitted (one value) on the
/// reserved-counter rows of validation/memory-and-layouts.jsonl (torchtitan, torchao
/// and the Ultra-Scale Playbook together: 106 rows before the Llama 4 Scout rows were
/// represented; 0.1 to 0.3 give 10.7% to 10.0% there, 0.2 gives 9.6%).
pub const ALLOCATOR_CACHE_FRACTION: f64 = 0.2;

/// Parameters per gradient bucket of Megatron's DDP (`bucket_size` default 40,000,000,
/// megatron/core/distributed/distributed_data_parallel_config.py). The last bucket's
/// reduction starts only when backward ends, so at least one bucket is always exposed.
pub const DP_BUCKET_PARAMS: f64 = 40e6;

/// Bytes a checkpoint holds per model parameter: BF16 weights (2) plus the FP32 master
/// weights and Adam's two moments (12), as Megatron's distributed checkpoints store them.
pub const CHECKPOINT_BYTES_PER_PARAM: f64 = 14.0;

/// CPU time to issue one framework module's forward (a Transformer Engine linear, the
/// attention core, a norm fused into the next linear) in eager PyTorch: 99.7 µs for a TE
/// Linear forward on GB200's Grace and 90.5 µs on GH200 (Transformer Engine issue #2053);
/// 115 µs for Megatron-Core's TEColumnParallelLinear on an x86 host after TE PR #1191
/// (74 µs for the plain Megatron ColumnParallelLinear). Measured; the round value.
pub const HOST_MODULE_FWD_S: f64 = 100e-6;

/// A module's backward costs the host this many times its forward: 2.1 ms against 1.2 ms
/// for TE's fused grouped MLP (Transformer Engine issue #2897). Measured.
pub const HOST_BWD_OVER_FWD: f64 = 1.75;

/// Extra CPU time per local expert per grouped linear in the forward: TE's GroupedLinear
/// launches one GEMM (and its bookkeeping) per expert; 1.2 ms forward for two grouped
/// linears over 64 experts (Transformer Engine issue #2897, GB200) ≈ 9 µs each. Measured.
pub const HOST_EXPERT_GEMM_S: f64 = 9e-6;

/// CPU time to replay one captured CUDA graph: 3.5 µs for a graph of 80 kernels
/// (CUDA.jl documentation, "CUDA graphs"; the launch is one driver call whatever the
/// framework). Measured.
pub const GRAPH_LAUNCH_S: f64 = 3.5e-6;
