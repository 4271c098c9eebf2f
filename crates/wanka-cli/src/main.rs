//! The `wanka` binary: parse arguments, call the library, print. Bad input exits with
//! status 2 and a message naming the key; nothing else is printed on stdout then.

mod bench;
mod output;

use anyhow::Result;
use wanka::render::chart::Plot as _;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "wanka", version, about = "Simulate and plan LLM training on 1k-1M GPU clusters")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum SweepAction {
    /// Join the outputs of `--shard` runs into one file, rows in point order.
    Merge {
        /// The joined file (.csv or .jsonl, as the shards).
        #[arg(short = 'o', long = "out", value_name = "FILE")]
        out: PathBuf,
        /// The shards' output files.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
    },
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
        /// Scenario file (TOML, see docs/SCENARIO.md).
        file: PathBuf,
        /// Override a key: --set parallel.tp=4 (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// One JSON document on stdout.
        #[arg(long)]
        json: bool,
        /// analytic: closed forms; event: the step as a task graph on the fabric (search
        /// re-ranks its top layouts with it).
        #[arg(long, value_enum, default_value = "analytic")]
        fidelity: Fidelity,
        /// Write the step's timeline as Chrome trace-event JSON (event fidelity).
        #[arg(long, value_name = "FILE")]
        trace: Option<PathBuf>,
        /// Also write an HTML report (one self-contained file: charts, tables, the
        /// scenario as resolved).
        #[arg(long, value_name = "FILE.html")]
        report: Option<PathBuf>,
    },
    /// One self-contained HTML report of a scenario's step (what `simulate --report`
    /// writes): headline numbers, where the step goes, memory against the HBM, the
    /// scenario as resolved.
    Report {
        /// Scenario file (TOML, see docs/SCENARIO.md).
        file: PathBuf,
        /// Override a key: --set parallel.tp=4 (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// The report to write.
        #[arg(short = 'o', long = "out", value_name = "FILE.html")]
        out: PathBuf,
        /// analytic or event.
        #[arg(long, value_enum, default_value = "analytic")]
        fidelity: Fidelity,
    },
    /// Failures, checkpoints, restarts: effective training time ratio and time-to-train.
    Goodput {
        /// Scenario file (TOML, see docs/SCENARIO.md).
        file: PathBuf,
        /// Override a key: --set parallel.tp=4 (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// One JSON document on stdout.
        #[arg(long)]
        json: bool,
        /// Sweep GPU counts (e.g. 1024,16384 or 1k..1M in powers of two): ETTR with
        /// blocking, asynchronous and in-memory checkpoints and a 10× faster restart.
        #[arg(long, value_name = "LIST")]
        gpus: Option<String>,
        /// Also write an HTML report: the time-to-train distribution, interruptions by
        /// cause, ETTR against the checkpoint interval with Daly's optimum.
        #[arg(long, value_name = "FILE.html", conflicts_with = "gpus")]
        report: Option<PathBuf>,
    },
    /// nccl-tests-style table of a collective on the scenario's fabric, every concurrent
    /// instance of the group running at once (flow-level network model).
    Collective {
        /// Scenario file (TOML, see docs/SCENARIO.md).
        file: PathBuf,
        /// Override a key: --set parallel.tp=4 (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        #[arg(long, value_enum)]
        op: OpArg,
        /// tp, cp, dp, ep, etp (expert TP), expert_dp, pp, or a number N (N consecutive GPUs).
        #[arg(long, default_value = "dp")]
        group: String,
        /// Smallest message (nccl-tests' S; K, M, G are binary units).
        #[arg(long, default_value = "1M")]
        min_bytes: String,
        /// Largest message; sizes double from the smallest.
        #[arg(long, default_value = "8G")]
        max_bytes: String,
        /// Overrides cluster.routing.
        #[arg(long, value_enum)]
        routing: Option<RoutingArg>,
        /// NCCL channels (rings) per group; each is its own flow across the network.
        /// Default: as many as NCCL builds for the group (4 with one H100 per node on
        /// 400G NICs, 16 with eight).
        #[arg(long)]
        channels: Option<u64>,
        /// One JSON document on stdout.
        #[arg(long)]
        json: bool,
        /// Also write an HTML report: busbw against size for every routing the
        /// transport allows (ECMP, adaptive, spray), the algorithm at each size.
        #[arg(long, value_name = "FILE.html")]
        report: Option<PathBuf>,
        /// Also write the busbw chart of the routing asked for alone: FILE.svg or FILE.png.
        #[arg(long, value_name = "FILE.svg|FILE.png")]
        plot: Option<PathBuf>,
    },
    /// Best parallel layouts for the model on the cluster, ranked by throughput.
    Search {
        /// Scenario file (TOML, see docs/SCENARIO.md).
        file: PathBuf,
        /// Override a key: --set parallel.tp=4 (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// How many layouts to show.
        #[arg(long, default_value_t = 10)]
        top: usize,
        /// One JSON document on stdout.
        #[arg(long)]
        json: bool,
        /// analytic: closed forms; event: the step as a task graph on the fabric (search
        /// re-ranks its top layouts with it).
        #[arg(long, value_enum, default_value = "analytic")]
        fidelity: Fidelity,
        /// Rank by the lower edge of each prediction's band (comparable validation rows'
        /// errors, widened where the layout leaves what validation covers).
        #[arg(long)]
        robust: bool,
        /// Also write an HTML report: the top layouts, every layout that fits against
        /// memory with the front, what the constraints removed.
        #[arg(long, value_name = "FILE.html")]
        report: Option<PathBuf>,
    },
    /// Time-to-train, goodput and cost against GPU count (best layout at each).
    Scale {
        /// Scenario file (TOML, see docs/SCENARIO.md).
        file: PathBuf,
        /// Override a key: --set parallel.tp=4 (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// GPU counts: 1024,4096,16384 or 1k..128k (powers of two).
        #[arg(long, value_name = "LIST")]
        gpus: String,
        /// One JSON document on stdout.
        #[arg(long)]
        json: bool,
        /// Also write an HTML report: time-to-train, throughput, ETTR, cost and energy
        /// against GPU count, the knee and the verdict.
        #[arg(long, value_name = "FILE.html")]
        report: Option<PathBuf>,
        /// Also write the time-to-train chart alone: FILE.svg or FILE.png.
        #[arg(long, value_name = "FILE.svg|FILE.png")]
        plot: Option<PathBuf>,
    },
    /// Every published measurement wanka carries, predicted beside published.
    Validate {
        /// One JSON document on stdout.
        #[arg(long)]
        json: bool,
        /// Print the scenario file wanka builds for one published row (or a row of the
        /// memory-and-layouts set), and stop.
        #[arg(long, value_name = "ROW_ID")]
        scenario: Option<String>,
        /// analytic: closed forms; event: the step as a task graph on the fabric (search
        /// re-ranks its top layouts with it).
        #[arg(long, value_enum, default_value = "analytic")]
        fidelity: Fidelity,
        /// Memory and layout choice instead: peak memory against the measured rows, and
        /// per group of measured layouts the rank correlation and the regret of wanka's pick.
        #[arg(long, conflicts_with_all = ["scenario", "fidelity"])]
        layouts: bool,
        /// Also write an HTML report: predicted against published on log-log axes with
        /// the ±10% and ±25% bands, the error by group, every row.
        #[arg(long, value_name = "FILE.html", conflicts_with_all = ["scenario", "layouts"])]
        report: Option<PathBuf>,
        /// Also write the predicted-against-published chart alone: FILE.svg or FILE.png.
        #[arg(long, value_name = "FILE.svg|FILE.png", conflicts_with_all = ["scenario", "layouts"])]
        plot: Option<PathBuf>,
    },
    /// Every combination of a sweep file's axes (scenario keys and their values), one row
    /// per point, into a .csv, .jsonl or .parquet; a killed run resumes where it stopped.
    /// `wanka sweep merge -o OUT SHARD...` joins shard outputs.
    #[command(args_conflicts_with_subcommands = true)]
    Sweep {
        #[command(subcommand)]
        action: Option<SweepAction>,
        /// Sweep file (TOML: `base`, `fidelity`, `[axes]`; see README "Sweeps").
        file: Option<PathBuf>,
        /// Output file: .csv, .jsonl or .parquet. Rows already there from the same sweep are kept.
        #[arg(short = 'o', long = "out", value_name = "FILE")]
        out: Option<PathBuf>,
        /// Run only shard I of N (every N-th point from I), e.g. a Slurm array task.
        #[arg(long, value_name = "I/N")]
        shard: Option<String>,
        /// Print the run's summary as JSON on stdout.
        #[arg(long)]
        json: bool,
        /// Run the points as Ray tasks on the cluster at ADDRESS (`ray.init(address=...)`:
        /// "auto" for the running one, "local" to start one here, or `ray://host:10001`),
        /// through the Python package (`pip install ./python` and ray; `WANKA_PYTHON` names
        /// the interpreter, else `python3`). Same rows and bytes as without.
        #[arg(long, value_name = "ADDRESS")]
        ray: Option<String>,
        /// Points per Ray task (with --ray).
        #[arg(long, value_name = "N", default_value_t = 1024, requires = "ray")]
        chunk_points: u64,
        /// Also write an HTML report from the rows: what each axis does to throughput,
        /// the best points, the errors.
        #[arg(long, value_name = "FILE.html")]
        report: Option<PathBuf>,
    },
    /// Time the speed targets at the top of the range (event steps at 131k and 1M
    /// GPUs, every collective at 1M, search at 131k on 2 threads, scale to 1M), each once.
    Bench {
        /// Only the cases whose name contains this text (e.g. "event", "collective").
        #[arg(long, value_name = "TEXT")]
        only: Option<String>,
        /// One JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Design the cluster. `design DESIGN.toml`: several cluster designs for one model
    /// and token budget, each with its best layout, time-to-train with failures, capex,
    /// power and cost per token, the Pareto front and the verdict. `design bom FILE`:
    /// what one cluster is made of and what it costs and draws.
    #[command(args_conflicts_with_subcommands = true)]
    Design {
        #[command(subcommand)]
        what: Option<DesignCommand>,
        /// Design file (TOML, see docs/SCENARIO.md).
        file: Option<PathBuf>,
        /// One JSON document on stdout.
        #[arg(long)]
        json: bool,
        /// Also write an HTML report: time to train against cost per token with the
        /// Pareto front, capex per design, every design's figures.
        #[arg(long, value_name = "FILE.html")]
        report: Option<PathBuf>,
    },
    /// What is built in: GPUs, models, fabrics, parts, reliability defaults.
    Catalog {
        #[arg(value_enum, default_value = "gpus")]
        what: CatalogKind,
        /// One JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum DesignCommand {
    /// Bill of materials of the scenario's cluster: servers, NICs, switches per tier,
    /// links per tier with their medium and optics, racks, power and capex.
    Bom {
        /// Scenario file (only its [cluster] is read; see docs/SCENARIO.md).
        file: PathBuf,
        /// Override a key: --set cluster.gpus=8192 (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// One JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
enum OpArg {
    #[value(alias = "all-reduce")]
    AllReduce,
    #[value(alias = "all-gather")]
    AllGather,
    #[value(alias = "reduce-scatter")]
    ReduceScatter,
    #[value(alias = "all-to-all", alias = "alltoall")]
    AllToAll,
    Broadcast,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RoutingArg {
    Ecmp,
    Adaptive,
    Spray,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum CatalogKind {
    Gpus,
    Models,
    Fabrics,
    Parts,
    Reliability,
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


fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Report { file, set, out, fidelity } => {
            let scenario = wanka::scenario::load(&file, &set).map_err(usage)?;
            match fidelity {
                Fidelity::Event => {
                    let step = wanka::step::event::simulate_event(&scenario).map_err(usage)?;
                    write_step_report(&out, &file, &set, &scenario, &step.report, Some(&step))?;
                }
                Fidelity::Analytic => write_step_report(&out, &file, &set, &scenario, &wanka::step::simulate(&scenario), None)?,
            }
            println!("wanka report: {}", out.display());
        }
        Command::Simulate { file, set, json, fidelity, trace, report: report_path } => {
            let scenario = wanka::scenario::load(&file, &set).map_err(usage)?;
            if fidelity == Fidelity::Event {
                let step = wanka::step::event::simulate_event(&scenario).map_err(usage)?;
                if let Some(path) = trace {
                    write_atomically(&path, |w| wanka::step::event::write_trace(&step, w))?;
                }
                if let Some(path) = &report_path {
                    write_step_report(path, &file, &set, &scenario, &step.report, Some(&step))?;
                }
                let mut doc = wanka::json::simulate(&scenario, &step.report);
                doc["fidelity"] = serde_json::json!("event");
                doc["streams"] = serde_json::to_value(&step.streams)?;
                if json {
                    output::print_json(&doc)?;
                } else {
                    print!("{}", output::simulate_table(&scenario, &step.report).replace("(analytic)", "(event)"));
                    print!("{}", output::streams_table(&step.streams));
                }
            } else {
                if trace.is_some() {
                    return Err(anyhow::Error::new(UsageError("--trace needs --fidelity event".into())));
                }
                let report = wanka::step::simulate(&scenario);
                if let Some(path) = &report_path {
                    write_step_report(path, &file, &set, &scenario, &report, None)?;
                }
                if json {
                    output::print_json(&wanka::json::simulate(&scenario, &report))?;
                } else {
                    print!("{}", output::simulate_table(&scenario, &report));
                }
            }
        }
        Command::Goodput { file, set, json, gpus, report: report_path } => {
            let scenario = wanka::scenario::load(&file, &set).map_err(usage)?;
            let step = wanka::step::simulate(&scenario);
            match gpus {
                None => {
                    let report = wanka::reliability::goodput(&scenario, step.tokens_per_s);
                    if let Some(path) = &report_path {
                        check_report_path(path)?;
                        let html = wanka::render::goodput_report(&scenario, &report);
                        write_atomically(path, |w| w.write_all(html.as_bytes()))?;
                    }
                    if json {
                        output::print_json(&report)?;
                    } else {
                        print!("{}", output::goodput_table(&scenario, &report));
                    }
                }
                Some(list) => {
                    let counts = parse_gpu_list(&list).map_err(|e| anyhow::Error::new(UsageError(e)))?;
                    let bar = progress_bar(json, "GPU counts");
                    let sweep = wanka::reliability::sweep_with_progress(&scenario, step.tokens_per_s_per_gpu, &counts, &|done, total| {
                        bar.set_length(total);
                        bar.set_position(done);
                    });
                    bar.finish_and_clear();
                    if json {
                        output::print_json(&sweep)?;
                    } else {
                        print!("{}", output::sweep_table(&sweep));
                    }
                }
            }
        }
        Command::Collective { file, set, op, group, min_bytes, max_bytes, routing, channels, json, report: report_path, plot } => {
            let s = wanka::scenario::load(&file, &set).map_err(usage)?;
            let bad = |m: String| anyhow::Error::new(UsageError(m));
            let lo = parse_bytes(&min_bytes).map_err(bad)?;
            let hi = parse_bytes(&max_bytes).map_err(bad)?;
            if lo > hi {
                return Err(bad(format!("--min-bytes {min_bytes} is above --max-bytes {max_bytes}")));
            }
            if let Some(c) = channels.filter(|&c| c == 0 || c > 64) {
                return Err(bad(format!("--channels {c}: must be between 1 and 64")));
            }
            let mut sizes = Vec::new();
            let mut b = lo;
            while b <= hi {
                sizes.push(b);
                b *= 2.0;
            }
            let op = match op {
                OpArg::AllReduce => wanka::collective::CollectiveOp::AllReduce,
                OpArg::AllGather => wanka::collective::CollectiveOp::AllGather,
                OpArg::ReduceScatter => wanka::collective::CollectiveOp::ReduceScatter,
                OpArg::AllToAll => wanka::collective::CollectiveOp::AllToAll,
                OpArg::Broadcast => wanka::collective::CollectiveOp::Broadcast,
            };
            let routing = match routing {
                Some(RoutingArg::Ecmp) => wanka_net_routing::ECMP,
                Some(RoutingArg::Adaptive) => wanka_net_routing::ADAPTIVE,
                Some(RoutingArg::Spray) => wanka_net_routing::SPRAY,
                None => s.cluster.routing.into(),
            };
            let layout = wanka::collective::flows::named_group(&s, &group).map_err(bad)?;
            let channels = channels.unwrap_or_else(|| wanka::collective::flows::nccl_channels(&s, &wanka::parallel::fabric(&s.cluster), layout, op));
            wanka::collective::flows::check_phase_size(&s, layout, op, channels).map_err(bad)?;
            let report = wanka::collective::flows::run(&s, layout, op, routing, channels, &sizes);
            if let Some(path) = &plot {
                let chart = wanka::render::collective_plot(std::slice::from_ref(&report));
                write_plot(path, || chart.svg(), || chart.png())?;
            }
            if let Some(path) = &report_path {
                check_report_path(path)?;
                // Every routing the transport allows, the one asked for first.
                let mut runs = vec![report.clone()];
                use wanka::scenario::Routing as Scenario;
                for (other, as_key) in [(wanka_net_routing::ECMP, Scenario::Ecmp), (wanka_net_routing::ADAPTIVE, Scenario::Adaptive), (wanka_net_routing::SPRAY, Scenario::Spray)] {
                    if other != routing && s.cluster.transport.is_none_or(|t| t.refuses(as_key).is_none()) {
                        runs.push(wanka::collective::flows::run(&s, layout, op, other, channels, &sizes));
                    }
                }
                let html = wanka::render::collective_report(&s, &group, &runs);
                write_atomically(path, |w| w.write_all(html.as_bytes()))?;
            }
            if json {
                output::print_json(&report)?;
            } else {
                print!("{}", output::collective_table(&s, &report));
            }
        }
        Command::Search { file, set, top, json, fidelity, robust, report } => {
            let space = wanka::scenario::load_space(&file, &set).map_err(usage)?;
            let started = std::time::Instant::now();
            let bar = progress_bar(json, "evaluating layouts");
            let progress = |done: u64, total: u64| {
                bar.set_length(total);
                bar.set_position(done);
            };
            let ranking = if robust { wanka::search::Ranking::Robust } else { wanka::search::Ranking::Predicted };
            let mut result = wanka::search::search_ranked(&space, top, &progress, ranking).map_err(usage)?;
            bar.finish_and_clear();
            if fidelity == Fidelity::Event {
                wanka::search::refine_with_event(&space, &mut result);
            }
            let elapsed_s = started.elapsed().as_secs_f64();
            if let Some(path) = &report {
                check_report_path(path)?;
                let html = wanka::render::search_report(&space, &result);
                write_atomically(path, |w| w.write_all(html.as_bytes()))?;
            }
            if json {
                output::print_json(&wanka::json::search(&result, elapsed_s))?;
            } else {
                print!("{}", output::search_table(&space, &result, elapsed_s));
            }
        }
        Command::Scale { file, set, gpus, json, report, plot } => {
            let space = wanka::scenario::load_space(&file, &set).map_err(usage)?;
            let counts = parse_gpu_list(&gpus).map_err(|e| anyhow::Error::new(UsageError(e)))?;
            for &n in &counts {
                if n % space.cluster.gpus_per_node != 0 && n > space.cluster.gpus_per_node {
                    return Err(anyhow::Error::new(UsageError(format!(
                        "--gpus {n}: must be a multiple of cluster.gpus_per_node = {}",
                        space.cluster.gpus_per_node
                    ))));
                }
            }
            let bar = progress_bar(json, "GPU counts (a search each)");
            let result = wanka::scale::scale_with_progress(&space, &counts, &|done, total| {
                bar.set_length(total);
                bar.set_position(done);
            })
            .map_err(usage)?;
            bar.finish_and_clear();
            if let Some(path) = &report {
                check_report_path(path)?;
                let html = wanka::render::scale_report(&space, &result);
                write_atomically(path, |w| w.write_all(html.as_bytes()))?;
            }
            if let Some(path) = &plot {
                let chart = wanka::render::scale_plot(&result);
                write_plot(path, || chart.svg(), || chart.png())?;
            }
            if json {
                output::print_json(&result)?;
            } else {
                print!("{}", output::scale_table(&space, &result));
            }
        }
        Command::Validate { json, scenario, fidelity, layouts, report, plot } => {
            if layouts {
                let v = wanka::validate::layouts::validate_layouts();
                if json {
                    output::print_json(&v)?;
                } else {
                    print!("{}", output::layouts_table(&v));
                }
                return Ok(());
            }
            if let Some(id) = scenario {
                let text = wanka::validate::scenario_text(&id)
                    .ok_or_else(|| anyhow::Error::new(UsageError(format!("--scenario {id:?}: no such row in the published set or the memory-and-layouts set"))))?;
                print!("{text}");
                return Ok(());
            }
            let bar = progress_bar(json, "published rows");
            let v = wanka::validate::validate_with_progress(fidelity == Fidelity::Event, &|done, total| {
                bar.set_length(total);
                bar.set_position(done);
            });
            bar.finish_and_clear();
            if let Some(path) = &report {
                check_report_path(path)?;
                let html = wanka::render::validate_report(&v, if fidelity == Fidelity::Event { "event" } else { "analytic" });
                write_atomically(path, |w| w.write_all(html.as_bytes()))?;
            }
            if let Some(path) = &plot {
                let chart = wanka::render::validate_plot(&v);
                write_plot(path, || chart.svg(), || chart.png())?;
            }
            if json {
                output::print_json(&v)?;
            } else {
                print!("{}", output::validate_table(&v));
            }
        }
        Command::Sweep { action: Some(SweepAction::Merge { out, shards }), .. } => {
            let rows = wanka::sweep::merge(&out, &shards).map_err(usage)?;
            println!("wanka sweep merge: {rows} rows from {} shards into {}", shards.len(), out.display());
        }
        Command::Sweep { action: None, file, out, shard, json, ray, chunk_points, report } => {
            let (Some(file), Some(out)) = (file, out) else {
                return Err(anyhow::Error::new(UsageError("wanka sweep needs a sweep file and -o OUT (.csv, .jsonl or .parquet)".into())));
            };
            let sweep = wanka::sweep::load(&file).map_err(usage)?;
            let (index, count) = match shard.as_deref() {
                None => (0, 1),
                Some(text) => parse_shard(text).ok_or_else(|| anyhow::Error::new(UsageError(format!("--shard {text:?}: expected I/N with 0 <= I < N, e.g. 0/4"))))?,
            };
            if let Some(path) = &report {
                check_report_path(path)?;
            }
            let write_report = |sweep: &wanka::sweep::Sweep| -> Result<()> {
                if let Some(path) = &report {
                    let rows = sweep.read_rows(&out).map_err(usage)?;
                    let html = wanka::render::sweep_report(sweep, &rows);
                    write_atomically(path, |w| w.write_all(html.as_bytes()))?;
                }
                Ok(())
            };
            if let Some(address) = ray {
                wanka::sweep::Format::of(&out).map_err(usage)?;
                if chunk_points == 0 {
                    return Err(anyhow::Error::new(UsageError("--chunk-points 0: must be at least 1".into())));
                }
                sweep_on_ray(&file, &out, index, count, &address, chunk_points, json)?;
                return write_report(&sweep);
            }
            let bar = progress_bar(json, "sweep points");
            let started = std::time::Instant::now();
            let summary = sweep
                .run(&out, index, count, &|done, total| {
                    bar.set_length(total);
                    bar.set_position(done);
                })
                .map_err(usage)?;
            bar.finish_and_clear();
            let elapsed_s = started.elapsed().as_secs_f64();
            write_report(&sweep)?;
            if json {
                output::print_json(&serde_json::json!({ "summary": summary, "elapsed_s": elapsed_s, "out": out.display().to_string() }))?;
            } else {
                println!(
                    "wanka sweep: {} points{} into {}: {} written now, {} kept from an earlier run, {} with an error ({:.2} s)",
                    summary.points,
                    if count > 1 { format!(" (shard {index}/{count})") } else { String::new() },
                    out.display(),
                    summary.written,
                    summary.resumed,
                    summary.errors,
                    elapsed_s
                );
            }
        }
        Command::Bench { only, json } => {
            let only = only.unwrap_or_default();
            let quiet = json || !std::io::IsTerminal::is_terminal(&std::io::stderr());
            let outcomes = bench::run(&only, &|case| {
                if !quiet {
                    eprintln!("  running: {case}");
                }
            })
            .map_err(usage)?;
            if outcomes.is_empty() {
                return Err(anyhow::Error::new(UsageError(format!("--only {only:?}: no bench case has that in its name"))));
            }
            if json {
                output::print_json(&outcomes)?;
            } else {
                print!("{}", output::bench_table(&outcomes));
            }
        }
        Command::Design { what: None, file, json, report } => {
            let Some(file) = file else {
                return Err(anyhow::Error::new(UsageError("wanka design needs a design file (wanka design DESIGN.toml) or `bom FILE`".to_string())));
            };
            if let Some(path) = &report {
                check_report_path(path)?;
            }
            let study = wanka::design::study::load(&file).map_err(usage)?;
            let bar = progress_bar(json, "designs (a search each)");
            let result = study
                .run(&|done, total| {
                    bar.set_length(total);
                    bar.set_position(done);
                })
                .map_err(usage)?;
            bar.finish_and_clear();
            if let Some(path) = &report {
                let html = wanka::render::design_report(&result);
                write_atomically(path, |w| w.write_all(html.as_bytes()))?;
            }
            if json {
                output::print_json(&result)?;
            } else {
                print!("{}", output::study_table(&result));
            }
        }
        Command::Design { what: Some(DesignCommand::Bom { file, set, json }), .. } => {
            let text = wanka::scenario::read_text(&file).map_err(usage)?;
            let (name, cluster) = wanka::scenario::parse_cluster(&text, &file, &set).map_err(usage)?;
            let bom = wanka::design::bom(&cluster).map_err(usage)?;
            if json {
                output::print_json(&serde_json::json!({ "name": name, "bom": bom }))?;
            } else {
                print!("{}", output::bom_table(&name, &cluster, &bom));
            }
        }
        Command::Catalog { what, json } => match (what, json) {
            (CatalogKind::Gpus, true) => output::print_json(&wanka::catalog::gpus())?,
            (CatalogKind::Gpus, false) => print!("{}", output::gpus_table()),
            (CatalogKind::Models, true) => output::print_json(&output::models_json())?,
            (CatalogKind::Models, false) => print!("{}", output::models_table()),
            (CatalogKind::Fabrics, true) => output::print_json(&output::fabrics_json())?,
            (CatalogKind::Fabrics, false) => print!("{}", output::fabrics_table()),
            (CatalogKind::Parts, true) => output::print_json(wanka::catalog::parts())?,
            (CatalogKind::Parts, false) => print!("{}", output::parts_table()),
            (CatalogKind::Reliability, true) => output::print_json(&wanka::scenario::default_reliability())?,
            (CatalogKind::Reliability, false) => print!("{}", output::reliability_table()),
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

/// Routing values of wanka-net, named for the CLI.
mod wanka_net_routing {
    pub use wanka::collective::flows::Routing;
    pub const ECMP: Routing = Routing::Ecmp;
    pub const ADAPTIVE: Routing = Routing::Adaptive;
    pub const SPRAY: Routing = Routing::Spray;
}

/// `1M`, `8G`, `512K`, `4096` (binary units, as nccl-tests reads them).
fn parse_bytes(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let (num, mult) = match t.chars().last() {
        Some('K') | Some('k') => (&t[..t.len() - 1], 1024.0),
        Some('M') | Some('m') => (&t[..t.len() - 1], 1024.0 * 1024.0),
        Some('G') | Some('g') => (&t[..t.len() - 1], 1024.0 * 1024.0 * 1024.0),
        _ => (t, 1.0),
    };
    let v: f64 = num.parse().map_err(|_| format!("{text:?} is not a size (e.g. 4096, 512K, 1M, 8G)"))?;
    let b = v * mult;
    if !(b.is_finite() && (1.0..=1e15).contains(&b)) {
        return Err(format!("{text:?}: sizes go from 1 byte to 1 PB"));
    }
    Ok(b)
}

/// A report goes to an `.html` file.
fn check_report_path(path: &Path) -> Result<()> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html" | "htm") => Ok(()),
        _ => Err(anyhow::Error::new(UsageError(format!("--report {}: a report is an HTML file; name it FILE.html", path.display())))),
    }
}

/// Writes a chart alone, as its extension says: SVG text or a PNG image.
fn write_plot(path: &Path, svg: impl FnOnce() -> String, png: impl FnOnce() -> Result<Vec<u8>, String>) -> Result<()> {
    let bytes = match path.extension().and_then(|e| e.to_str()) {
        Some("svg") => svg().into_bytes(),
        Some("png") => png().map_err(|e| anyhow::anyhow!("--plot {}: {e}", path.display()))?,
        _ => return Err(anyhow::Error::new(UsageError(format!("--plot {}: a plot is FILE.svg or FILE.png", path.display())))),
    };
    write_atomically(path, |w| w.write_all(&bytes))
}

/// Writes the HTML report of one step, marking the keys `file` and `set` gave.
fn write_step_report(
    path: &Path,
    file: &Path,
    set: &[String],
    scenario: &wanka::scenario::Scenario,
    report: &wanka::report::StepReport,
    event: Option<&wanka::step::event::EventStep>,
) -> Result<()> {
    check_report_path(path)?;
    let text = wanka::scenario::read_text(file).map_err(usage)?;
    let doc = wanka::scenario::parse_document(&text, file).map_err(usage)?;
    let html = wanka::render::simulate_report(scenario, report, event, &wanka::step::pipeline_ranks(scenario), &wanka::render::keys_set(&doc, set));
    write_atomically(path, |w| w.write_all(html.as_bytes()))
}

/// Writes a file through a temporary sibling and a rename, so a failure never leaves a
/// partial file behind.
fn write_atomically(path: &std::path::Path, write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>) -> Result<()> {
    let tmp = path.with_extension("wanka-tmp");
    let result = (|| -> std::io::Result<()> {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        write(&mut f)?;
        std::io::Write::flush(&mut f)?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(anyhow::Error::new(UsageError(format!("--trace {}: {e}", path.display()))));
    }
    Ok(())
}

/// `I/N` with 0 <= I < N.
/// `wanka sweep --ray ADDRESS`: the Python package's Ray executor (`python -m wanka
/// sweep`), which prints the summary as the local run does. Exit status 2 when Python,
/// the package or Ray is missing, with what to install.
fn sweep_on_ray(file: &Path, out: &Path, index: u64, count: u64, address: &str, chunk_points: u64, json: bool) -> Result<()> {
    let python = std::env::var_os("WANKA_PYTHON").unwrap_or_else(|| "python3".into());
    let shown = python.to_string_lossy().into_owned();
    let missing = |why: String| anyhow::Error::new(UsageError(format!("--ray {address:?}: {why}; install the Python package and Ray (`pip install ./python ray`) or set WANKA_PYTHON to an interpreter that has them")));
    let check = std::process::Command::new(&python)
        .args(["-c", "import wanka, ray"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map_err(|e| missing(format!("cannot run {shown:?} ({e})")))?;
    if !check.success() {
        return Err(missing(format!("{shown:?} cannot import wanka and ray")));
    }
    let mut command = std::process::Command::new(&python);
    command.args(["-m", "wanka", "sweep"]).arg(file).arg("-o").arg(out);
    command.arg("--shard").arg(format!("{index}/{count}")).arg("--ray").arg(address).arg("--chunk-points").arg(chunk_points.to_string());
    if json {
        command.arg("--json");
    }
    let status = command.status().map_err(|e| missing(format!("cannot run {shown:?} ({e})")))?;
    match status.code() {
        Some(0) => Ok(()),
        Some(2) => Err(anyhow::Error::new(UsageError("the Ray sweep stopped on the error above".into()))),
        _ => Err(anyhow::anyhow!("the Ray sweep failed ({status})")),
    }
}

fn parse_shard(text: &str) -> Option<(u64, u64)> {
    let (i, n) = text.split_once('/')?;
    let (i, n): (u64, u64) = (i.trim().parse().ok()?, n.trim().parse().ok()?);
    (n > 0 && i < n).then_some((i, n))
}

/// A progress bar on stderr, hidden off a terminal and under `--json`.
fn progress_bar(json: bool, what: &str) -> indicatif::ProgressBar {
    if json || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(0);
    let template = format!("{{spinner}} {what} {{pos}}/{{len}} {{wide_bar}} {{eta}}");
    bar.set_style(indicatif::ProgressStyle::with_template(&template).unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()));
    bar
}
