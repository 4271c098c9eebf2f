//! Training software as documented facts (`training.framework`).
//!
//! The same layout runs at different speeds under different software, for reasons the
//! software's code and documentation state: whether gradient reduction overlaps the
//! backward pass, whether pipeline sends block, how ZeRO-3 gathers parameters, which
//! attention kernel runs, the dtype gradients are reduced in, whether garbage
//! collection is aligned across ranks. A framework here is only the defaults of those
//! facts, each with its source; every one of them remains a scenario key a user can set.
//! There is no per-framework speed factor.

use serde::{Deserialize, Serialize};

/// The training software a scenario runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Framework {
    /// Megatron-Core (Megatron-LM ≥ 2023) configured as NVIDIA's published performance
    /// runs are (the default).
    MegatronCore,
    /// NVIDIA NeMo / Megatron-Bridge performance recipes over Megatron-Core.
    Nemo,
    /// Megatron-LM of 2021 (the SC'21 paper's code).
    #[serde(rename = "megatron-lm-2021")]
    MegatronLm2021,
    /// DeepSpeed ZeRO-3 of early 2021 under Megatron-LM (Megatron-DeepSpeed).
    #[serde(rename = "deepspeed-2021")]
    Deepspeed2021,
    /// PyTorch FSDP / FSDP2 with its default mixed-precision policy.
    Fsdp,
    /// torchtitan (FSDP2, DTensor, torch.compile), from April 2025.
    Torchtitan,
    /// torchtitan before April 2025, whose torch.compile left the loss eager.
    #[serde(rename = "torchtitan-2025q1")]
    Torchtitan2025Q1,
    /// nanotron (Hugging Face; the Ultra-Scale Playbook's sweep).
    Nanotron,
}

/// What `parallel.recompute = "selective"` keeps and recomputes under a framework.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SelectivePolicy {
    /// Megatron-Core's `recompute_modules` (`training.recompute_modules`).
    MegatronModules,
    /// torchtitan's op-level selective checkpointing: keep the outputs of SDPA and of
    /// every other matmul, recompute everything else.
    TorchtitanOps,
}

/// How a framework assigns transformer layers to pipeline ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StageSplit {
    /// Even, or one layer fewer on the first and last rank (`parallel::StageLayout`).
    Megatron,
    /// By compute cost, the LM head weighing V·h and the embedding nothing (nanotron).
    CostBalanced,
}

/// What a framework does by default.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FrameworkFacts {
    /// Gradient reduction overlaps the backward pass (`parallel.overlap_grad_reduce`).
    pub overlap_grad_reduce: bool,
    /// The distributed optimizer's parameter all-gather overlaps the next forward.
    pub overlap_param_gather: bool,
    /// The interleaved schedule's pipeline sends run beside compute.
    pub overlap_p2p_comm: bool,
    /// Pipeline sends are split over the TP ranks and re-gathered over NVLink.
    pub pp_scatter_gather: bool,
    /// TP collectives overlap the GEMMs they feed (Transformer Engine userbuffers).
    pub tp_comm_overlap: bool,
    /// When TP overlap is on, the backward's collectives are overlapped too (else only
    /// the forward's).
    pub tp_overlap_in_backward: bool,
    /// ZeRO-3 gathers one parameter tensor at a time, synchronously (else one layer's
    /// flat buffer, prefetched).
    pub zero3_per_tensor: bool,
    /// A fused attention kernel (FlashAttention / cuDNN) rather than materialised scores.
    pub flash_attention: bool,
    /// Gradients reduced in FP32 when training in BF16 or FP8 (else in BF16).
    pub bf16_grad_reduce_fp32: bool,
    /// Garbage collection at the same step on every rank (host pauses aligned).
    pub aligned_gc: bool,
    /// How layers are split over pipeline ranks.
    pub stage_split: StageSplit,
    /// BF16 `.grad` tensors live beside the FP32 accumulation buffer at the end of each
    /// micro-batch's backward (2 more bytes per parameter at peak).
    pub bf16_grads_beside_fp32: bool,
    /// What selective recomputation means.
    pub selective: SelectivePolicy,
    /// Under `parallel.recompute_layers` the recomputed layers are spread evenly through
    /// the stage (torchtitan's layer-wise selective AC wraps every k-th block,
    /// activation_checkpoint.py `_apply_layer_sac`), not the first N (Megatron's block
    /// method): the last layer is one of them, so backward recomputes it while the
    /// micro-batch's kept layers are all still held.
    pub recompute_layers_spread: bool,
    /// FP8 GEMMs through Transformer Engine, which saves GEMM inputs for backward in FP8
    /// (torchao's Float8Linear saves them in BF16).
    pub transformer_engine: bool,
    /// Bytes per logit the loss holds at its peak on the last stage.
    pub loss_bytes_per_logit: f64,
    /// The ZeRO stage its optimizer shards to when `parallel.zero` is left out.
    pub zero: u8,
    /// Which element-wise ops run as chains of unfused PyTorch kernels unless
    /// `training.compile` fuses them (`step::layer::ElementwisePasses`).
    pub eager: EagerOps,
    /// `training.compile` also compiles the loss, which then keeps the BF16 logits and
    /// writes a BF16 gradient (4 bytes per logit) instead of FP32 copies.
    pub compile_covers_loss: bool,
    /// FSDP2 under PyTorch's pipeline schedules: gradient sync is off until the last
    /// micro-batch, so each stage accumulates unsharded gradients in the FP32 reduce
    /// dtype (`FSDPParam.unsharded_accumulated_grad`, pytorch#125191) beside its
    /// unsharded BF16 parameters.
    pub pipeline_accumulates_unsharded_fp32_grads: bool,
    /// Mixed precision comes only with FSDP: without data-parallel sharding
    /// (`parallel.zero = 0`) parameters, gradients and the optimizer are FP32 with no
    /// separate master copy.
    pub fp32_params_without_fsdp: bool,
    /// Multi-head attention (as many KV heads as heads) keeps the permuted QKV buffer,
    /// which Q is a view of, and a contiguous copy of K and V (2·(k + v) more bytes
    /// per token than Q, K and V alone).
    pub mha_keeps_qkv_and_kv_copies: bool,
    /// The linears that read one input run as one GEMM: Q, K and V (Megatron-Core's
    /// `linear_qkv`, nanotron's `qkv_proj`) and the gate and up projections
    /// (`linear_fc1`, `gate_up_proj`). Otherwise each is its own GEMM (torchtitan's
    /// `wq`, `wk`, `wv` and `w1`, `w3`; Hugging Face's `q_proj`… `up_proj`).
    pub fused_input_projections: bool,
    /// With FP8 tensorwise scaling, sequence-parallel TP all-gathers the GEMM inputs in
    /// FP8 (and the backward the output gradients): one byte per element, not two; the
    /// reduce-scatters stay in BF16.
    pub fp8_tp_all_gather: bool,
}

/// Element-wise ops a framework runs eagerly, one PyTorch kernel per tensor operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EagerOps {
    pub norm: bool,
    pub rope: bool,
    pub act: bool,
}

impl EagerOps {
    pub const FUSED: EagerOps = EagerOps { norm: false, rope: false, act: false };
    pub const ALL: EagerOps = EagerOps { norm: true, rope: true, act: true };
}

impl Framework {
    /// Every framework, for help texts and errors.
    pub const ALL: [Framework; 8] = [
        Framework::MegatronCore,
        Framework::Nemo,
        Framework::MegatronLm2021,
        Framework::Deepspeed2021,
        Framework::Fsdp,
        Framework::Torchtitan,
        Framework::Torchtitan2025Q1,
        Framework::Nanotron,
    ];

    /// The key's value as written in a scenario.
    pub fn name(self) -> &'static str {
        match self {
            Framework::MegatronCore => "megatron-core",
            Framework::Nemo => "nemo",
            Framework::MegatronLm2021 => "megatron-lm-2021",
            Framework::Deepspeed2021 => "deepspeed-2021",
            Framework::Fsdp => "fsdp",
            Framework::Torchtitan => "torchtitan",
            Framework::Torchtitan2025Q1 => "torchtitan-2025q1",
            Framework::Nanotron => "nanotron",
        }
    }

    /// The framework's documented defaults.
    pub fn facts(self) -> FrameworkFacts {
        // Megatron-Core as NVIDIA runs it for its published tables: the README's
        // weak-scaling runs pass --overlap-grad-reduce --overlap-param-gather (Megatron-LM
        // README, r0.8.0); --tp-comm-overlap is opt-in (megatron/training/arguments.py).
        // BF16 forces FP32 gradient accumulation and all-reduce ("bfloat16 requires
        // gradient accumulation and all-reduce to be done in fp32", arguments.py).
        // Transformer Engine's fused attention is the default kernel. --manual-gc is
        // opt-in: Python's threshold-based collector runs on each rank at its own time.
        let megatron_core = FrameworkFacts {
            overlap_grad_reduce: true,
            overlap_param_gather: true,
            overlap_p2p_comm: true,
            pp_scatter_gather: false,
            tp_comm_overlap: false,
            // Transformer Engine overlaps the backward's dgrad and wgrad GEMMs with their
            // reduce-scatter and all-gather too (userbuffers' bulk and ring overlaps).
            tp_overlap_in_backward: true,
            zero3_per_tensor: false,
            flash_attention: true,
            bf16_grad_reduce_fp32: true,
            aligned_gc: false,
            stage_split: StageSplit::Megatron,
            bf16_grads_beside_fp32: false,
            selective: SelectivePolicy::MegatronModules,
            recompute_layers_spread: false,
            transformer_engine: true,
            // FP32 logits and their FP32 gradient (vocab-parallel cross entropy,
            // tensor_parallel/cross_entropy.py).
            loss_bytes_per_logit: 8.0,
            // The distributed optimizer (`--use-distributed-optimizer`): optimizer state
            // sharded, gradients reduce-scattered.
            zero: 1,
            // Transformer Engine's fused RMSNorm, fused rotary and Megatron's fused
            // bias-SwiGLU (`--bias-swiglu-fusion`, on by default).
            eager: EagerOps::FUSED,
            compile_covers_loss: false,
            pipeline_accumulates_unsharded_fp32_grads: false,
            fp32_params_without_fsdp: false,
            mha_keeps_qkv_and_kv_copies: false,
            fused_input_projections: true,
            // Not claimed for Transformer Engine: which of its releases gather FP8 inputs
            // under sequence parallelism is not established here.
            fp8_tp_all_gather: false,
        };
        match self {
            Framework::MegatronCore => megatron_core,
            // NeMo's performance recipes turn on TP communication overlap
            // (`tp_comm_overlap: True` in the launcher's GPT-3/Llama training configs,
            // NeMo-Framework-Launcher conf/training/*) and collect garbage on a fixed
            // step interval on every rank (NeMo 2 GarbageCollectionCallback, gc_interval).
            //
            // Its launcher's GPT/Llama/Nemotron training configs optimise with Apex's
            // `distributed_fused_adam` (NeMo-Framework-Launcher conf/training/*, `optim.name`),
            // which keeps gradients only in sharded buckets and syncs them in BF16
            // (`grad_sync_dtype: bf16`): ZeRO-2 with BF16 reduction.
            Framework::Nemo => FrameworkFacts { tp_comm_overlap: true, aligned_gc: true, zero: 2, bf16_grad_reduce_fp32: false, ..megatron_core },
            // Megatron-LM 2021 (examples/sc21, commit de7dc40): local DDP by default
            // (`--DDP-impl local`: gradients all-reduced after the backward), pipeline
            // activations sent with batch_isend_irecv then torch.cuda.synchronize (every
            // send blocks), split over the TP ranks' NICs and all-gathered over NVLink
            // (Narayanan et al. 2021, §4.1), attention as separate kernels with the s×s
            // scores in HBM (before FlashAttention, 2022).
            Framework::MegatronLm2021 => FrameworkFacts {
                overlap_grad_reduce: false,
                overlap_p2p_comm: false,
                pp_scatter_gather: true,
                flash_attention: false,
                ..megatron_core
            },
            // DeepSpeed ZeRO-3 of early 2021: one all-gather per parameter tensor, each
            // followed by torch.cuda.synchronize (DeepSpeed issues #1069, #1174; grouped
            // gathers came with PR #1188, prefetching with PR #1453, late 2021); FP16
            // gradients reduced in FP16 (`fp32_allreduce` off by default).
            Framework::Deepspeed2021 => FrameworkFacts {
                overlap_grad_reduce: true,
                zero3_per_tensor: true,
                bf16_grad_reduce_fp32: false,
                ..Framework::MegatronLm2021.facts()
            },
            // PyTorch FSDP2: `MixedPrecisionPolicy(reduce_dtype=None)` reduces in the
            // parameters' dtype (BF16); per-layer gathers prefetched (BACKWARD_PRE);
            // SDPA's flash kernel.
            // Models written in plain PyTorch (torchtune's, Hugging Face's) run their norms,
            // rotary and activation as eager tensor ops.
            Framework::Fsdp => FrameworkFacts {
                bf16_grad_reduce_fp32: false,
                transformer_engine: false,
                eager: EagerOps::ALL,
                pipeline_accumulates_unsharded_fp32_grads: true,
                fused_input_projections: false,
                ..megatron_core
            },
            // torchtitan: FSDP2 with `mixed_precision_reduce = "float32"` (job_config.py)
            // and aligned collection every `gc_freq` steps (torchtitan/tools/utils.py
            // GarbageCollection, default 50). Selective AC in "op" mode saves
            // {mm (every other one), SDPA flash/efficient, reduce_scatter, max} and
            // recomputes the rest (parallelize.py `_save_list`, `_custom_policy`). FP8
            // through torchao's Float8Linear, not Transformer Engine. The loss upcasts
            // the logits (`cross_entropy_loss(pred.flatten(0, 1).float(), …)`): at its
            // backward the FP32 log-softmax it saved, the FP32 gradient flowing in and
            // the FP32 gradient it computes, 12 bytes per logit.
            Framework::Torchtitan => FrameworkFacts {
                bf16_grad_reduce_fp32: true,
                aligned_gc: true,
                selective: SelectivePolicy::TorchtitanOps,
                recompute_layers_spread: true,
                transformer_engine: false,
                loss_bytes_per_logit: 12.0,
                // Its Llama is plain PyTorch (models/llama3/model.py: RMSNorm as
                // `x.float()`, pow, mean, rsqrt, `type_as`, weight; rotary through
                // complex views; `F.silu(w1(x)) * w3(x)`): fused only under
                // `[compile] enable`.
                eager: EagerOps::ALL,
                // `[compile] components = ["model", "loss"]` (PR #1033, April 2025; the
                // default since PR #1608).
                compile_covers_loss: true,
                // Under pipelining FSDP keeps parameters unsharded between forward and
                // backward (`reshard_after_forward = not pp_enabled`, parallelize.py)
                // and PyTorch's schedules defer the reduce-scatter to the last
                // micro-batch (pipelining/stage.py `backward_maybe_with_nosync`).
                pipeline_accumulates_unsharded_fp32_grads: true,
                // "mixed precision is only supported in FSDP" (torchtitan#630): a
                // TP- or PP-only run trains in FP32.
                fp32_params_without_fsdp: true,
                // Async TP (Inductor's micro-pipelining of all-gather→matmul and
                // matmul→reduce-scatter) is measured as "~29% forward pass speedup and
                // ~8% E2E speedup in Llama3 7B" (PyTorch forum, "Introducing Async Tensor
                // Parallelism in PyTorch"): the forward's collectives, not the backward's.
                tp_overlap_in_backward: false,
                // models/llama3/model.py: `self.wq`, `self.wk`, `self.wv`; `self.w1`, `self.w3`.
                fused_input_projections: false,
                // parallelize.py: "float8 all-gather with TP is only supported for
                // tensorwise float8 scaling recipes. For rowwise recipes, we use regular
                // TP and all-gather happens in high precision" (`enable_float8_tensorwise_tp`,
                // torchao's Float8ColwiseParallel / Float8RowwiseParallel / PrepareFloat8ModuleInput;
                // docs/float8.md: "we cast sharded input into float8 and perform float8
                // all-gather for unsharded input").
                fp8_tp_all_gather: true,
                ..megatron_core
            },
            // Before PR #1033 the loss stayed eager under torch.compile ("compiling loss
            // function causes CUDA errors, turning off for now", train.py).
            Framework::Torchtitan2025Q1 => FrameworkFacts { compile_covers_loss: false, ..Framework::Torchtitan.facts() },
            // nanotron with `accumulate_grad_in_fp32` (optim/gradient_accumulator.py):
            // autograd's BF16 `.grad` is folded into the FP32 buffer only after
            // `loss.backward()` returns, so both are alive then; ZeRO-1 shards the FP32
            // master and Adam's moments, not the buffer. Pipeline blocks are assigned by
            // cost (models/base.py `build_model`). Flash attention 2. Its RMSNorm is a
            // Triton kernel and its rotary flash-attn's fused one; the gated activation
            // is eager (`GLUActivation`: `act(gate) * up`).
            Framework::Nanotron => FrameworkFacts {
                stage_split: StageSplit::CostBalanced,
                bf16_grads_beside_fp32: true,
                transformer_engine: false,
                eager: EagerOps { norm: false, rope: false, act: true },
                // models/llama.py: `qkv.view(…).permute(2, 1, 0, 3, 4).contiguous()`,
                // then `torch.cat([k, v]).permute(…).contiguous()` for rotary; flash
                // attention saves q (a view of the first) and k, v (views of the second).
                mha_keeps_qkv_and_kv_copies: true,
                ..megatron_core
            },
        }
    }
}
