//! The workstation's flags (`conanchor-tui` with no subcommand) and its event sources.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use conanchor_probe::ActiveMode;
use conanchor_store::Event;
use tokio::sync::mpsc;

use super::app::Mode;
use crate::ledgers::LedgerArgs;
use crate::pipeline::SourceMsg;
use crate::sources::follow;
use crate::sources::ingest::{self, Format};
use crate::sources::live::{LiveArgs, LiveSource, LoadedProbe};
use crate::sources::synthetic::{self, SyntheticConfig, SyntheticContainer};
use crate::util::parse_duration;

#[derive(Debug, Clone, Args)]
pub struct TuiArgs {
    /// Evidence directory (conanchor.db, ledger/mock_chain.jsonl, conanchor-tui.log).
    #[arg(long, default_value = "./data")]
    pub data_dir: PathBuf,
    /// Event source: live (the eBPF probe; needs root), synthetic, `replay FILE` (an event
    /// JSONL in the seed's format), or `falco FILE` / `tetragon FILE` (their JSON lines,
    /// followed like `tail -F`). Default: live when root and the probe loads, otherwise
    /// synthetic with a banner saying why. An explicit `--source live` fails instead.
    #[arg(long, num_args = 1..=2, value_names = ["KIND", "FILE"])]
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
    #[command(flatten)]
    pub live: LiveArgs,
}

/// The parsed `--source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceChoice {
    /// No `--source`: live if possible, else synthetic with a banner.
    Auto,
    Live,
    Synthetic,
    Replay(PathBuf),
    Ingest(Format, PathBuf),
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
            [] => Ok(SourceChoice::Auto),
            ["live"] => Ok(SourceChoice::Live),
            ["synthetic"] => Ok(SourceChoice::Synthetic),
            ["replay", file] => Ok(SourceChoice::Replay(PathBuf::from(file))),
            ["replay"] => bail!("--source replay needs a file: --source replay events.jsonl"),
            ["falco", file] => Ok(SourceChoice::Ingest(Format::Falco, PathBuf::from(file))),
            ["tetragon", file] => Ok(SourceChoice::Ingest(Format::Tetragon, PathBuf::from(file))),
            [kind @ ("falco" | "tetragon")] => {
                bail!("--source {kind} needs its JSON lines file: --source {kind} events.json")
            }
            other => bail!(
                "unknown --source {:?}: use live, synthetic, `replay FILE`, `falco FILE` or `tetragon FILE`",
                other.join(" ")
            ),
        }
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The source, made ready before the store opens: the probe loaded and attached, or the
/// replay file read.
pub enum PreparedSource {
    Live(LoadedProbe),
    Synthetic {
        banner: Option<String>,
    },
    Replay {
        label: String,
        events: Vec<Event>,
    },
    Ingest {
        format: Format,
        label: String,
        input: ingest::Input,
    },
}

/// Loads the probe (live), reads the replay file, or explains the fallback to synthetic.
pub async fn prepare_source(args: &TuiArgs) -> Result<PreparedSource> {
    let choice = args.source_choice()?;
    let fallback = |why: String| PreparedSource::Synthetic {
        banner: Some(format!(
            "live probe unavailable: {why} — showing synthetic events"
        )),
    };
    match choice {
        SourceChoice::Synthetic => Ok(PreparedSource::Synthetic { banner: None }),
        SourceChoice::Replay(file) => Ok(PreparedSource::Replay {
            label: file.display().to_string(),
            events: read_replay(&file)?,
        }),
        SourceChoice::Ingest(format, file) => Ok(PreparedSource::Ingest {
            format,
            label: format!("{} {}", format.name(), file.display()),
            input: ingest::prepare(format, file.to_str(), true, None)?,
        }),
        SourceChoice::Auto if !is_root() => Ok(fallback(
            "not running as root (try `sudo conanchor-tui`)".into(),
        )),
        SourceChoice::Live if !is_root() => {
            bail!("--source live needs root (try `sudo conanchor-tui --source live`; --source synthetic runs without it)")
        }
        SourceChoice::Auto | SourceChoice::Live => {
            let loaded = LoadedProbe::load(args.live.probe_config()?).await;
            match (loaded, choice) {
                (Ok(p), _) => Ok(PreparedSource::Live(p)),
                (Err(e), SourceChoice::Auto) => {
                    tracing::warn!(error = %crate::one_line(&e), "live probe unavailable");
                    Ok(fallback(crate::one_line(&e)))
                }
                (Err(e), _) => Err(e.context("cannot start the live eBPF source")),
            }
        }
    }
}

enum Stopper {
    Thread {
        stop: Arc<AtomicBool>,
        thread: std::thread::JoinHandle<u64>,
    },
    Live(LiveSource),
}

/// A running source; [`RunningSource::stop`] ends it.
pub struct RunningSource {
    pub mode: Mode,
    pub banner: Option<String>,
    stopper: Stopper,
}

impl RunningSource {
    /// Stops the source and waits for it (the live probe delivers what is left in its ring
    /// buffer first); returns the events it sent.
    pub async fn stop(self) -> Result<u64> {
        match self.stopper {
            Stopper::Thread { stop, thread } => {
                stop.store(true, Ordering::Relaxed);
                tokio::task::spawn_blocking(move || thread.join())
                    .await?
                    .map_err(|_| anyhow::anyhow!("the event source panicked"))
            }
            Stopper::Live(live) => Ok(live.stop().await?.events),
        }
    }
}

/// Starts a prepared source into `tx`. Call from a tokio runtime.
pub fn start_source(
    args: &TuiArgs,
    prepared: PreparedSource,
    tx: mpsc::Sender<SourceMsg>,
) -> Result<RunningSource> {
    let stop = Arc::new(AtomicBool::new(false));
    let (mode, banner, stopper) = match prepared {
        PreparedSource::Live(probe) => {
            let live = probe.start(tx)?;
            tracing::info!("{}", live.status_line());
            let mode = match live.mode() {
                ActiveMode::Lsm => Mode::LiveLsm,
                ActiveMode::Tracepoint => Mode::LiveTracepoint,
            };
            (mode, None, Stopper::Live(live))
        }
        PreparedSource::Replay { label, events } => {
            let thread = spawn_replay(events, args.rate, tx, stop.clone());
            (Mode::Replay(label), None, Stopper::Thread { stop, thread })
        }
        PreparedSource::Ingest {
            format,
            label,
            input,
        } => {
            let thread = spawn_ingest(format, input, tx, stop.clone())?;
            (Mode::Ingest(label), None, Stopper::Thread { stop, thread })
        }
        PreparedSource::Synthetic { banner } => {
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
            let thread = synthetic::spawn(cfg, tx, stop.clone());
            (Mode::Synthetic, banner, Stopper::Thread { stop, thread })
        }
    };
    Ok(RunningSource {
        mode,
        banner,
        stopper,
    })
}

/// Follows a Falco/Tetragon file into the pipeline; rejected lines go to the log file.
fn spawn_ingest(
    format: Format,
    input: ingest::Input,
    tx: mpsc::Sender<SourceMsg>,
    stop: Arc<AtomicBool>,
) -> Result<std::thread::JoinHandle<u64>> {
    let ingest::Input::File { path, .. } = input else {
        bail!("the workstation follows a file: --source falco FILE");
    };
    let counts = Arc::new(ingest::IngestCounts::default());
    let mut sink = ingest::LineSink::new(format, tx, counts.clone(), false);
    std::thread::Builder::new()
        .name("conanchor-ingest".into())
        .spawn(move || {
            if let Err(e) = follow::follow(&path, &mut sink, &stop, follow::POLL, false) {
                tracing::warn!(error = %e, "following {} stopped", path.display());
            }
            tracing::info!("{}: {}", path.display(), counts.summary());
            counts.ingested()
        })
        .context("starting the ingest thread")
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        tui: TuiArgs,
    }

    fn choice(args: &[&str]) -> Result<SourceChoice> {
        let argv = std::iter::once("conanchor-tui").chain(args.iter().copied());
        Cli::try_parse_from(argv)?.tui.source_choice()
    }

    #[test]
    fn sources_parse() {
        assert_eq!(choice(&[]).unwrap(), SourceChoice::Auto);
        assert_eq!(choice(&["--source", "live"]).unwrap(), SourceChoice::Live);
        assert_eq!(
            choice(&["--source", "synthetic"]).unwrap(),
            SourceChoice::Synthetic
        );
        assert_eq!(
            choice(&["--source", "replay", "ev.jsonl", "--rate", "0"]).unwrap(),
            SourceChoice::Replay(PathBuf::from("ev.jsonl"))
        );
        let e = choice(&["--source", "replay"]).unwrap_err().to_string();
        assert!(e.contains("needs a file"), "{e}");
        let e = choice(&["--source", "kernel"]).unwrap_err().to_string();
        assert!(e.contains("unknown --source"), "{e}");
    }

    #[tokio::test]
    async fn a_missing_replay_file_is_named() {
        let cli =
            Cli::try_parse_from(["x", "--source", "replay", "/nonexistent/ev.jsonl"]).unwrap();
        let e = prepare_source(&cli.tui).await.err().unwrap();
        assert!(format!("{e:#}").contains("/nonexistent/ev.jsonl"), "{e:#}");
    }

    #[test]
    fn falco_and_tetragon_sources_take_a_file() {
        assert_eq!(
            choice(&["--source", "falco", "events.json"]).unwrap(),
            SourceChoice::Ingest(Format::Falco, PathBuf::from("events.json"))
        );
        assert_eq!(
            choice(&["--source", "tetragon", "tetragon.log"]).unwrap(),
            SourceChoice::Ingest(Format::Tetragon, PathBuf::from("tetragon.log"))
        );
        let e = choice(&["--source", "falco"]).unwrap_err().to_string();
        assert!(e.contains("needs its JSON lines file"), "{e}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_ingest_source_follows_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("falco.json");
        std::fs::write(
            &file,
            "{\"rule\":\"r\",\"priority\":\"Notice\",\"time\":\"2024-03-09T16:00:00Z\"}\n",
        )
        .unwrap();
        let args =
            Cli::try_parse_from(["conanchor-tui", "--source", "falco", file.to_str().unwrap()])
                .unwrap()
                .tui;
        let prepared = prepare_source(&args).await.unwrap();
        let (tx, mut rx) = mpsc::channel(16);
        let src = start_source(&args, prepared, tx).unwrap();
        assert!(matches!(&src.mode, Mode::Ingest(l) if l.starts_with("Falco ")));
        assert!(matches!(rx.recv().await, Some(SourceMsg::Event(_))));
        drop(rx);
        assert_eq!(src.stop().await.unwrap(), 1);
        let missing =
            Cli::try_parse_from(["conanchor-tui", "--source", "tetragon", "/nonexistent"])
                .unwrap()
                .tui;
        assert!(prepare_source(&missing).await.is_err());
    }
}
