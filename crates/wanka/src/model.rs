//! The model: architecture → parameter counts, per-layer operations, FLOPs per token.
//!
//! FLOP convention (the one SCENARIO.md promises, and Megatron-LM's
//! `num_floating_point_operations`, Narayanan et al. SC'21 appendix): every matrix
//! product counts `2·m·n·k`; the backward pass costs twice the forward (data and weight
//! gradients), so a model FLOP is 3× the forward; attention's `QKᵀ` and `AV` count the
//! full `s×s` product (no causal halving); recomputation is *not* a model FLOP (it is a
//! hardware FLOP). Element-wise work (norms, activations, softmax) is not counted.

pub mod fields;

use serde::{Deserialize, Serialize};

/// Activation of the MLP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// Gated SiLU (Llama, Mistral, Qwen, DeepSeek): three weight matrices.
    Swiglu,
    /// Plain GELU (GPT-2/3, GPT-NeoX): two weight matrices.
    Gelu,
    /// Squared ReLU (Nemotron-4): two weight matrices.
    SquaredRelu,
}

/// Attention variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttentionKind {
    Mha,
    Gqa,
    /// Multi-head latent attention (DeepSeek-V2/V3).
    Mla,
}

/// Position encoding: rotary adds no parameters, learned adds `seq_len × hidden`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    Rope,
    Learned,
}

/// Dimensions of multi-head latent attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MlaDims {
    pub kv_lora_rank: u64,
    /// 0 = queries are projected directly from the hidden state.
    pub q_lora_rank: u64,
    pub qk_rope_head_dim: u64,
    pub qk_nope_head_dim: u64,
    pub v_head_dim: u64,
}

/// Mixture-of-experts shape; `experts == 0` means dense.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct MoeDims {
    pub experts: u64,
    pub top_k: u64,
    pub shared_experts: u64,
    pub expert_ffn_hidden: u64,
    /// FFN width of the shared expert block (Qwen2-MoE has one wide shared expert);
    /// defaults to `shared_experts × expert_ffn_hidden`.
    pub shared_ffn_hidden: u64,
    /// The first `dense_layers` layers use a dense MLP of width `ffn_hidden`.
    pub dense_layers: u64,
}

/// A transformer decoder, fully resolved (no optional fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Architecture {
    pub layers: u64,
    pub hidden: u64,
    /// Dense MLP width (also the width of MoE models' dense layers).
    pub ffn_hidden: u64,
    pub heads: u64,
    pub kv_heads: u64,
    pub head_dim: u64,
    pub vocab: u64,
    pub seq_len: u64,
    pub activation: Activation,
    pub tied_embeddings: bool,
    pub attention: AttentionKind,
    pub mla: Option<MlaDims>,
    pub moe: MoeDims,
    pub position: Position,
    /// Linear layers carry biases (GPT-2/3, NeoX); norms are LayerNorm with bias then.
    pub bias: bool,
    /// Sliding-window attention on some or all layers (Mistral 7B v0.1, gpt-oss, Gemma).
    pub sliding_window: Option<SlidingWindow>,
}

/// Sliding-window attention: in a share of the layers each query attends to at most
/// the `tokens` before it (itself included).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SlidingWindow {
    pub tokens: u64,
    /// Share of the layers that are windowed.
    pub share: f64,
}

/// Keys a query attends to on average in a causal window of `w` tokens over a sequence
/// of `s`: query i sees min(i + 1, w) keys, so the mean is w − w(w − 1)/(2s) (w < s).
/// Full causal attention (w ≥ s) is the s/2 the step model has always used.
pub fn windowed_keys_per_query(w: f64, s: f64) -> f64 {
    if w >= s {
        s / 2.0
    } else {
        w - w * (w - 1.0) / (2.0 * s)
    }
}

/// Parameter counts of a model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ParamCounts {
    pub total: f64,
    /// Parameters touched by one token (top-k experts instead of all).
    pub active: f64,
    /// Input embedding (plus learned positions).
    pub embedding: f64,
    /// Output projection (0 when tied to the embedding).
    pub lm_head: f64,
    /// Routed-expert weights, all layers, all experts.
    pub routed_experts: f64,
}

/// Per-layer shapes, in elements, that both FLOPs and memory use.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LayerParams {
    pub attention: f64,
    /// Dense MLP of a dense layer.
    pub dense_mlp: f64,
    /// One routed expert.
    pub expert: f64,
    /// The shared-expert block of a MoE layer.
    pub shared: f64,
    pub router: f64,
    pub norms: f64,
}

impl Architecture {
    /// Keys one query attends to, averaged over the layers (causal attention: half the
    /// sequence; windowed layers fewer). What a fused kernel that skips masked blocks
    /// computes; the model-FLOP convention keeps the full product (module docs).
    pub fn attended_keys_per_query(&self) -> f64 {
        let s = self.seq_len as f64;
        match self.sliding_window {
            None => s / 2.0,
            Some(w) => w.share * windowed_keys_per_query(w.tokens as f64, s) + (1.0 - w.share) * s / 2.0,
        }
    }

    pub fn is_moe(&self) -> bool {
        self.moe.experts > 0
    }

    /// Layers whose MLP is a mixture of experts.
    pub fn moe_layers(&self) -> u64 {
        if self.is_moe() {
            self.layers.saturating_sub(self.moe.dense_layers)
        } else {
            0
        }
    }

    /// Width of the query projection output (heads × q head dim).
    pub fn q_width(&self) -> u64 {
        match self.mla {
            Some(m) => self.heads * (m.qk_nope_head_dim + m.qk_rope_head_dim),
            None => self.heads * self.head_dim,
        }
    }

    /// Width of one attention output (heads × v head dim): the input of the output projection.
    pub fn v_width(&self) -> u64 {
        match self.mla {
            Some(m) => self.heads * m.v_head_dim,
            None => self.heads * self.head_dim,
        }
    }

    /// Head dim used by `QKᵀ`.
    pub fn qk_head_dim(&self) -> u64 {
        match self.mla {
            Some(m) => m.qk_nope_head_dim + m.qk_rope_head_dim,
            None => self.head_dim,
        }
    }

    fn mlp_matrices(&self) -> f64 {
        match self.activation {
            Activation::Swiglu => 3.0,
            Activation::Gelu | Activation::SquaredRelu => 2.0,
        }
    }

    /// Weights of each kind of block in one layer.
    pub fn layer_params(&self) -> LayerParams {
        let h = self.hidden as f64;
        let b = if self.bias { 1.0 } else { 0.0 };
        let attention = match self.mla {
            None => {
                let q = self.q_width() as f64;
                let kv = (self.kv_heads * self.head_dim) as f64;
                // Q, K, V projections and the output projection (with biases if any).
                h * (q + 2.0 * kv) + b * (q + 2.0 * kv) + q * h + b * h
            }
            Some(m) => {
                let heads = self.heads as f64;
                let qk = (m.qk_nope_head_dim + m.qk_rope_head_dim) as f64;
                let q = if m.q_lora_rank > 0 {
                    let r = m.q_lora_rank as f64;
                    h * r + r + r * heads * qk // down, norm, up
                } else {
                    h * heads * qk
                };
                let r = m.kv_lora_rank as f64;
                let kv = h * (r + m.qk_rope_head_dim as f64)
                    + r
                    + r * heads * (m.qk_nope_head_dim + m.v_head_dim) as f64;
                let o = heads * m.v_head_dim as f64 * h;
                q + kv + o
            }
        };
        let mlp = |f: f64| self.mlp_matrices() * h * f + b * (f * (self.mlp_matrices() - 1.0) + h);
        let norms = 2.0 * h * (1.0 + b);
        let shared_ffn = if self.moe.shared_ffn_hidden > 0 {
            self.moe.shared_ffn_hidden
        } else {
            self.moe.shared_experts * self.moe.expert_ffn_hidden
        };
        LayerParams {
            attention,
            dense_mlp: mlp(self.ffn_hidden as f64),
            expert: if self.is_moe() { mlp(self.moe.expert_ffn_hidden as f64) } else { 0.0 },
            shared: if shared_ffn > 0 { mlp(shared_ffn as f64) } else { 0.0 },
            router: if self.is_moe() { h * self.moe.experts as f64 } else { 0.0 },
            norms,
        }
    }

    /// Parameter tensors of one layer as frameworks hold them (fused QKV, fused gated
    /// up-projection): weights and biases of the linear layers, and the norms.
    pub fn tensors_per_layer(&self) -> f64 {
        let b = if self.bias { 2.0 } else { 1.0 };
        let attention_linears = if self.mla.is_some() { 5.0 } else { 2.0 };
        let mlp_linears = 2.0 + if self.is_moe() { 1.0 } else { 0.0 };
        (attention_linears + mlp_linears) * b + 2.0 * b
    }

    /// Total and active parameter counts.
    pub fn params(&self) -> ParamCounts {
        let h = self.hidden as f64;
        let lp = self.layer_params();
        let dense_layers = (self.layers - self.moe_layers()) as f64;
        let moe_layers = self.moe_layers() as f64;
        let positions = match self.position {
            Position::Learned => (self.seq_len as f64) * h,
            Position::Rope => 0.0,
        };
        let embedding = self.vocab as f64 * h + positions;
        let lm_head = if self.tied_embeddings { 0.0 } else { self.vocab as f64 * h };
        let final_norm = h * if self.bias { 2.0 } else { 1.0 };
        let per_layer_common = lp.attention + lp.norms;
        let routed_experts = moe_layers * self.moe.experts as f64 * lp.expert;
        let body_dense = dense_layers * (per_layer_common + lp.dense_mlp);
        let body_moe_shared = moe_layers * (per_layer_common + lp.shared + lp.router);
        let total = embedding + lm_head + final_norm + body_dense + body_moe_shared + routed_experts;
        let active = total - routed_experts + moe_layers * self.moe.top_k as f64 * lp.expert;
        ParamCounts { total, active, embedding, lm_head, routed_experts }
    }

    /// Forward matrix-product FLOPs per token of one layer, excluding attention's
    /// `QKᵀ`/`AV` (see [`Self::attention_core_flops_per_token`]). `moe` selects the layer kind.
    pub fn layer_linear_flops_per_token(&self, moe: bool) -> f64 {
        self.linear_flops_with(&self.layer_params(), moe)
    }

    fn linear_flops_with(&self, lp: &LayerParams, moe: bool) -> f64 {
        let mlp = if moe {
            lp.shared + lp.router + self.moe.top_k as f64 * lp.expert
        } else {
            lp.dense_mlp
        };
        2.0 * (lp.attention + mlp)
    }

    /// Forward FLOPs per token of `QKᵀ` and `AV` over the full `s×s` score matrix
    /// (Megatron convention: `4·s·h` for MHA with `h = heads·head_dim`).
    pub fn attention_core_flops_per_token(&self) -> f64 {
        let s = self.seq_len as f64;
        let heads = self.heads as f64;
        2.0 * s * heads * (self.qk_head_dim() + self.v_head_dim()) as f64
    }

    fn v_head_dim(&self) -> u64 {
        match self.mla {
            Some(m) => m.v_head_dim,
            None => self.head_dim,
        }
    }

    /// Forward FLOPs per token of the LM head (logits).
    pub fn lm_head_flops_per_token(&self) -> f64 {
        2.0 * self.hidden as f64 * self.vocab as f64
    }

    /// Model FLOPs per token, forward and backward (3× forward), attention included,
    /// recomputation excluded: the numerator of MFU.
    pub fn model_flops_per_token(&self) -> f64 {
        let dense = (self.layers - self.moe_layers()) as f64;
        let moe = self.moe_layers() as f64;
        let lp = self.layer_params();
        let forward = dense * self.linear_flops_with(&lp, false)
            + moe * self.linear_flops_with(&lp, true)
            + self.layers as f64 * self.attention_core_flops_per_token()
            + self.lm_head_flops_per_token();
        3.0 * forward
    }
}

/// The SC'21 Megatron-LM FLOP count per iteration, `96·B·s·l·h²·(1 + s/6h + V/16lh)`
/// (Narayanan et al. 2021, eq. 3): GPT with a 4h MLP, full recomputation included.
/// Used only to convert that paper's published TFLOP/s into tokens/s.
pub fn megatron_sc21_flops_per_token(layers: f64, hidden: f64, seq: f64, vocab: f64) -> f64 {
    96.0 * layers * hidden * hidden * (1.0 + seq / (6.0 * hidden) + vocab / (16.0 * layers * hidden))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query sees min(i + 1, w) keys: the mean over the sequence, exactly; a window at
    /// least as long as the sequence is full causal attention.
    #[test]
    fn windowed_keys_are_counted_exactly() {
        let (w, s) = (128u64, 4096u64);
        let exact = (0..s).map(|i| (i + 1).min(w) as f64).sum::<f64>() / s as f64;
        assert!((windowed_keys_per_query(w as f64, s as f64) - exact).abs() < 1e-9);
        assert_eq!(windowed_keys_per_query(8192.0, 4096.0), 2048.0);
        let mut a = gpt3_175b();
        let full = a.attended_keys_per_query();
        a.sliding_window = Some(SlidingWindow { tokens: 128, share: 0.5 });
        assert!((a.attended_keys_per_query() - (0.5 * full + 0.5 * windowed_keys_per_query(128.0, 2048.0))).abs() < 1e-9);
    }

    pub(crate) fn gpt3_175b() -> Architecture {
        Architecture {
            layers: 96,
            hidden: 12288,
            ffn_hidden: 4 * 12288,
            heads: 96,
            kv_heads: 96,
            head_dim: 128,
            vocab: 50257,
            seq_len: 2048,
            activation: Activation::Gelu,
            tied_embeddings: true,
            attention: AttentionKind::Mha,
            mla: None,
            moe: MoeDims::default(),
            position: Position::Learned,
            bias: true,
            sliding_window: None,
        }
    }

    #[test]
    fn gpt3_has_175b_parameters() {
        let p = gpt3_175b().params();
        assert!((p.total / 175e9 - 1.0).abs() < 0.01, "{}", p.total);
        assert_eq!(p.total, p.active);
    }

    #[test]
    fn model_flops_match_megatron_formula_for_plain_gpt() {
        // With a 4h GELU MLP and MHA, our count equals 3/4 of the SC'21 formula
        // (which adds a recomputed forward pass), up to biases and norms.
        let mut a = gpt3_175b();
        a.bias = false;
        let ours = a.model_flops_per_token();
        let sc21 = megatron_sc21_flops_per_token(96.0, 12288.0, 2048.0, 50257.0);
        assert!((ours / (0.75 * sc21) - 1.0).abs() < 1e-3, "{ours} vs {}", 0.75 * sc21);
    }
}
