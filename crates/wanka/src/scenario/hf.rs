//! Import of a Hugging Face `config.json` (`model.hf_config`) into [`ModelFields`].
//!
//! Families and the names they use (transformers' configuration classes):
//! - `llama`, `mistral`, `qwen2`, `qwen3`: hidden_size, num_hidden_layers,
//!   intermediate_size, num_attention_heads, num_key_value_heads, head_dim (Qwen3).
//! - `mixtral`: the same, experts in num_local_experts / num_experts_per_tok, expert
//!   width in intermediate_size.
//! - `qwen2_moe`, `qwen3_moe`: num_experts, moe_intermediate_size, one wide shared
//!   expert (shared_expert_intermediate_size, Qwen2 only), mlp_only_layers.
//! - `deepseek_v3` (and `deepseek_v2`): MLA ranks, n_routed_experts, n_shared_experts,
//!   first_k_dense_replace.
//! - `gpt2`: n_embd, n_layer, n_head, n_inner (default 4·n_embd), n_positions, tied.
//! - `gpt_neox`: GELU, biases, untied.
//!
//! The training sequence length is not in a config.json: wanka takes the pre-extension
//! context (`rope_scaling.original_max_position_embeddings`) when there is one, else
//! `max_position_embeddings`, capped at 8192; set `model.seq_len` to choose another.

use super::ModelFields;
use crate::error::{Error, Result};
use crate::model::{Activation, AttentionKind, Position};
use serde_json::Value;
use std::path::Path;

/// Families this importer understands.
pub const FAMILIES: [&str; 11] = [
    "llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "deepseek_v2", "deepseek_v3", "gpt2", "gpt_neox",
];

/// Longest default training sequence taken from a config.
const MAX_DEFAULT_SEQ_LEN: u64 = 8192;

pub fn load(path: &Path) -> Result<ModelFields> {
    parse(&super::read_text(path)?, &path.display().to_string())
}

pub fn parse(text: &str, name: &str) -> Result<ModelFields> {
    let v: Value = serde_json::from_str(text).map_err(|e| Error::Parse { path: name.to_string(), message: e.to_string() })?;
    let Some(obj) = v.as_object() else {
        return Err(Error::Parse { path: name.to_string(), message: "expected a JSON object".into() });
    };
    let model_type = obj.get("model_type").and_then(Value::as_str).unwrap_or("");
    let key = |k: &str| format!("model.hf_config ({name}): {k}");
    let uint = |k: &str| -> Result<Option<u64>> {
        match obj.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(x) => x.as_u64().map(Some).ok_or_else(|| Error::invalid(key(k), x, "expected a non-negative integer")),
        }
    };
    let req = |k: &str| -> Result<u64> { uint(k)?.ok_or_else(|| Error::missing(key(k), format!("{model_type} configs carry it"))) };
    let seq_len = || -> Result<Option<u64>> {
        let original = obj
            .get("rope_scaling")
            .and_then(|r| r.get("original_max_position_embeddings"))
            .and_then(Value::as_u64);
        let max_pos = uint("max_position_embeddings")?.or(uint("n_positions")?);
        Ok(original.or(max_pos).map(|s| s.min(MAX_DEFAULT_SEQ_LEN)))
    };
    let activation = |k: &str| -> Activation {
        match obj.get(k).and_then(Value::as_str).unwrap_or("silu") {
            s if s.starts_with("gelu") => Activation::Gelu,
            "relu2" | "squared-relu" | "squared_relu" => Activation::SquaredRelu,
            _ => Activation::Swiglu,
        }
    };
    let tied = |default: bool| obj.get("tie_word_embeddings").and_then(Value::as_bool).unwrap_or(default);
    let mut f = ModelFields::default();
    match model_type {
        "llama" | "mistral" | "qwen2" | "qwen3" | "mixtral" | "qwen2_moe" | "qwen3_moe" => {
            f.layers = Some(req("num_hidden_layers")?);
            f.hidden = Some(req("hidden_size")?);
            f.heads = Some(req("num_attention_heads")?);
            f.kv_heads = uint("num_key_value_heads")?.or(f.heads);
            f.head_dim = uint("head_dim")?;
            f.vocab = Some(req("vocab_size")?);
            f.seq_len = seq_len()?;
            f.activation = Some(activation("hidden_act"));
            f.tied_embeddings = Some(tied(false));
            f.ffn_hidden = Some(req("intermediate_size")?);
            f.attention = Some(if f.kv_heads == f.heads { AttentionKind::Mha } else { AttentionKind::Gqa });
            match model_type {
                "mixtral" => {
                    f.experts = Some(req("num_local_experts")?);
                    f.top_k = Some(req("num_experts_per_tok")?);
                    f.expert_ffn_hidden = f.ffn_hidden;
                }
                "qwen2_moe" | "qwen3_moe" => {
                    f.experts = Some(req("num_experts")?);
                    f.top_k = Some(req("num_experts_per_tok")?);
                    f.expert_ffn_hidden = Some(req("moe_intermediate_size")?);
                    if let Some(shared) = uint("shared_expert_intermediate_size")?.filter(|s| *s > 0) {
                        f.shared_experts = Some(1);
                        f.shared_expert_ffn_hidden = Some(shared);
                    }
                    let step = uint("decoder_sparse_step")?.unwrap_or(1);
                    let dense_listed = obj.get("mlp_only_layers").and_then(Value::as_array).map(|a| a.len()).unwrap_or(0);
                    if step != 1 || dense_listed > 0 {
                        return Err(Error::invalid(
                            key("decoder_sparse_step"),
                            step,
                            "wanka models MoE on every layer, optionally after leading dense layers; interleaved dense layers (decoder_sparse_step > 1, mlp_only_layers) are not supported",
                        ));
                    }
                }
                _ => {}
            }
            // Sliding-window attention: Mistral's `sliding_window` (null: none); Qwen's
            // only with `use_sliding_window`, on the layers from `max_window_layers`
            // on; `layer_types` (newer configs) lists each layer's kind.
            let qwen = model_type.starts_with("qwen");
            let enabled = obj.get("use_sliding_window").and_then(Value::as_bool).unwrap_or(!qwen);
            if let Some(window) = uint("sliding_window")?.filter(|w| *w > 0 && enabled) {
                let layers = f.layers.unwrap_or(1).max(1) as f64;
                let share = match obj.get("layer_types").and_then(Value::as_array).filter(|t| !t.is_empty()) {
                    Some(types) => types.iter().filter(|t| t.as_str() == Some("sliding_attention")).count() as f64 / types.len() as f64,
                    // Qwen2Config's default `max_window_layers` is 28.
                    None if qwen => (layers - uint("max_window_layers")?.unwrap_or(28) as f64).max(0.0) / layers,
                    None => 1.0,
                };
                if share > 0.0 {
                    f.sliding_window = Some(window);
                    f.sliding_window_share = Some(share.min(1.0));
                }
            }
        }
        "deepseek_v2" | "deepseek_v3" => {
            f.layers = Some(req("num_hidden_layers")?);
            f.hidden = Some(req("hidden_size")?);
            f.heads = Some(req("num_attention_heads")?);
            f.kv_heads = f.heads;
            f.vocab = Some(req("vocab_size")?);
            f.seq_len = seq_len()?;
            f.activation = Some(Activation::Swiglu);
            f.tied_embeddings = Some(tied(false));
            f.ffn_hidden = Some(req("intermediate_size")?);
            f.attention = Some(AttentionKind::Mla);
            f.kv_lora_rank = Some(req("kv_lora_rank")?);
            f.q_lora_rank = Some(uint("q_lora_rank")?.unwrap_or(0));
            f.qk_rope_head_dim = Some(req("qk_rope_head_dim")?);
            f.qk_nope_head_dim = Some(req("qk_nope_head_dim")?);
            f.v_head_dim = Some(req("v_head_dim")?);
            f.experts = Some(req("n_routed_experts")?);
            f.top_k = Some(req("num_experts_per_tok")?);
            f.shared_experts = Some(uint("n_shared_experts")?.unwrap_or(0));
            f.expert_ffn_hidden = Some(req("moe_intermediate_size")?);
            f.dense_layers = Some(uint("first_k_dense_replace")?.unwrap_or(0));
            if uint("moe_layer_freq")?.unwrap_or(1) != 1 {
                return Err(Error::invalid(key("moe_layer_freq"), uint("moe_layer_freq")?.unwrap_or(0), "only 1 (every layer after the dense ones) is supported"));
            }
        }
        "gpt2" => {
            let hidden = req("n_embd")?;
            f.layers = Some(req("n_layer")?);
            f.hidden = Some(hidden);
            f.heads = Some(req("n_head")?);
            f.kv_heads = f.heads;
            f.ffn_hidden = Some(uint("n_inner")?.unwrap_or(4 * hidden));
            f.vocab = Some(req("vocab_size")?);
            f.seq_len = seq_len()?;
            f.activation = Some(Activation::Gelu);
            f.tied_embeddings = Some(tied(true));
            f.position = Some(Position::Learned);
            f.bias = Some(true);
            f.attention = Some(AttentionKind::Mha);
        }
        "gpt_neox" => {
            f.layers = Some(req("num_hidden_layers")?);
            f.hidden = Some(req("hidden_size")?);
            f.heads = Some(req("num_attention_heads")?);
            f.kv_heads = f.heads;
            f.ffn_hidden = Some(req("intermediate_size")?);
            f.vocab = Some(req("vocab_size")?);
            f.seq_len = seq_len()?;
            f.activation = Some(activation("hidden_act"));
            f.tied_embeddings = Some(tied(false));
            f.bias = Some(true);
            f.attention = Some(AttentionKind::Mha);
        }
        other => {
            return Err(Error::invalid(key("model_type"), format!("{other:?}"), format!("unsupported family; supported: {}", FAMILIES.join(", "))))
        }
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// Mistral 7B v0.1 windows every layer at 4,096 tokens; Qwen2 only when
    /// `use_sliding_window` is on, from `max_window_layers` (28 when left out);
    /// `layer_types` counts.
    #[test]
    fn sliding_windows_are_read() {
        let base = r#""model_type": "MT", "num_hidden_layers": 32, "hidden_size": 4096, "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 32000, "intermediate_size": 14336, "max_position_embeddings": 32768"#;
        let read = |mt: &str, extra: &str| parse(&format!("{{{}, {extra}}}", base.replace("MT", mt)), "c.json").unwrap();
        let m = read("mistral", r#""sliding_window": 4096"#);
        assert_eq!((m.sliding_window, m.sliding_window_share), (Some(4096), Some(1.0)));
        assert_eq!(read("mistral", r#""sliding_window": null"#).sliding_window, None);
        assert_eq!(read("qwen2", r#""sliding_window": 4096, "use_sliding_window": false"#).sliding_window, None);
        let q = read("qwen2", r#""sliding_window": 4096, "use_sliding_window": true, "max_window_layers": 24"#);
        assert_eq!((q.sliding_window, q.sliding_window_share), (Some(4096), Some(0.25)));
        let d = read("qwen2", r#""sliding_window": 4096, "use_sliding_window": true"#);
        assert_eq!(d.sliding_window_share, Some(0.125));
        let t = read("llama", r#""sliding_window": 128, "layer_types": ["sliding_attention", "full_attention", "sliding_attention", "full_attention"]"#);
        assert_eq!((t.sliding_window, t.sliding_window_share), (Some(128), Some(0.5)));
    }

    fn fixture(name: &str) -> crate::model::Architecture {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hf").join(name);
        load(&p).unwrap_or_else(|e| panic!("{name}: {e}")).resolve("model").unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// (file, published total, published active, tolerance): counts from the fixture
    /// README's sources (model cards and papers).
    const PUBLISHED: &[(&str, f64, f64, f64)] = &[
        ("llama3-8b.json", 8.03e9, 8.03e9, 0.01),
        ("llama3-70b.json", 70.6e9, 70.6e9, 0.01),
        ("llama3.1-405b.json", 405.9e9, 405.9e9, 0.01),
        ("mistral-7b.json", 7.24e9, 7.24e9, 0.01),
        ("mixtral-8x7b.json", 46.7e9, 12.9e9, 0.01),
        ("mixtral-8x22b.json", 141e9, 39e9, 0.01),
        ("qwen2-7b.json", 7.62e9, 7.62e9, 0.01),
        ("qwen2-57b-a14b.json", 57.4e9, 14.2e9, 0.01),
        ("qwen3-8b.json", 8.2e9, 8.2e9, 0.01),
        ("qwen3-30b-a3b.json", 30.5e9, 3.3e9, 0.02),
        ("qwen3-235b-a22b.json", 235e9, 22e9, 0.01),
        ("deepseek-v3.json", 671e9, 37e9, 0.015),
        ("gpt2.json", 124e6, 124e6, 0.01),
        ("gpt2-xl.json", 1.5e9, 1.5e9, 0.05),
        ("gpt-neox-20b.json", 20.55e9, 20.55e9, 0.01),
        ("pythia-1.4b.json", 1.41e9, 1.41e9, 0.01),
    ];

    #[test]
    fn fixtures_match_published_parameter_counts() {
        for (file, total, active, tol) in PUBLISHED {
            let p = fixture(file).params();
            assert!((p.total / total - 1.0).abs() < *tol, "{file}: total {} vs {total}", p.total);
            assert!((p.active / active - 1.0).abs() < *tol, "{file}: active {} vs {active}", p.active);
        }
    }

    #[test]
    fn family_specific_fields() {
        let ds = fixture("deepseek-v3.json");
        assert_eq!(ds.attention, AttentionKind::Mla);
        assert_eq!(ds.moe.dense_layers, 3);
        assert_eq!(ds.seq_len, 4096);
        let q = fixture("qwen3-30b-a3b.json");
        assert_eq!(q.head_dim, 128);
        assert_eq!(q.hidden / q.heads, 64);
        let g = fixture("gpt2.json");
        assert!(g.tied_embeddings && g.position == Position::Learned);
        let qm = fixture("qwen2-57b-a14b.json");
        assert_eq!(qm.moe.shared_ffn_hidden, 20480);
    }

    #[test]
    fn unsupported_family_is_an_error() {
        let e = parse(r#"{"model_type": "bloom"}"#, "c.json").unwrap_err().to_string();
        assert!(e.contains("bloom") && e.contains("llama"), "{e}");
    }
}
