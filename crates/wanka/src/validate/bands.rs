//! Honest planning: how far a prediction may be from a real run, judged by the published
//! runs most like it, and where a layout steps outside what those runs cover.
//!
//! - **Band.** The signed errors of the comparable validation rows (same GPU and dense or
//!   MoE; all rows of the same kind where fewer than four share the GPU) give the range
//!   of published-over-predicted: a prediction P becomes [P / (1 + e₉₀), P / (1 + e₁₀)]
//!   from the 10th and 90th percentile errors. Every represented row counts, the
//!   exclusions of the headline figure included: a planner meets them too.
//! - **Flags.** A layout is outside the evidence when its MFU is above the best MFU any
//!   published run reached on that GPU, or when it uses a choice no represented row
//!   exercised (context parallelism, a schedule, a recompute mode, expert parallelism,
//!   ZeRO-3 without the 2021 per-tensor gathers). A flagged layout's lower edge drops
//!   to the worst comparable error, and never above the best published MFU.

use crate::report::StepReport;
use crate::scenario::{Precision, Recompute, Scenario, Schedule, Zero3Gather};
use serde::Serialize;
use std::sync::OnceLock;

/// A prediction's range in tokens/s per GPU, and what it rests on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Band {
    pub low_tokens_per_s_per_gpu: f64,
    pub high_tokens_per_s_per_gpu: f64,
    /// Validation rows the band comes from.
    pub rows: usize,
    pub basis: String,
}

/// One represented validation row, as evidence.
#[derive(Debug, Clone)]
struct Evidence {
    id: String,
    gpu: String,
    moe: bool,
    /// (predicted − published) / published.
    error: f64,
    /// MFU the published run reached, by wanka's FLOP count.
    published_mfu: f64,
    cp: u64,
    ep: u64,
    schedule: Schedule,
    recompute: Recompute,
    zero3_layer: bool,
}

fn evidence() -> &'static [Evidence] {
    static EVIDENCE: OnceLock<Vec<Evidence>> = OnceLock::new();
    EVIDENCE.get_or_init(|| {
        let v = super::validate();
        let rows = super::throughput_rows();
        v.rows
            .iter()
            .filter_map(|r| {
                let json = rows.iter().find(|j| j["id"] == r.id.as_str())?;
                let (s, _, _) = super::row_scenario(json).ok()?;
                let peak = if s.training.precision == Precision::Fp8 { s.cluster.gpu.fp8_flops } else { s.cluster.gpu.bf16_flops };
                Some(Evidence {
                    id: r.id.clone(),
                    gpu: s.cluster.gpu.id.clone(),
                    moe: s.model.is_moe(),
                    error: r.error_pct / 100.0,
                    published_mfu: s.model.model_flops_per_token() * r.published_tokens_per_s_per_gpu / peak,
                    cp: s.parallel.cp,
                    ep: s.parallel.ep,
                    schedule: s.parallel.schedule,
                    recompute: s.parallel.recompute,
                    zero3_layer: s.parallel.zero >= 3 && s.parallel.zero3_gather == Zero3Gather::Layer,
                })
            })
            .collect()
    })
}

/// The best MFU a represented published run reached on `gpu`, and that row.
pub fn best_published_mfu(gpu: &str) -> Option<(f64, String)> {
    evidence().iter().filter(|e| e.gpu == gpu).max_by(|a, b| a.published_mfu.total_cmp(&b.published_mfu)).map(|e| (e.published_mfu, e.id.clone()))
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// What in this layout no validation row covers.
pub fn flags(s: &Scenario, r: &StepReport) -> Vec<String> {
    let ev = evidence();
    let gpu = &s.cluster.gpu.id;
    let p = &s.parallel;
    let mut out = Vec::new();
    match best_published_mfu(gpu) {
        Some((best, id)) if r.mfu > best => out.push(format!("MFU {:.1}% is above the best published on {gpu} ({:.1}%, {id})", 100.0 * r.mfu, 100.0 * best)),
        None => out.push(format!("no published run on {gpu} in the validation set")),
        _ => {}
    }
    if !r.memory.allocator_headroom {
        out.push("memory tight: PyTorch's reserved peak does not fit, the allocator will flush its cache and retry".into());
    }
    if p.cp > 1 && !ev.iter().any(|e| e.cp > 1) {
        out.push("context parallelism: no validation row uses it".into());
    }
    if p.ep > 1 && !ev.iter().any(|e| e.ep > 1) {
        out.push("expert parallelism: no validation row uses it".into());
    }
    if p.pp > 1 && !ev.iter().any(|e| e.schedule == p.schedule) {
        out.push(format!("schedule {:?}: no validation row runs it", p.schedule));
    }
    if !ev.iter().any(|e| e.recompute == p.recompute) {
        out.push(format!("recompute {:?}: no validation row uses it", p.recompute));
    }
    if p.zero >= 3 && p.zero3_gather == Zero3Gather::Layer && !ev.iter().any(|e| e.zero3_layer) {
        out.push("ZeRO-3 with prefetched per-layer gathers (FSDP): no validation row".into());
    }
    out
}

/// The range the published runs most like this one put around `predicted` tokens/s per
/// GPU; wider (down to the worst comparable error, and no higher than the best published
/// MFU) when the layout is flagged.
pub fn band(s: &Scenario, r: &StepReport, flagged: bool) -> Band {
    let ev = evidence();
    let moe = s.model.is_moe();
    let same_gpu: Vec<&Evidence> = ev.iter().filter(|e| e.gpu == s.cluster.gpu.id && e.moe == moe).collect();
    let (pool, basis): (Vec<&Evidence>, String) = if same_gpu.len() >= 4 {
        (same_gpu, format!("{} {} rows on {}", if moe { "MoE" } else { "dense" }, "validation", s.cluster.gpu.id))
    } else {
        let kind: Vec<&Evidence> = ev.iter().filter(|e| e.moe == moe).collect();
        if kind.len() >= 4 {
            (kind, format!("{} validation rows, all GPUs", if moe { "MoE" } else { "dense" }))
        } else {
            (ev.iter().collect(), "all validation rows".to_string())
        }
    };
    let mut errors: Vec<f64> = pool.iter().map(|e| e.error).collect();
    errors.sort_by(f64::total_cmp);
    let predicted = r.tokens_per_s_per_gpu;
    let (lo_err, hi_err) = (percentile(&errors, 0.1), percentile(&errors, 0.9));
    let mut low = predicted / (1.0 + hi_err);
    let high = predicted / (1.0 + lo_err);
    if flagged {
        let worst = errors.last().copied().unwrap_or(0.0);
        low = low.min(predicted / (1.0 + worst));
        if let Some((best, _)) = best_published_mfu(&s.cluster.gpu.id) {
            if r.mfu > 0.0 {
                low = low.min(predicted * best / r.mfu);
            }
        }
    }
    Band { low_tokens_per_s_per_gpu: low, high_tokens_per_s_per_gpu: high.max(low), rows: pool.len(), basis }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn bands_hold_the_prediction_and_flags_catch_unpublished_mfu() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/llama3-405b-16k.toml");
        let s = crate::scenario::load(&path, &[]).unwrap();
        let r = crate::step::simulate(&s);
        let b = band(&s, &r, false);
        assert!(b.low_tokens_per_s_per_gpu < r.tokens_per_s_per_gpu && r.tokens_per_s_per_gpu < b.high_tokens_per_s_per_gpu, "{b:?}");
        assert!(b.rows >= 4);
        let (best, _) = best_published_mfu("a100-80g").expect("SC'21 rows ran on A100");
        assert!(best > 0.3 && best < 0.6, "{best}");
        let mut hot = r.clone();
        hot.mfu = 0.99;
        assert!(flags(&s, &hot).iter().any(|f| f.contains("above the best published")));
        let wide = band(&s, &hot, true);
        assert!(wide.low_tokens_per_s_per_gpu < b.low_tokens_per_s_per_gpu);
    }
}
