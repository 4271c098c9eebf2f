//! The `[model]` table as written: every architecture key optional, a preset or a
//! Hugging Face `config.json` filling what the scenario leaves out, and the resolution
//! into an [`Architecture`] with its checks.

use crate::error::{at_most, Error, Result, MAX_INT};
use crate::model::{Activation, Architecture, AttentionKind, MlaDims, MoeDims, Position};
use serde::{Deserialize, Serialize};

/// Architecture keys of `[model]`, all optional: a preset or `config.json` fills them,
/// keys written in the scenario override.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFields {
    pub layers: Option<u64>,
    pub hidden: Option<u64>,
    pub ffn_hidden: Option<u64>,
    pub heads: Option<u64>,
    pub kv_heads: Option<u64>,
    pub head_dim: Option<u64>,
    pub vocab: Option<u64>,
    pub seq_len: Option<u64>,
    pub activation: Option<Activation>,
    pub tied_embeddings: Option<bool>,
    pub experts: Option<u64>,
    pub top_k: Option<u64>,
    pub shared_experts: Option<u64>,
    pub expert_ffn_hidden: Option<u64>,
    pub shared_expert_ffn_hidden: Option<u64>,
    pub dense_layers: Option<u64>,
    pub attention: Option<AttentionKind>,
    pub kv_lora_rank: Option<u64>,
    pub q_lora_rank: Option<u64>,
    pub qk_rope_head_dim: Option<u64>,
    pub qk_nope_head_dim: Option<u64>,
    pub v_head_dim: Option<u64>,
    pub position: Option<Position>,
    pub bias: Option<bool>,
    /// Tokens a query attends to in windowed layers (sliding-window attention).
    pub sliding_window: Option<u64>,
    /// Share of the layers that use the window (the rest attend to the whole sequence).
    pub sliding_window_share: Option<f64>,
}

macro_rules! overlay_fields {
    ($base:expr, $over:expr, $($f:ident),*) => {{
        let mut out = $base.clone();
        $( if $over.$f.is_some() { out.$f = $over.$f.clone(); } )*
        out
    }};
}

impl ModelFields {
    /// `self` with every key that `over` sets replaced.
    pub fn overlay(&self, over: &ModelFields) -> ModelFields {
        overlay_fields!(
            self, over, layers, hidden, ffn_hidden, heads, kv_heads, head_dim, vocab, seq_len, activation,
            tied_embeddings, experts, top_k, shared_experts, expert_ffn_hidden, shared_expert_ffn_hidden,
            dense_layers, attention, kv_lora_rank, q_lora_rank, qk_rope_head_dim, qk_nope_head_dim, v_head_dim,
            position, bias, sliding_window, sliding_window_share
        )
    }

    /// Resolves defaults and checks the architecture is consistent. `section` prefixes
    /// key names in errors (`model`).
    pub fn resolve(&self, section: &str) -> Result<Architecture> {
        let key = |k: &str| format!("{section}.{k}");
        let need = |v: Option<u64>, k: &str| -> Result<u64> {
            match v {
                None => Err(Error::missing(key(k), "set it, or name a preset / hf_config that has it")),
                Some(0) => Err(Error::invalid(key(k), 0, "must be a positive integer")),
                Some(x) => at_most(&key(k), x, MAX_INT),
            }
        };
        for (v, k) in [
            (self.ffn_hidden, "ffn_hidden"),
            (self.kv_heads, "kv_heads"),
            (self.head_dim, "head_dim"),
            (self.experts, "experts"),
            (self.top_k, "top_k"),
            (self.shared_experts, "shared_experts"),
            (self.expert_ffn_hidden, "expert_ffn_hidden"),
            (self.shared_expert_ffn_hidden, "shared_expert_ffn_hidden"),
            (self.dense_layers, "dense_layers"),
            (self.kv_lora_rank, "kv_lora_rank"),
            (self.q_lora_rank, "q_lora_rank"),
            (self.qk_rope_head_dim, "qk_rope_head_dim"),
            (self.qk_nope_head_dim, "qk_nope_head_dim"),
            (self.v_head_dim, "v_head_dim"),
        ] {
            if let Some(x) = v {
                at_most(&key(k), x, MAX_INT)?;
            }
        }
        let layers = need(self.layers, "layers")?;
        let hidden = need(self.hidden, "hidden")?;
        let heads = need(self.heads, "heads")?;
        let vocab = need(self.vocab, "vocab")?;
        let seq_len = need(self.seq_len, "seq_len")?;
        let experts = self.experts.unwrap_or(0);
        let ffn_hidden = match self.ffn_hidden {
            Some(0) => return Err(Error::invalid(key("ffn_hidden"), 0, "must be a positive integer")),
            Some(f) => f,
            None if experts > 0 && self.dense_layers.unwrap_or(0) == 0 => self.expert_ffn_hidden.unwrap_or(0),
            None => return Err(Error::missing(key("ffn_hidden"), "set it, or name a preset / hf_config that has it")),
        };
        let kv_heads = self.kv_heads.unwrap_or(heads);
        if kv_heads == 0 || heads % kv_heads != 0 {
            return Err(Error::invalid(key("kv_heads"), kv_heads, format!("must divide model.heads = {heads}")));
        }
        let attention = self.attention.unwrap_or(if kv_heads == heads { AttentionKind::Mha } else { AttentionKind::Gqa });
        let mla = if attention == AttentionKind::Mla {
            Some(MlaDims {
                kv_lora_rank: need(self.kv_lora_rank, "kv_lora_rank")?,
                q_lora_rank: self.q_lora_rank.unwrap_or(0),
                qk_rope_head_dim: need(self.qk_rope_head_dim, "qk_rope_head_dim")?,
                qk_nope_head_dim: need(self.qk_nope_head_dim, "qk_nope_head_dim")?,
                v_head_dim: need(self.v_head_dim, "v_head_dim")?,
            })
        } else {
            if attention == AttentionKind::Mha && kv_heads != heads {
                return Err(Error::invalid(key("attention"), "\"mha\"", format!("MHA needs kv_heads = heads ({heads}), got kv_heads = {kv_heads}; use \"gqa\"")));
            }
            for (v, k) in [(self.kv_lora_rank, "kv_lora_rank"), (self.qk_rope_head_dim, "qk_rope_head_dim")] {
                if v.is_some_and(|x| x > 0) {
                    return Err(Error::invalid(key(k), v.unwrap_or(0), "applies only to attention = \"mla\""));
                }
            }
            None
        };
        let head_dim = match self.head_dim {
            Some(0) => return Err(Error::invalid(key("head_dim"), 0, "must be a positive integer")),
            Some(d) => d,
            None if mla.is_some() => mla.map(|m| m.qk_nope_head_dim + m.qk_rope_head_dim).unwrap_or(0),
            None => {
                if hidden % heads != 0 {
                    return Err(Error::invalid(key("heads"), heads, format!("must divide model.hidden = {hidden} (or set model.head_dim)")));
                }
                hidden / heads
            }
        };
        let moe = if experts > 0 {
            let top_k = self.top_k.unwrap_or(0);
            if top_k == 0 || top_k > experts {
                return Err(Error::invalid(key("top_k"), top_k, format!("must be between 1 and model.experts = {experts}")));
            }
            let expert_ffn_hidden = need(self.expert_ffn_hidden, "expert_ffn_hidden")?;
            let dense_layers = self.dense_layers.unwrap_or(0);
            if dense_layers >= layers {
                return Err(Error::invalid(key("dense_layers"), dense_layers, format!("must be below model.layers = {layers}")));
            }
            MoeDims {
                experts,
                top_k,
                shared_experts: self.shared_experts.unwrap_or(0),
                expert_ffn_hidden,
                shared_ffn_hidden: self.shared_expert_ffn_hidden.unwrap_or(0),
                dense_layers,
            }
        } else {
            for (v, k) in [(self.top_k, "top_k"), (self.shared_experts, "shared_experts")] {
                if v.is_some_and(|x| x > 0) {
                    return Err(Error::invalid(key(k), v.unwrap_or(0), "needs model.experts > 0 (a dense model has no experts)"));
                }
            }
            MoeDims::default()
        };
        Ok(Architecture {
            layers,
            hidden,
            ffn_hidden,
            heads,
            kv_heads,
            head_dim,
            vocab,
            seq_len,
            activation: self.activation.unwrap_or(Activation::Swiglu),
            tied_embeddings: self.tied_embeddings.unwrap_or(false),
            attention,
            mla,
            moe,
            position: self.position.unwrap_or(Position::Rope),
            sliding_window: match (self.sliding_window, self.sliding_window_share) {
                (None, None) => None,
                (None, Some(share)) => return Err(Error::invalid(key("sliding_window_share"), share, "needs model.sliding_window (the window, in tokens)")),
                (Some(0), _) => return Err(Error::invalid(key("sliding_window"), 0, "must be a positive number of tokens")),
                (Some(tokens), share) => {
                    let share = share.unwrap_or(1.0);
                    if !(share.is_finite() && share > 0.0 && share <= 1.0) {
                        return Err(Error::invalid(key("sliding_window_share"), share, "must be a share of the layers, above 0 and at most 1"));
                    }
                    Some(crate::model::SlidingWindow { tokens: at_most(&key("sliding_window"), tokens, MAX_INT)?, share })
                }
            },
            bias: self.bias.unwrap_or(false),
        })
    }
}

