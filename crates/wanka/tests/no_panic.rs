//! No input makes wanka panic: random overrides of every key on the examples either
//! give an error value or a finite, self-consistent report.

use proptest::prelude::*;
use std::path::Path;

const KEYS: &[&str] = &[
    "model.layers", "model.hidden", "model.ffn_hidden", "model.heads", "model.kv_heads", "model.head_dim",
    "model.vocab", "model.seq_len", "model.activation", "model.tied_embeddings", "model.experts", "model.top_k",
    "model.shared_experts", "model.expert_ffn_hidden", "model.dense_layers", "model.attention", "model.kv_lora_rank",
    "model.q_lora_rank", "model.qk_rope_head_dim", "model.qk_nope_head_dim", "model.v_head_dim", "model.preset",
    "cluster.gpu", "cluster.gpus", "cluster.gpus_per_node", "cluster.nvlink_domain", "cluster.nic_gbps",
    "cluster.fabric", "cluster.tiers", "cluster.switch_radix", "cluster.oversubscription", "cluster.routing",
    "cluster.planes", "cluster.pue", "parallel.tp", "parallel.pp", "parallel.vpp", "parallel.cp", "parallel.ep",
    "parallel.dp", "parallel.zero", "parallel.sequence_parallel", "parallel.recompute", "parallel.recompute_layers", "parallel.micro_batch",
    "parallel.global_batch", "parallel.schedule", "training.precision", "training.tokens",
    "training.attention_kernel", "training.recompute_modules", "training.grad_reduce_in_fp32",
    "training.adam_moments", "training.fp8_activations",
    "parallel.tp_comm_overlap", "parallel.zero3_gather", "parallel.order", "parallel.overlap_p2p_comm",
    "parallel.pp_scatter_gather", "reliability.checkpoint_interval_s", "seed", "name", "bogus.key",
    "training.framework", "training.cuda_graphs", "cluster.variability.enabled", "cluster.variability.gpu_speed_cv",
    "cluster.variability.slow_node_fraction", "cluster.variability.slow_node_slowdown",
    "cluster.variability.host_pause_s", "cluster.variability.host_pause_every_steps",
    "cluster.variability.host_pauses_aligned", "cluster.variability", "cluster.variability.slow_link_fraction",
    "cluster.variability.slow_link_rate",
    "parallel.etp", "parallel.pipeline_layout", "parallel.first_stage_layers", "parallel.last_stage_layers",
    "parallel.moe_a2a_overlap", "training.compile", "training.loss_chunks", "training.optimizer_in_backward",
    "training.fp8_recipe", "training.fp8_gemms", "training.param_remainders", "training.fp8_params", "training.moe_capacity_factor",
    "training.moe_pad_to_capacity", "training.moe_load_imbalance", "training.moe_max_nodes_per_token",
    "cluster.ecmp_hash", "cluster.qps_per_connection", "cluster.transport", "cluster.routing",
    "cluster.server", "cluster.nic", "cluster.switch", "cluster.servers_per_rack", "cluster.racks_per_row",
    "cluster.prices", "cluster.prices.dgx-h100", "cluster.sites", "cluster.inter_site.gbps", "cluster.inter_site.km",
    "cluster.inter_site", "model.sliding_window", "model.sliding_window_share",
];

const VALUES: &[&str] = &[
    "0", "1", "2", "3", "4", "7", "8", "16", "64", "72", "128", "1024", "16384", "131072", "-1", "-8", "0.5",
    "1e30", "18446744073709551615", "9999999999999", "\"auto\"", "[1, 2]", "[]", "true", "false", "\"mla\"",
    "\"gqa\"", "\"fp8\"", "\"full\"", "\"selective\"", "\"dualpipe\"", "\"interleaved\"", "\"zero-bubble\"",
    "\"gelu\"", "\"h100-sxm\"", "\"a100-80g\"", "\"gb200\"", "\"mixtral-8x7b\"", "\"deepseek-v3\"", "nan", "inf",
    "\"fat-tree\"", "\"single-switch\"", "\"materialized\"", "{a = 1}", "[\"moe\"]", "[\"mlp\", \"layernorm\"]",
    "[\"mla_up_proj\", \"moe_act\"]", "\"tensor\"", "\"tp-cp-pp-dp\"", "\"bf16\"",
    "\"deepspeed-2021\"", "\"megatron-lm-2021\"", "\"roce\"", "\"spectrum-x\"", "\"uec\"", "\"infiniband\"", "\"spray\"", "\"adaptive\"", "\"torchtitan\"", "0.01", "0.3", "1e-300",
    "\"Et*8|t*8|t*8|t*8L\"", "\"E|(t*4|)*8,L\"", "\"E(t|*2L\"", "\"(t|)*99999999999\"", "\"rowwise\"",
    "\"mxfp8\"", "\"dense\"", "\"experts\"", "\"rowwise-gw-hp\"", "\"polarized\"", "\"per-switch\"", "1.25", "\"nanotron\"", "\"fsdp\"",
    "\"dgx-h100\"", "\"gb200-nvl72\"", "\"quantum-2-qm9700\"", "\"spectrum-4-sn5600\"", "\"arista-7060dx5-64s\"",
    "\"connectx-8-supernic\"", "{dgx-h100 = 1}", "{mpo-om4 = 0}",
    "[{gpus = 8}, {gpus = 8}]", "{gbps = 1000, km = 10}",
];

fn examples() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        // Design studies are not scenarios.
        .filter(|p| !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("design-")))
        .map(|p| (p.display().to_string(), std::fs::read_to_string(&p).unwrap()))
        .collect();
    v.sort();
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]
    #[test]
    fn random_overrides_never_panic(
        ex in 0usize..6,
        sets in proptest::collection::vec((0..KEYS.len(), 0..VALUES.len()), 1..5),
    ) {
        let examples = examples();
        let (path, text) = &examples[ex % examples.len()];
        let overrides: Vec<String> = sets.iter().map(|(k, v)| format!("{}={}", KEYS[*k], VALUES[*v])).collect();
        if let Ok(s) = wanka::scenario::parse(text, Path::new(path), &overrides) {
            let r = wanka::step::simulate(&s);
            prop_assert!(r.step_time_s.is_finite() && r.step_time_s > 0.0, "{overrides:?}: {}", r.step_time_s);
            prop_assert!(r.mfu.is_finite() && r.mfu >= 0.0);
            prop_assert!(r.memory.total_bytes.is_finite());
            prop_assert!((r.breakdown_s.total() - r.step_time_s).abs() <= 1e-6 * r.step_time_s);
            // The bill of materials is made or says why.
            if let Ok(b) = wanka::design::bom(&s.cluster) {
                prop_assert!(b.capex.total_usd.is_finite() && b.power.facility_w.is_finite() && b.power.it_w > 0.0, "{overrides:?}");
            }
            // The event fidelity either runs the layout or says why; small clusters only,
            // to keep the flow solves quick in a debug build.
            if s.cluster.gpus <= 1024 && s.parallel.microbatches() <= 256 {
                if let Ok(e) = wanka::step::event::simulate_event(&s) {
                    prop_assert!(e.report.step_time_s.is_finite() && e.report.step_time_s > 0.0, "{overrides:?}");
                }
            }
        }
    }
}
