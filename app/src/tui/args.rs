//! The workstation's flags (`conanchor-tui` with no subcommand) and its event sources.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use conanchor_store::Event;
use tokio::sync::mpsc;

use super::app::Mode;
use crate::ledgers::LedgerArgs;
use crate::pipeline::SourceMsg;
use crate::sources::synthetic::{self, SyntheticConfig, SyntheticContainer};
use crate::util::parse_duration;

#[derive(Debug, Clone, Args)]
pub struct TuiArgs {
    /// Evidence directory (conanchor.db, ledger/mock_chain.jsonl, conanchor-tui.log).
    #[arg(long, default_value = "./data")]
    pub data_dir: PathBuf,
    /// Event source: live (the eBPF probe; needs root), synthetic, or `replay FILE` (an event
    /// JSONL in the seed's format).
    #[arg(long, num_args = 1..=2, value_names = ["KIND", "FILE"], default_value = "live")]
    pub source: Vec<String>,
    /// Synthetic (and replay) events per second over all containers; 0 = as fast as possible.
    #[arg(long, default_value_t = 50)]
    pub rate: u64,
    /// Synthetic containers.
    #[arg(long, default_value_t = 3)]
    pub containers: usize,
    #[arg(long, default_value_t = 10)]
    pub batch_size: usize,
    /// Seal a partial batch this long after its first event (e.g. 500ms, 2s).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub batch_interval: Duration,
    #[arg(long, default_value = "collector-1")]
    pub collector_id: String,
    /// Seed of the synthetic containers' names.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Log file while the screen is in use (default: <data-dir>/conanchor-tui.log).
    #[arg(long)]
    pub log_file: Option<PathBuf>,
    #[command(flatten)]
    pub ledger: LedgerArgs,
}

/// The parsed `--source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceChoice {
    Live,
    Synthetic,
    Replay(PathBuf),
}

impl TuiArgs {
    pub fn source_choice(&self) -> Result<SourceChoice> {
        match self
            .source
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["live"] => Ok(SourceChoice::Live),
            ["synthetic"] => Ok(SourceChoice::Synthetic),
            ["replay", file] => Ok(SourceChoice::Replay(PathBuf::from(file))),
            ["replay"] => bail!("--source replay needs a file: --source replay events.jsonl"),
            other => bail!(
                "unknown --source {:?}: use live, synthetic or `replay FILE`",
                other.join(" ")
            ),
        }
    }
}

/// Why the live probe cannot run here.
fn live_unavailable_reason() -> String {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        "not running as root (try `sudo conanchor-tui`)".into()
    } else {
        "the eBPF probe source is not wired into the workstation in this build".into()
    }
}

/// A running source: stop it with `stop`, then join `thread`.
pub struct RunningSource {
    pub mode: Mode,
    pub banner: Option<String>,
    pub stop: Arc<AtomicBool>,
    pub thread: std::thread::JoinHandle<u64>,
}

/// Starts the chosen source (live falls back to synthetic with a banner saying why).
pub fn start_source(args: &TuiArgs, tx: mpsc::Sender<SourceMsg>) -> Result<RunningSource> {
    let stop = Arc::new(AtomicBool::new(false));
    let (mode, banner, thread) = match args.source_choice()? {
        SourceChoice::Replay(file) => {
            let events = read_replay(&file)?;
            let label = file.display().to_string();
            (
                Mode::Replay(label),
                None,
                spawn_replay(events, args.rate, tx, stop.clone()),
            )
        }
        choice => {
            let banner = (choice == SourceChoice::Live).then(|| {
                format!(
                    "live probe unavailable: {} — showing synthetic events",
                    live_unavailable_reason()
                )
            });
            let containers = SyntheticContainer::kubernetes_like(args.containers.max(1), args.seed);
            for c in &containers {
                conanchor_store::check_container_id(&c.container_instance_id)?;
            }
            let cfg = SyntheticConfig {
                containers,
                rate: args.rate,
                count_per_container: None,
                seed: args.seed ^ crate::util::now_ns(),
            };
            (
                Mode::Synthetic,
                banner,
                synthetic::spawn(cfg, tx, stop.clone()),
            )
        }
    };
    Ok(RunningSource {
        mode,
        banner,
        stop,
        thread,
    })
}

/// Reads an event JSONL (the seed's event format); sequence numbers are reassigned.
pub fn read_replay(file: &Path) -> Result<Vec<Event>> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("reading the replay file {}", file.display()))?;
    let mut events = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut ev: Event = serde_json::from_str(line).with_context(|| {
            format!(
                "{} line {}: not an event in the seed's JSON format",
                file.display(),
                i + 1
            )
        })?;
        conanchor_store::check_container_id(&ev.container_instance_id)
            .with_context(|| format!("{} line {}", file.display(), i + 1))?;
        ev.global_seq = 0;
        ev.container_seq = 0;
        events.push(ev);
    }
    Ok(events)
}

fn spawn_replay(
    events: Vec<Event>,
    rate: u64,
    tx: mpsc::Sender<SourceMsg>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let started = Instant::now();
        let mut sent = 0u64;
        for ev in events {
            loop {
                if stop.load(Ordering::Relaxed) {
                    return sent;
                }
                let due =
                    rate == 0 || (started.elapsed().as_secs_f64() * rate as f64) as u64 > sent;
                if due {
                    break;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            if tx.blocking_send(SourceMsg::Event(Box::new(ev))).is_err() {
                break;
            }
            sent += 1;
        }
        sent
    })
}
