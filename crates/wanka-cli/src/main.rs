//! The `wanka` binary: parse arguments, call the library, print. Bad input exits with
//! status 2 and a message naming the key; nothing else is printed on stdout then.

mod output;

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "wanka", version, about = "Simulate and plan LLM training on 1k-1M GPU clusters")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Fidelity {
    Analytic,
    Event,
}

#[derive(Subcommand)]
enum Command {
    /// One training step: time, throughput, MFU, memory, breakdown.
    Simulate {
        /// Scenario file (TOML, see SCENARIO.md).
        file: PathBuf,
        /// Override a key: --set parallel.tp=4 (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// One JSON document on stdout.
        #[arg(long)]
        json: bool,
        #[arg(long, value_enum, default_value = "analytic")]
        fidelity: Fidelity,
    },
    /// Failures, checkpoints, restarts: effective training time ratio and time-to-train.
    Goodput {
        file: PathBuf,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        #[arg(long)]
        json: bool,
        /// Sweep GPU counts (e.g. 1024,16384 or 1k..1M in powers of two): ETTR with
        /// blocking, asynchronous and in-memory checkpoints and a 10× faster restart.
        #[arg(long, value_name = "LIST")]
        gpus: Option<String>,
    },
    /// Every published measurement wanka carries, predicted beside published.
    Validate {
        #[arg(long)]
        json: bool,
        /// Print the scenario file wanka builds for one published row, and stop.
        #[arg(long, value_name = "ROW_ID")]
        scenario: Option<String>,
        #[arg(long, value_enum, default_value = "analytic")]
        fidelity: Fidelity,
    },
    /// What is built in: GPUs, models.
    Catalog {
        #[arg(value_enum, default_value = "gpus")]
        what: CatalogKind,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum CatalogKind {
    Gpus,
    Models,
}

/// An error the user caused (bad file, bad key): exit status 2.
#[derive(Debug)]
struct UsageError(String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for UsageError {}

fn usage(e: wanka::Error) -> anyhow::Error {
    anyhow::Error::new(UsageError(e.to_string()))
}

fn event_unavailable() -> anyhow::Error {
    anyhow::Error::new(UsageError(
        "--fidelity event: the event-driven fidelity is not built yet (issue 4); use --fidelity analytic".into(),
    ))
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Simulate { file, set, json, fidelity } => {
            if fidelity == Fidelity::Event {
                return Err(event_unavailable());
            }
            let scenario = wanka::scenario::load(&file, &set).map_err(usage)?;
            let report = wanka::step::simulate(&scenario);
            if json {
                output::print_json(&output::simulate_json(&scenario, &report))?;
            } else {
                print!("{}", output::simulate_table(&scenario, &report));
            }
        }
        Command::Goodput { file, set, json, gpus } => {
            let scenario = wanka::scenario::load(&file, &set).map_err(usage)?;
            let step = wanka::step::simulate(&scenario);
            match gpus {
                None => {
                    let report = wanka::reliability::goodput(&scenario, step.tokens_per_s);
                    if json {
                        output::print_json(&report)?;
                    } else {
                        print!("{}", output::goodput_table(&scenario, &report));
                    }
                }
                Some(list) => {
                    let counts = parse_gpu_list(&list).map_err(|e| anyhow::Error::new(UsageError(e)))?;
                    let sweep = wanka::reliability::sweep(&scenario, step.tokens_per_s_per_gpu, &counts);
                    if json {
                        output::print_json(&sweep)?;
                    } else {
                        print!("{}", output::sweep_table(&sweep));
                    }
                }
            }
        }
        Command::Validate { json, scenario, fidelity } => {
            if fidelity == Fidelity::Event {
                return Err(event_unavailable());
            }
            if let Some(id) = scenario {
                let text = wanka::validate::scenario_text(&id)
                    .ok_or_else(|| anyhow::Error::new(UsageError(format!("--scenario {id:?}: no such row in the published set"))))?;
                print!("{text}");
                return Ok(());
            }
            let v = wanka::validate::validate();
            if json {
                output::print_json(&v)?;
            } else {
                print!("{}", output::validate_table(&v));
            }
        }
        Command::Catalog { what, json } => match (what, json) {
            (CatalogKind::Gpus, true) => output::print_json(&wanka::catalog::gpus())?,
            (CatalogKind::Gpus, false) => print!("{}", output::gpus_table()),
            (CatalogKind::Models, true) => output::print_json(&output::models_json())?,
            (CatalogKind::Models, false) => print!("{}", output::models_table()),
        },
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            if e.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

/// `1024,4096` or `1k..128k` (powers of two between the bounds); `k` = 1024, `M` = 1024².
fn parse_gpu_list(text: &str) -> Result<Vec<u64>, String> {
    let one = |t: &str| -> Result<u64, String> {
        let t = t.trim();
        let (num, mult) = match t.chars().last() {
            Some('k') | Some('K') => (&t[..t.len() - 1], 1024),
            Some('M') | Some('m') => (&t[..t.len() - 1], 1024 * 1024),
            _ => (t, 1),
        };
        let n: u64 = num.parse().map_err(|_| format!("--gpus {text:?}: {t:?} is not a GPU count (e.g. 1024, 16k, 1M)"))?;
        let v = n.checked_mul(mult).filter(|v| *v > 0 && *v <= wanka::scenario::MAX_INT).ok_or_else(|| {
            format!("--gpus {text:?}: {t:?} must be between 1 and {}", wanka::scenario::MAX_INT)
        })?;
        Ok(v)
    };
    if let Some((a, b)) = text.split_once("..") {
        let (lo, hi) = (one(a)?, one(b)?);
        if lo > hi {
            return Err(format!("--gpus {text:?}: the range must go up"));
        }
        let mut v = Vec::new();
        let mut n = lo;
        while n <= hi {
            v.push(n);
            n *= 2;
        }
        Ok(v)
    } else {
        text.split(',').map(one).collect()
    }
}
