//! `[parallel]`: the layout. For `simulate` each key holds one value; for `search` a key
//! may hold a list or "auto". Validation against the model and cluster lives here.

use super::{ClusterConfig, TrainingConfig};
use crate::error::{Error, Result};
use crate::model::Architecture;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Activation recomputation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Recompute {
    None,
    /// Recompute only attention's core (Korthikanti et al. 2022, §4.2).
    Selective,
    /// Recompute every layer's forward from its input.
    Full,
}

/// How ZeRO-3 moves parameters and gradients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Zero3Gather {
    /// One flat buffer per layer, prefetched so it overlaps compute (PyTorch FSDP,
    /// DeepSpeed since late 2021, Megatron FSDP).
    Layer,
    /// One synchronous collective per parameter tensor, not overlapped: DeepSpeed
    /// ZeRO-3 as of early 2021 (all_gather into a per-rank list with a synchronize per
    /// call; DeepSpeed issues #1173, #1188).
    Tensor,
}

/// Order of the parallel dimensions over GPU ids, fastest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
pub enum RankOrder {
    /// Megatron-LM's default: TP, CP, EP/DP, then PP outermost.
    #[serde(rename = "tp-cp-dp-pp")]
    DpInner,
    /// Llama 3's choice (Dubey et al. 2024, §3.3.2): TP, CP, PP, then DP outermost,
    /// because DP tolerates the latency of the farthest links.
    #[serde(rename = "tp-cp-pp-dp")]
    PpInner,
}

/// GPU-id distance between neighbouring members of each group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Strides {
    pub tp: u64,
    pub cp: u64,
    pub dp: u64,
    pub pp: u64,
    /// Expert groups are laid over the attention's TP × CP × DP ranks (Megatron-Core's
    /// MoE parallel folding: expert TP fastest, then EP, then expert DP), so EP members
    /// are ETP apart; with DP outermost (`tp-cp-pp-dp`) EP stays within DP × CP as before
    /// folding.
    pub ep: u64,
    /// Expert data parallel: ranks holding the same experts.
    pub expert_dp: u64,
}

/// Pipeline schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    #[serde(rename = "1f1b")]
    OneFOneB,
    Interleaved,
    ZeroBubble,
    Dualpipe,
}

impl Recompute {
    pub const ALL: [Recompute; 3] = [Recompute::None, Recompute::Selective, Recompute::Full];
}
impl Schedule {
    pub const ALL: [Schedule; 4] = [Schedule::OneFOneB, Schedule::Interleaved, Schedule::ZeroBubble, Schedule::Dualpipe];
}

/// Every key of `[parallel]`, in the order of SCENARIO.md, then wanka's additions.
pub const KEYS: [&str; 25] = [
    "tp",
    "pp",
    "vpp",
    "cp",
    "ep",
    "etp",
    "dp",
    "zero",
    "sequence_parallel",
    "recompute",
    "recompute_layers",
    "micro_batch",
    "global_batch",
    "schedule",
    "tp_comm_overlap",
    "overlap_p2p_comm",
    "pp_scatter_gather",
    "overlap_grad_reduce",
    "overlap_param_gather",
    "zero3_gather",
    "order",
    "pipeline_layout",
    "first_stage_layers",
    "last_stage_layers",
    "moe_a2a_overlap",
];

/// The values a key may take in a search.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// Every valid value.
    Auto,
    List(Vec<toml::Value>),
}

/// `[parallel]` as written: a set of values per key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParallelSpace {
    pub keys: BTreeMap<&'static str, Values>,
}

/// One layout as written: keys left out are `None` and take defaults in [`ParallelConfig::resolve`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParallelChoice {
    pub tp: Option<u64>,
    pub pp: Option<u64>,
    pub vpp: Option<u64>,
    pub cp: Option<u64>,
    pub ep: Option<u64>,
    pub etp: Option<u64>,
    pub dp: Option<u64>,
    pub zero: Option<u8>,
    pub sequence_parallel: Option<bool>,
    pub recompute: Option<Recompute>,
    pub recompute_layers: Option<u64>,
    pub micro_batch: Option<u64>,
    pub global_batch: Option<u64>,
    pub schedule: Option<Schedule>,
    pub tp_comm_overlap: Option<bool>,
    pub overlap_p2p_comm: Option<bool>,
    pub pp_scatter_gather: Option<bool>,
    pub overlap_grad_reduce: Option<bool>,
    pub overlap_param_gather: Option<bool>,
    pub zero3_gather: Option<Zero3Gather>,
    pub order: Option<RankOrder>,
    pub pipeline_layout: Option<String>,
    pub first_stage_layers: Option<u64>,
    pub last_stage_layers: Option<u64>,
    pub moe_a2a_overlap: Option<bool>,
}

impl ParallelSpace {
    pub fn parse(table: &toml::Table) -> Result<ParallelSpace> {
        let mut keys = BTreeMap::new();
        for (k, v) in table {
            let Some(key) = KEYS.iter().find(|name| **name == k.as_str()) else {
                return Err(Error::invalid(format!("parallel.{k}"), v, format!("unknown key; valid: {}", KEYS.join(", "))));
            };
            let values = match v {
                toml::Value::String(s) if s == "auto" => Values::Auto,
                toml::Value::Array(items) if items.is_empty() => {
                    return Err(Error::invalid(format!("parallel.{k}"), v, "an empty list allows nothing; give at least one value or \"auto\""))
                }
                toml::Value::Array(items) => Values::List(items.clone()),
                other => Values::List(vec![other.clone()]),
            };
            keys.insert(*key, values);
        }
        // Type-check every listed value now, so errors appear before any search. A
        // layout of single values checks as a whole first (a sweep resolves one per
        // point); the first bad value is then found key by key, for its own message.
        let single: Option<toml::Table> = keys
            .iter()
            .map(|(k, v)| match v {
                Values::List(items) if items.len() == 1 => Some((k.to_string(), items[0].clone())),
                _ => None,
            })
            .collect();
        if single.is_some_and(|t| toml::Value::Table(t).try_into::<ParallelChoice>().is_ok()) {
            return Ok(ParallelSpace { keys });
        }
        for (k, v) in &keys {
            if let Values::List(items) = v {
                for item in items {
                    let mut t = toml::Table::new();
                    t.insert(k.to_string(), item.clone());
                    choice_from_table(t)?;
                }
            }
        }
        Ok(ParallelSpace { keys })
    }

    /// `ParallelSpace::parse(&table)?.single()`, with the same result and errors, at
    /// the cost of one deserialisation when every key is known and has one value (a
    /// sweep resolves a layout per point).
    pub fn single_from_table(table: toml::Table) -> Result<ParallelChoice> {
        let plain = table.iter().all(|(k, v)| {
            KEYS.contains(&k.as_str()) && !matches!(v, toml::Value::Array(_)) && !matches!(v, toml::Value::String(s) if s == "auto")
        });
        if plain {
            if let Ok(choice) = toml::Value::Table(table.clone()).try_into::<ParallelChoice>() {
                return Ok(choice);
            }
        }
        ParallelSpace::parse(&table)?.single()
    }

    /// The single layout of a `simulate` scenario.
    pub fn single(&self) -> Result<ParallelChoice> {
        let mut t = toml::Table::new();
        for (k, v) in &self.keys {
            match v {
                Values::List(items) if items.len() == 1 => {
                    t.insert(k.to_string(), items[0].clone());
                }
                Values::Auto => {
                    return Err(Error::invalid(format!("parallel.{k}"), "\"auto\"", "simulate needs one value; use `wanka search` to explore"))
                }
                Values::List(items) => {
                    return Err(Error::invalid(
                        format!("parallel.{k}"),
                        toml::Value::Array(items.clone()),
                        "simulate needs one value; use `wanka search` to explore a list",
                    ))
                }
            }
        }
        choice_from_table(t)
    }
}

fn choice_from_table(t: toml::Table) -> Result<ParallelChoice> {
    // The keys are shown only in an error, so formatted only then (from a copy).
    let copy = t.clone();
    toml::Value::Table(t).try_into::<ParallelChoice>().map_err(|e| {
        let shown = copy.iter().map(|(k, v)| format!("parallel.{k} = {v}")).collect::<Vec<_>>().join(", ");
        let msg = e.to_string();
        let msg = msg.trim_end();
        let msg = msg.rsplit_once("\nin `").map(|(what, _)| what).unwrap_or(msg);
        Error::Parse { path: "[parallel]".into(), message: format!("{shown}: {msg}") }
    })
}

/// A validated layout.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ParallelConfig {
    pub tp: u64,
    pub pp: u64,
    pub vpp: u64,
    pub cp: u64,
    pub ep: u64,
    /// Expert tensor parallelism: the experts' own TP (Megatron-Core's
    /// `expert_tensor_parallel_size`; default: `tp`).
    pub etp: u64,
    pub dp: u64,
    pub zero: u8,
    pub sequence_parallel: bool,
    pub recompute: Recompute,
    /// With full recomputation, only the first this-many layers of each model chunk
    /// are recomputed; the rest keep their activations (Megatron-Core's
    /// `--recompute-method block --recompute-num-layers N`). `None`: every layer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recompute_layers: Option<u64>,
    pub micro_batch: u64,
    pub global_batch: u64,
    pub schedule: Schedule,
    /// Overlap TP collectives with the neighbouring GEMMs (Megatron `--tp-comm-overlap`).
    pub tp_comm_overlap: bool,
    /// Interleaved schedule: pipeline sends and receives run on their own stream beside
    /// compute (Megatron `--overlap-p2p-communication`, on by default since 2024); off,
    /// every chunk's send blocks the compute stream, as Megatron-LM did in 2021. The
    /// non-interleaved 1F1B schedule always blocks.
    pub overlap_p2p_comm: bool,
    /// Without sequence parallelism, each TP rank sends only its 1/tp slice of the
    /// activations to the next stage, which all-gathers them over NVLink (Narayanan et
    /// al. 2021, §4.1, Megatron-LM's `--scatter-gather-tensors-in-pipeline`). With
    /// sequence parallelism the activations are already split this way.
    pub pp_scatter_gather: bool,
    /// Overlap the DP gradient reduction with backward (`--overlap-grad-reduce`).
    pub overlap_grad_reduce: bool,
    /// Overlap the ZeRO parameter all-gather with forward (`--overlap-param-gather`).
    pub overlap_param_gather: bool,
    /// How ZeRO-3 gathers parameters.
    pub zero3_gather: Zero3Gather,
    /// Which parallel dimension varies fastest across GPU ids.
    pub order: RankOrder,
    /// The expert all-to-alls of one micro-batch run beside another micro-batch's
    /// compute (Megatron-Core `--overlap-moe-expert-parallel-comm`, its 1F1B A2A overlap).
    pub moe_a2a_overlap: bool,
    /// Transformer layers of each rank's model chunks when the user set them
    /// (`pipeline_layout`, `first_stage_layers`, `last_stage_layers`); else the
    /// framework's split (`parallel::StageLayout`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunk_layers: Option<super::pipeline_layout::ChunkLayers>,
}

impl ParallelConfig {
    /// The layout in one short line: `tp8 pp16 vpp4 cp1 ep1 dp128 zero1 sp mb1 gb2048
    /// interleaved recompute=none`.
    pub fn compact(&self) -> String {
        format!(
            "tp{} pp{} vpp{} cp{} ep{} dp{} zero{}{} mb{} gb{} {:?} recompute={:?}",
            self.tp,
            self.pp,
            self.vpp,
            self.cp,
            self.ep,
            self.dp,
            self.zero,
            if self.sequence_parallel { " sp" } else { "" },
            self.micro_batch,
            self.global_batch,
            self.schedule,
            self.recompute
        )
        .to_lowercase()
            + &self.recompute_layers.map_or(String::new(), |n| format!(" first {n} layers per chunk"))
            + &self.chunk_layers.as_ref().map_or(String::new(), |c| {
                // The layers of each rank when the user or the search set them: 7/8…8/7.
                let per_rank: Vec<u64> = c.iter().map(|chunks| chunks.iter().sum()).collect();
                match per_rank.as_slice() {
                    [first, middle @ .., last] if middle.windows(2).all(|w| w[0] == w[1]) => {
                        format!(" layers {first}/{}/{last}", middle.first().map_or(String::new(), |m| format!("{m}…")))
                    }
                    _ => format!(" layers {}", per_rank.iter().map(|n| n.to_string()).collect::<Vec<_>>().join("/")),
                }
            })
    }
}

impl ParallelConfig {
    /// Micro-batches each pipeline runs per step.
    pub fn microbatches(&self) -> u64 {
        self.global_batch / (self.micro_batch * self.dp)
    }

    /// Where each group's members sit: the rank order's strides.
    pub fn strides(&self) -> Strides {
        let (dp, pp) = match self.order {
            RankOrder::DpInner => (self.tp * self.cp, self.tp * self.cp * self.dp),
            RankOrder::PpInner => (self.tp * self.cp * self.pp, self.tp * self.cp),
        };
        let (ep, expert_dp) = match self.order {
            RankOrder::DpInner => (self.etp, self.etp * self.ep),
            RankOrder::PpInner => (if self.dp % self.ep == 0 { dp } else { self.tp }, dp * self.ep),
        };
        Strides { tp: 1, cp: self.tp, dp, pp, ep, expert_dp }
    }

    /// Ranks holding the same experts: TP × CP × DP over EP × ETP.
    pub fn expert_dp(&self) -> u64 {
        (self.tp * self.cp * self.dp / (self.ep * self.etp)).max(1)
    }

    /// GPUs of one model replica.
    pub fn model_parallel(&self) -> u64 {
        self.tp * self.pp * self.cp
    }

    /// Fills defaults and checks the layout against the model and the cluster.
    /// `max_batch_tokens` sets the default global batch: the largest multiple of
    /// `micro_batch × dp` sequences within it (at least one per DP rank).
    pub fn resolve(c: ParallelChoice, model: &Architecture, cluster: &ClusterConfig, training: &TrainingConfig) -> Result<ParallelConfig> {
        let max_batch_tokens = training.max_global_batch_tokens;
        // Keys left out take the framework's documented defaults (`crate::framework`).
        let facts = training.framework.facts();
        let pos = |v: Option<u64>, key: &str, default: u64| -> Result<u64> {
            match v {
                Some(0) => Err(Error::invalid(format!("parallel.{key}"), 0, "must be a positive integer")),
                Some(x) => super::at_most(&format!("parallel.{key}"), x, super::MAX_INT),
                None => Ok(default),
            }
        };
        let tp = pos(c.tp, "tp", 1)?;
        let pp = pos(c.pp, "pp", 1)?;
        // A layout string sets how many model chunks each rank holds.
        let chunk_layers = match (&c.pipeline_layout, c.first_stage_layers, c.last_stage_layers) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(Error::invalid(
                    "parallel.pipeline_layout",
                    format!("{:?}", c.pipeline_layout.as_deref().unwrap_or_default()),
                    "says every stage's layers: leave first_stage_layers and last_stage_layers out",
                ))
            }
            (Some(text), None, None) => Some(super::pipeline_layout::parse(text, pp, model.layers)?),
            _ => None,
        };
        let vpp = match (&chunk_layers, c.vpp) {
            (Some(l), Some(v)) if l[0].len() as u64 != v => {
                return Err(Error::invalid("parallel.vpp", v, format!("parallel.pipeline_layout gives {} model chunks per rank; leave vpp out", l[0].len())))
            }
            (Some(l), _) => l[0].len() as u64,
            (None, v) => pos(v, "vpp", 1)?,
        };
        let chunk_layers = match chunk_layers {
            None if c.first_stage_layers.is_some() || c.last_stage_layers.is_some() => {
                Some(super::pipeline_layout::from_edges(c.first_stage_layers, c.last_stage_layers, pp, vpp, model.layers)?)
            }
            l => l,
        };
        let cp = pos(c.cp, "cp", 1)?;
        let ep = pos(c.ep, "ep", 1)?;
        let gpus = cluster.gpus;
        let mp = tp.saturating_mul(pp).saturating_mul(cp);
        if mp > gpus || gpus % mp != 0 {
            return Err(Error::invalid(
                "parallel.tp",
                tp,
                format!("tp × pp × cp = {tp} × {pp} × {cp} = {mp} does not divide cluster.gpus = {gpus}"),
            ));
        }
        let dp = match c.dp {
            None => gpus / mp,
            Some(d) if d.checked_mul(mp) == Some(gpus) => d,
            Some(d) => {
                return Err(Error::fixable(
                    "parallel.dp",
                    d,
                    format!("tp × pp × cp × dp must equal cluster.gpus = {gpus}; dp = {} would (or leave dp out)", gpus / mp),
                    "parallel.dp",
                    gpus / mp,
                ))
            }
        };
        if model.heads % tp != 0 {
            return Err(Error::invalid("parallel.tp", tp, format!("does not divide model.heads = {}", model.heads)));
        }
        if model.kv_heads % tp != 0 && tp % model.kv_heads != 0 {
            return Err(Error::invalid(
                "parallel.tp",
                tp,
                format!("must divide model.kv_heads = {} or be a multiple of it (KV heads replicated)", model.kv_heads),
            ));
        }
        let stages = pp.saturating_mul(vpp);
        // Even splits are best; Megatron also allows the first and last stage one layer
        // fewer (room for the embedding and LM head, as Llama 3 405B does: 126 layers on
        // 16 stages) and, with --decoder-first/last-pipeline-num-layers, any uneven
        // split (DeepSeek-V3: 61 layers on 16 stages). The busiest stage sets the pace.
        if stages > model.layers && chunk_layers.is_none() {
            return Err(Error::invalid(
                "parallel.pp",
                pp,
                format!("pp × vpp = {pp} × {vpp} = {stages} pipeline stages exceed model.layers = {}", model.layers),
            ));
        }
        if cp > 1 && model.seq_len % (2 * cp) != 0 {
            return Err(Error::invalid(
                "parallel.cp",
                cp,
                format!("2 × cp must divide model.seq_len = {} (load-balanced causal chunks)", model.seq_len),
            ));
        }
        let etp = pos(c.etp, "etp", tp)?;
        if etp != tp && !model.is_moe() {
            return Err(Error::invalid("parallel.etp", etp, "expert tensor parallelism needs a MoE model (model.experts > 0)"));
        }
        if ep > 1 {
            if !model.is_moe() {
                return Err(Error::invalid("parallel.ep", ep, "expert parallelism needs a MoE model (model.experts > 0)"));
            }
            if model.moe.experts % ep != 0 {
                return Err(Error::invalid("parallel.ep", ep, format!("does not divide model.experts = {}", model.moe.experts)));
            }
        }
        // MoE parallel folding (Megatron-Core): the experts' ETP × EP × expert-DP grid
        // covers the attention's TP × CP × DP ranks of each pipeline stage.
        let domain = tp.saturating_mul(cp).saturating_mul(dp);
        if domain % ep.saturating_mul(etp) != 0 {
            return Err(Error::invalid(
                "parallel.ep",
                ep,
                format!("ep × etp = {ep} × {etp} must divide tp × cp × dp = {tp} × {cp} × {dp} = {domain} (expert groups fold over the attention's ranks)"),
            ));
        }
        if c.order == Some(RankOrder::PpInner) && (etp != tp || (dp.saturating_mul(cp)) % ep != 0) {
            return Err(Error::invalid(
                "parallel.ep",
                ep,
                format!("with order = \"tp-cp-pp-dp\" experts stay within data-parallel ranks: needs etp = tp and ep dividing dp × cp = {}", dp * cp),
            ));
        }
        let zero = c.zero.unwrap_or(facts.zero);
        if zero > 3 {
            return Err(Error::invalid("parallel.zero", zero, "must be 0, 1, 2 or 3"));
        }
        let micro_batch = pos(c.micro_batch, "micro_batch", 1)?;
        let per_step = micro_batch.saturating_mul(dp);
        let global_batch = match c.global_batch {
            Some(0) => return Err(Error::invalid("parallel.global_batch", 0, "must be a positive integer")),
            Some(g) => super::at_most("parallel.global_batch", g, 1 << 40)?,
            None => {
                // Interleaving runs micro-batches in groups of pp: keep whole groups.
                let interleaved = vpp > 1 || c.schedule == Some(Schedule::Interleaved);
                let quantum = per_step.saturating_mul(if interleaved { pp } else { 1 });
                let max_seqs = (max_batch_tokens / model.seq_len as f64).floor() as u64;
                (max_seqs / quantum).max(1) * quantum
            }
        };
        if global_batch % per_step != 0 {
            return Err(Error::fixable(
                "parallel.global_batch",
                global_batch,
                format!("must be a multiple of micro_batch × dp = {micro_batch} × {dp} = {per_step}"),
                "parallel.global_batch",
                global_batch.div_ceil(per_step).saturating_mul(per_step),
            ));
        }
        let schedule = match c.schedule {
            Some(s) => s,
            None if vpp > 1 => Schedule::Interleaved,
            None => Schedule::OneFOneB,
        };
        let m = global_batch / per_step;
        match schedule {
            Schedule::Interleaved if vpp < 2 => {
                return Err(Error::invalid("parallel.schedule", "\"interleaved\"", "needs parallel.vpp >= 2 model chunks per pipeline rank"))
            }
            Schedule::Interleaved if pp < 2 => {
                return Err(Error::invalid("parallel.schedule", "\"interleaved\"", "needs parallel.pp >= 2"))
            }
            // Megatron-LM's interleaved schedule runs micro-batches in groups of pp.
            Schedule::Interleaved if m % pp != 0 => {
                return Err(Error::fixable(
                    "parallel.global_batch",
                    global_batch,
                    format!("the interleaved schedule needs micro-batches per pipeline ({m}) to be a multiple of pp = {pp}"),
                    "parallel.global_batch",
                    m.div_ceil(pp).saturating_mul(pp).saturating_mul(per_step),
                ))
            }
            Schedule::OneFOneB | Schedule::ZeroBubble if vpp > 1 => {
                return Err(Error::invalid("parallel.vpp", vpp, "vpp > 1 needs schedule = \"interleaved\""))
            }
            Schedule::Dualpipe if pp % 2 != 0 || pp < 2 => {
                return Err(Error::invalid("parallel.schedule", "\"dualpipe\"", format!("needs an even parallel.pp >= 2, got pp = {pp}")))
            }
            Schedule::Dualpipe if chunk_layers.is_some() => {
                return Err(Error::invalid("parallel.schedule", "\"dualpipe\"", "dualpipe places its two chunks per rank itself; leave the pipeline layout keys out"))
            }
            Schedule::Dualpipe if vpp != 1 => {
                return Err(Error::invalid("parallel.vpp", vpp, "dualpipe places two chunks per rank itself; leave vpp = 1"))
            }
            Schedule::Dualpipe if m % 2 != 0 => {
                return Err(Error::fixable(
                    "parallel.global_batch",
                    global_batch,
                    format!("dualpipe splits the micro-batches between its two directions: needs an even number, this gives {m}"),
                    "parallel.global_batch",
                    (m + 1).max(pp.saturating_mul(2)).saturating_mul(per_step),
                ))
            }
            Schedule::Dualpipe if m < 2 * pp => {
                return Err(Error::fixable(
                    "parallel.global_batch",
                    global_batch,
                    format!("dualpipe needs at least 2 × pp = {} micro-batches per pipeline, this gives {m}", 2 * pp),
                    "parallel.global_batch",
                    pp.saturating_mul(2).saturating_mul(per_step),
                ))
            }
            _ => {}
        }
        if training.optimizer_in_backward && m > 1 {
            return Err(Error::invalid(
                "training.optimizer_in_backward",
                "true",
                format!(
                    "steps each parameter as its gradient arrives, so gradients cannot accumulate over micro-batches; this layout runs {m} per pipeline (make parallel.global_batch = micro_batch × dp = {}, with pp = 1)",
                    micro_batch * dp
                ),
            ));
        }
        let moe_a2a_overlap = match c.moe_a2a_overlap {
            Some(true) if ep < 2 => {
                return Err(Error::invalid("parallel.moe_a2a_overlap", "true", "overlaps expert-parallel all-to-alls: needs parallel.ep >= 2"))
            }
            Some(true) if schedule == Schedule::Dualpipe => {
                return Err(Error::invalid("parallel.moe_a2a_overlap", "true", "dualpipe already overlaps its two directions' all-to-alls; leave it out"))
            }
            // Megatron-Core's combined 1F1B: with a pipeline, only interleaved.
            Some(true) if pp > 1 && schedule != Schedule::Interleaved => {
                return Err(Error::invalid("parallel.moe_a2a_overlap", "true", "with pp > 1 it needs the interleaved schedule (parallel.vpp >= 2), as Megatron-Core's combined 1F1B does"))
            }
            v => v.unwrap_or(false),
        };
        let recompute = c.recompute.unwrap_or(Recompute::None);
        let recompute_layers = match c.recompute_layers {
            Some(n) if recompute != Recompute::Full => {
                return Err(Error::invalid(
                    "parallel.recompute_layers",
                    n,
                    "recomputes the first N layers of each model chunk in full: needs parallel.recompute = \"full\"",
                ))
            }
            Some(0) => return Err(Error::invalid("parallel.recompute_layers", 0, "recomputes nothing: use parallel.recompute = \"none\" instead")),
            Some(n) if n > model.layers => {
                return Err(Error::invalid("parallel.recompute_layers", n, format!("at most model.layers = {}", model.layers)))
            }
            v => v,
        };
        let sequence_parallel = c.sequence_parallel.unwrap_or(tp > 1) && tp > 1;
        Ok(ParallelConfig {
            tp,
            pp,
            vpp,
            cp,
            ep,
            etp,
            dp,
            zero,
            sequence_parallel,
            recompute,
            recompute_layers,
            micro_batch,
            global_batch,
            schedule,
            tp_comm_overlap: c.tp_comm_overlap.unwrap_or(facts.tp_comm_overlap) && tp > 1,
            overlap_p2p_comm: c.overlap_p2p_comm.unwrap_or(facts.overlap_p2p_comm),
            pp_scatter_gather: c.pp_scatter_gather.unwrap_or(facts.pp_scatter_gather),
            overlap_grad_reduce: c.overlap_grad_reduce.unwrap_or(facts.overlap_grad_reduce),
            overlap_param_gather: c.overlap_param_gather.unwrap_or(facts.overlap_param_gather),
            zero3_gather: c.zero3_gather.unwrap_or(if facts.zero3_per_tensor { Zero3Gather::Tensor } else { Zero3Gather::Layer }),
            order: c.order.unwrap_or(RankOrder::DpInner),
            moe_a2a_overlap,
            chunk_layers,
        })
    }
}
