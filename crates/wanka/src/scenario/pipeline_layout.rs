//! Which transformer layers each pipeline stage holds, when the user says: Megatron-Core's
//! layout string (`--pipeline-model-parallel-layout`, megatron/core/transformer/
//! pipeline_parallel_layer_layout.py) or its first/last-stage layer counts
//! (`--decoder-first-pipeline-num-layers`, `--decoder-last-pipeline-num-layers`).
//!
//! A layout string lists the stages in order, `|` between them: `E` the embedding, `t` a
//! transformer layer, `L` the loss (with the LM head); `x*n` repeats a character and
//! `(…)*n` a group; commas are cosmetic. Stage `i` runs on pipeline rank `i mod pp` as
//! its model chunk `i div pp`, so a string of `pp · vpp` stages sets `vpp`. Megatron's
//! rules hold: the embedding comes first and the loss last, once each, and the
//! transformer layers add up to the model's. `"Et|(tt|)*30,L"` puts the embedding and one
//! layer on the first stage and the loss alone on the last.

use crate::error::{Error, Result};

/// Transformer layers of each pipeline rank's model chunks: `[rank][chunk]`.
pub type ChunkLayers = Vec<Vec<u64>>;

const KEY: &str = "parallel.pipeline_layout";

/// Longest layout a string may unroll to (a million stage characters: far beyond any
/// model, small enough to answer at once).
const MAX_UNROLLED: usize = 1 << 20;

/// Parses a layout string for `pp` pipeline ranks and a model of `layers` layers.
pub fn parse(text: &str, pp: u64, layers: u64) -> Result<ChunkLayers> {
    let invalid = |why: String| Error::invalid(KEY, format!("{text:?}"), why);
    let compact: String = text.chars().filter(|c| *c != ',' && !c.is_whitespace()).collect();
    let unrolled = unroll(&compact).map_err(invalid)?;
    let stages: Vec<&str> = unrolled.split('|').collect();
    let pp_usize = pp as usize;
    if stages.len() % pp_usize != 0 {
        return Err(invalid(format!("{} stages are not a multiple of parallel.pp = {pp}", stages.len())));
    }
    for c in unrolled.chars().filter(|c| *c != '|') {
        match c {
            'E' | 't' | 'L' => {}
            'm' => return Err(invalid("multi-token-prediction layers ('m') are not modelled; leave them out".into())),
            other => return Err(invalid(format!("{other:?} is not a layer; known: 'E' (embedding), 't' (transformer layer), 'L' (loss), '|' between stages"))),
        }
    }
    let count = |ch: char| unrolled.chars().filter(|c| *c == ch).count();
    if count('E') != 1 || !unrolled.trim_start_matches('|').starts_with('E') {
        return Err(invalid("the embedding 'E' must come first, once".into()));
    }
    if count('L') != 1 || !unrolled.trim_end_matches('|').ends_with('L') {
        return Err(invalid("the loss 'L' must come last, once".into()));
    }
    let decoder = count('t') as u64;
    if decoder != layers {
        return Err(invalid(format!("holds {decoder} transformer layers; model.layers = {layers}")));
    }
    let vpp = stages.len() / pp_usize;
    let mut out = vec![vec![0u64; vpp]; pp_usize];
    for (i, stage) in stages.iter().enumerate() {
        out[i % pp_usize][i / pp_usize] = stage.chars().filter(|c| *c == 't').count() as u64;
    }
    Ok(out)
}

/// Unrolls `(…)*n` groups, then `x*n` characters, as Megatron's two regular
/// expressions do (`\(([^)]+)\)\*(\d+)`, then `(.)\*(\d+)`).
fn unroll(text: &str) -> std::result::Result<String, String> {
    let groups = expand(text, true)?;
    expand(&groups, false)
}

/// One pass of Megatron's unrolling: groups (`(…)*n`) or single characters (`x*n`).
fn expand(text: &str, groups: bool) -> std::result::Result<String, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        // What repeats, and where its `*` would be.
        let (unit, star) = if groups && chars[i] == '(' {
            match chars[i + 1..].iter().position(|c| *c == ')') {
                Some(len) if len > 0 => (chars[i + 1..i + 1 + len].iter().collect::<String>(), i + len + 2),
                _ => return Err("a '(' without its ')' or with nothing inside".into()),
            }
        } else if !groups && i + 1 < chars.len() && chars[i + 1] == '*' {
            (chars[i].to_string(), i + 1)
        } else {
            out.push(chars[i]);
            i += 1;
            continue;
        };
        let digits: String = chars.get(star + 1..).unwrap_or_default().iter().take_while(|c| c.is_ascii_digit()).collect();
        if chars.get(star) != Some(&'*') || digits.is_empty() {
            if groups {
                return Err("a group '(…)' must be followed by '*' and a count".into());
            }
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let n: usize = digits.parse().map_err(|_| format!("repeat count {digits} is too large"))?;
        if unit.len().saturating_mul(n).saturating_add(out.len()) > MAX_UNROLLED {
            return Err(format!("unrolls to more than {MAX_UNROLLED} characters"));
        }
        out.push_str(&unit.repeat(n));
        i = star + 1 + digits.len();
    }
    if out.len() > MAX_UNROLLED {
        return Err(format!("unrolls to more than {MAX_UNROLLED} characters"));
    }
    Ok(out)
}

/// Megatron's uneven split: `first` layers on the first rank and `last` on the last
/// (either may be left to the even split), the rest evenly over the other ranks; with
/// `vpp` model chunks per rank each count divides evenly over them.
pub fn from_edges(first: Option<u64>, last: Option<u64>, pp: u64, vpp: u64, layers: u64) -> Result<ChunkLayers> {
    if pp < 2 {
        let key = if first.is_some() { "parallel.first_stage_layers" } else { "parallel.last_stage_layers" };
        return Err(Error::invalid(key, first.or(last).unwrap_or(0), "needs parallel.pp >= 2"));
    }
    // Every stage but the embedding's and the loss's holds a layer.
    if pp.saturating_mul(vpp) > layers.saturating_add(2) {
        return Err(Error::invalid("parallel.pp", pp, format!("pp × vpp = {pp} × {vpp} stages exceed model.layers = {layers} (+ 2 for the embedding and the loss)")));
    }
    for (key, v) in [("parallel.first_stage_layers", first), ("parallel.last_stage_layers", last)] {
        if let Some(v) = v {
            if v % vpp != 0 {
                return Err(Error::invalid(key, v, format!("must divide evenly over the parallel.vpp = {vpp} model chunks of its rank")));
            }
        }
    }
    let given = first.unwrap_or(0).saturating_add(last.unwrap_or(0));
    let middle = pp - u64::from(first.is_some()) - u64::from(last.is_some());
    let key = if first.is_some() { "parallel.first_stage_layers" } else { "parallel.last_stage_layers" };
    let rest = layers.checked_sub(given).ok_or_else(|| Error::invalid(key, given, format!("first and last stages hold more than model.layers = {layers}")))?;
    let per = match middle {
        0 if rest == 0 => 0,
        0 => return Err(Error::invalid(key, given, format!("with pp = {pp} the first and last stages are all of them: they must hold model.layers = {layers}"))),
        m if rest % (m.saturating_mul(vpp)) == 0 => rest / (m.saturating_mul(vpp)),
        m => {
            return Err(Error::invalid(
                key,
                given,
                format!("leaves {rest} layers for {m} other ranks × {vpp} chunks, which do not divide evenly"),
            ))
        }
    };
    let pp_usize = pp as usize;
    let mut out = vec![vec![per; vpp as usize]; pp_usize];
    if let Some(f) = first {
        out[0] = vec![f / vpp; vpp as usize];
    }
    if let Some(l) = last {
        out[pp_usize - 1] = vec![l / vpp; vpp as usize];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Megatron's own examples (pipeline_parallel_layer_layout.py).
    #[test]
    fn unrolls_as_megatron_does() {
        assert_eq!(unroll("Ettt|(tt|)*2L").unwrap(), "Ettt|tt|tt|L");
        assert_eq!(unroll("xy(ab|cd|ef)*2pq").unwrap(), "xyab|cd|efab|cd|efpq");
        assert_eq!(unroll("(|ab)*2cd").unwrap(), "|ab|abcd");
        assert_eq!(unroll("Et*3|t*2L").unwrap(), "Ettt|ttL");
    }

    #[test]
    fn stages_go_round_robin_over_ranks() {
        // 8 stages on 4 ranks: vpp 2; stage i on rank i mod 4, chunk i div 4.
        let l = parse("Et|tt|tt|tt|tt|tt|tt|tL", 4, 14).unwrap();
        assert_eq!(l, vec![vec![1, 2], vec![2, 2], vec![2, 2], vec![2, 1]]);
        // The embedding and the loss as stages of their own: pp × vpp above the layers.
        let l = parse("E|t*4|t*4|L", 2, 8).unwrap();
        assert_eq!(l, vec![vec![0, 4], vec![4, 0]]);
    }

    #[test]
    fn bad_layouts_say_what_is_wrong() {
        let err = |t: &str, pp: u64, layers: u64| parse(t, pp, layers).unwrap_err().to_string();
        assert!(err("Et|tL", 4, 2).contains("not a multiple of parallel.pp"));
        assert!(err("tE|tL", 2, 2).contains("must come first"));
        assert!(err("Et|Lt", 2, 2).contains("must come last"));
        assert!(err("Et|tL", 2, 3).contains("model.layers = 3"));
        assert!(err("Et|tmL", 2, 2).contains("multi-token"));
        assert!(err("Ex|tL", 2, 1).contains("not a layer"));
        assert!(err("E(t|*2L", 2, 1).contains("')'"));
        assert!(err("E(t|)*99999999999L", 2, 1).contains("more than"));
    }

    #[test]
    fn first_and_last_stage_counts_split_the_rest_evenly() {
        // DeepSeek-V3 style: 61 layers on 16 ranks, 3 on the first, 2 on the last.
        let l = from_edges(Some(3), Some(2), 16, 1, 61).unwrap();
        assert_eq!(l[0], vec![3]);
        assert_eq!(l[15], vec![2]);
        assert!(l[1..15].iter().all(|r| r == &vec![4]));
        assert!(from_edges(Some(3), None, 4, 2, 15).is_err(), "3 does not split over 2 chunks");
        assert!(from_edges(Some(4), None, 4, 1, 15).is_err(), "11 over 3 ranks is uneven");
        assert!(from_edges(Some(4), None, 1, 1, 15).is_err());
    }
}
