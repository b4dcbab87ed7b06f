//! `collect` (the seed's collector) and `generate` (synthetic evidence, no eBPF): both run the
//! same pipeline, writer and anchorer.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use conanchor_store::Store;

use crate::collector::Collector;
use crate::ledgers::LedgerArgs;
use crate::pipeline::PipelineConfig;
use crate::sources::live::{LiveArgs, LiveSource, LoadedProbe};
use crate::sources::synthetic::{self, SyntheticConfig, SyntheticContainer};
use crate::util::parse_duration;

const GENERATE_EXAMPLES: &str = "Examples:
  conanchor-tui generate --data-dir ./data --container-id demo-container --count 100 --batch-size 10
  conanchor-tui generate --data-dir ./data --containers 50 --count 2000 --batch-size 10 --workflow-log";

#[derive(Debug, Clone, Args)]
#[command(after_help = GENERATE_EXAMPLES)]
pub struct GenerateArgs {
    #[arg(long, default_value = "./data")]
    pub data_dir: PathBuf,
    /// Container id (with --containers K: the base name, suffixed -1..-K).
    #[arg(long, default_value = "demo-container")]
    pub container_id: String,
    /// Events per container.
    #[arg(long, default_value_t = 100)]
    pub count: u64,
    #[arg(long, default_value_t = 10)]
    pub batch_size: usize,
    /// Number of containers.
    #[arg(long, default_value_t = 1)]
    pub containers: usize,
    #[arg(long, default_value = "collector-1")]
    pub collector_id: String,
    /// Seed of the deterministic event mix.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Human-readable progress on stderr.
    #[arg(long)]
    pub workflow_log: bool,
    /// Start from an empty store: delete the data dir's conanchor.db and its mock chain first.
    #[arg(long)]
    pub fresh: bool,
    #[command(flatten)]
    pub ledger: LedgerArgs,
}

/// Removes the store and the mock chain of `data_dir` (only ConAnchor's own files).
fn remove_evidence(data_dir: &std::path::Path, ledger: &LedgerArgs) -> Result<()> {
    let mut files: Vec<PathBuf> = ["", "-wal", "-shm"]
        .iter()
        .map(|s| data_dir.join(format!("{}{s}", conanchor_store::DB_FILE)))
        .collect();
    if ledger.ledger_backend == crate::ledgers::Backend::Mock {
        files.push(ledger.mock_path(data_dir));
    }
    for f in files {
        match std::fs::remove_file(&f) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing {}", f.display())),
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SourceKind {
    /// Synthetic events (no eBPF).
    Synthetic,
    /// The eBPF probe (root).
    Live,
    /// Falco alerts (json_output): --input FILE|-, --follow, or --listen for http_output.
    Falco,
    /// Tetragon's JSON export: --input FILE|-, --follow.
    Tetragon,
}

const COLLECT_EXAMPLES: &str = "Examples:
  sudo conanchor-tui collect --data-dir ./data --batch-size 10 --collector-id collector-1 --workflow-log
  sudo collector --target-cgroup-id 123456789,987654321 --data-dir ./data --workflow-log
  sudo collector --attach-mode tracepoint --ring-buffer-bytes 4194304
  conanchor-tui collect --source synthetic --rate 200 --data-dir ./data --batch-size 10 --workflow-log
  conanchor-tui collect --source falco --input /var/log/falco/events.json --data-dir ./data
  conanchor-tui collect --source tetragon --input /var/run/cilium/tetragon/tetragon.log --follow
  conanchor-tui collect --source falco --listen 127.0.0.1:2801 --workflow-log
  falco -o json_output=true | conanchor-tui collect --source falco --input -
The live source (the default) needs root; it reports its attach mode on stderr at start.
Stop with Ctrl-C (SIGINT) or SIGTERM: partial batches are sealed and anchored before exit.";

#[derive(Debug, Clone, Args)]
#[command(after_help = COLLECT_EXAMPLES)]
pub struct CollectArgs {
    /// Where events come from: the eBPF probe (live, needs root) or generated events.
    /// Live is the default so that evidence is never silently made of synthetic events.
    #[arg(long, value_enum, default_value_t = SourceKind::Live)]
    pub source: SourceKind,
    /// Synthetic events per second over all containers (0 = as fast as possible).
    #[arg(long, default_value_t = 100)]
    pub rate: u64,
    /// Synthetic containers.
    #[arg(long, default_value_t = 3)]
    pub containers: usize,
    #[arg(long, default_value = "./data")]
    pub data_dir: PathBuf,
    #[arg(long, default_value_t = 10)]
    pub batch_size: usize,
    /// Seal a partial batch this long after its first event (e.g. 500ms, 5s, 1m).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub batch_interval: Duration,
    #[arg(long, default_value = "collector-1")]
    pub collector_id: String,
    /// Human-readable progress on stderr.
    #[arg(long)]
    pub workflow_log: bool,
    /// Do not print events on stdout.
    #[arg(long)]
    pub quiet: bool,
    /// Stop after this long (e.g. 30s); default: until SIGINT/SIGTERM.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    #[command(flatten)]
    pub live: LiveArgs,
    /// Seed of the synthetic event mix.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Falco/Tetragon: newline-delimited JSON file to read ("-" or absent: stdin).
    #[arg(long, value_name = "FILE|-")]
    pub input: Option<String>,
    /// Falco/Tetragon: keep following --input like `tail -F` (rotation, truncation) until
    /// SIGINT/SIGTERM.
    #[arg(long)]
    pub follow: bool,
    /// Falco: accept http_output / falcosidekick webhook POSTs on this address.
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<String>,
    #[command(flatten)]
    pub ledger: LedgerArgs,
}

pub async fn generate(args: GenerateArgs) -> Result<()> {
    if args.batch_size == 0 {
        bail!("--batch-size must be at least 1");
    }
    if args.fresh {
        remove_evidence(&args.data_dir, &args.ledger)?;
    }
    let mut cfg = PipelineConfig::new(
        args.batch_size,
        Duration::from_secs(3600),
        &args.collector_id,
    );
    cfg.workflow_log = args.workflow_log;
    let running =
        Collector::start(&args.data_dir, args.ledger.open(&args.data_dir).await?, cfg).await?;
    let containers = SyntheticContainer::named(&args.container_id, args.containers);
    for c in &containers {
        conanchor_store::check_container_id(&c.container_instance_id)?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let tx = running.sender()?;
    let source = synthetic::spawn(
        SyntheticConfig {
            containers,
            rate: 0,
            count_per_container: Some(args.count),
            seed: args.seed,
        },
        tx,
        stop.clone(),
    );
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stop.store(true, Ordering::Relaxed);
        }
    });
    let sent = tokio::task::spawn_blocking(move || source.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the synthetic source panicked"))?;
    ctrl_c.abort();
    let summary = running.finish().await?;
    eprintln!(
        "generated {sent} events in {} batches into {}",
        summary.batches_sealed,
        args.data_dir.display()
    );
    Ok(())
}

pub async fn collect(args: CollectArgs) -> Result<()> {
    if args.batch_size == 0 {
        bail!("--batch-size must be at least 1");
    }
    let mut cfg = PipelineConfig::new(args.batch_size, args.batch_interval, &args.collector_id);
    cfg.workflow_log = args.workflow_log;
    cfg.print_events = !args.quiet;
    if matches!(args.source, SourceKind::Falco | SourceKind::Tetragon) {
        return collect_external(args, cfg).await;
    }
    if args.input.is_some() || args.follow || args.listen.is_some() {
        bail!("--input, --follow and --listen are for --source falco or tetragon");
    }
    // bad ledger flags fail before the probe loads; the probe loads before the store
    // opens: without root or BPF nothing is created
    args.ledger.check()?;
    let probe =
        match args.source {
            SourceKind::Live => Some(LoadedProbe::load(args.live.probe_config()?).await.context(
                "cannot start the live eBPF source (--source synthetic runs without it)",
            )?),
            _ => None,
        };
    let running =
        Collector::start(&args.data_dir, args.ledger.open(&args.data_dir).await?, cfg).await?;
    if args.workflow_log {
        eprintln!(
            "[workflow] collecting from the {:?} source into {} (batch size {}, interval {:?}, ledger {:?})",
            args.source,
            args.data_dir.display(),
            args.batch_size,
            args.batch_interval,
            args.ledger.ledger_backend
        );
    }
    let tx = running.sender()?;
    let source = match probe {
        Some(probe) => {
            let live = probe.start(tx)?;
            // always said, so users and scripts know which programs run
            eprintln!("{}", live.status_line());
            Source::Live(live)
        }
        None => {
            let containers = SyntheticContainer::kubernetes_like(args.containers, args.seed);
            let stop = Arc::new(AtomicBool::new(false));
            let thread = synthetic::spawn(
                SyntheticConfig {
                    containers,
                    rate: args.rate,
                    count_per_container: None,
                    seed: args.seed ^ crate::util::now_ns(),
                },
                tx,
                stop.clone(),
            );
            Source::Synthetic { stop, thread }
        }
    };
    wait_for_stop(args.duration).await?;
    if args.workflow_log {
        eprintln!("[workflow] stopping: flushing partial batches and anchoring what is pending");
    }
    match source {
        Source::Live(live) => {
            let s = live.stop().await?;
            if args.workflow_log {
                eprintln!(
                    "[workflow] probe detached: {} events forwarded, {} dropped by the kernel",
                    s.events, s.drops
                );
            }
        }
        Source::Synthetic { stop, thread } => {
            stop.store(true, Ordering::Relaxed);
            tokio::task::spawn_blocking(move || thread.join())
                .await?
                .map_err(|_| anyhow::anyhow!("the synthetic source panicked"))?;
        }
    }
    running.finish().await?;
    Ok(())
}

/// The running source of `collect`.
enum Source {
    Live(LiveSource),
    Synthetic {
        stop: Arc<AtomicBool>,
        thread: std::thread::JoinHandle<u64>,
    },
}

/// `collect --source falco|tetragon`: flags are checked and the input opened before the
/// store is touched.
async fn collect_external(args: CollectArgs, cfg: PipelineConfig) -> Result<()> {
    use crate::sources::ingest::{self, Format, IngestOptions};
    let format = if args.source == SourceKind::Falco {
        Format::Falco
    } else {
        Format::Tetragon
    };
    let input = ingest::prepare(
        format,
        args.input.as_deref(),
        args.follow,
        args.listen.as_deref(),
    )?;
    let running =
        Collector::start(&args.data_dir, args.ledger.open(&args.data_dir).await?, cfg).await?;
    if args.workflow_log {
        eprintln!(
            "[workflow] collecting {} events from {input} into {} (batch size {}, interval {:?}, ledger {:?})",
            format.name(),
            args.data_dir.display(),
            args.batch_size,
            args.batch_interval,
            args.ledger.ledger_backend
        );
    }
    let opts = IngestOptions {
        format,
        input,
        workflow_log: args.workflow_log,
        duration: args.duration,
    };
    ingest::run(opts, running).await?;
    Ok(())
}

/// Returns on SIGINT, SIGTERM or after `duration`.
pub(crate) async fn wait_for_stop(duration: Option<Duration>) -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let sleep = async {
        match duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
        _ = sleep => {}
    }
    Ok(())
}

/// Waits until the outbox of `dir` is empty (used by bench and tests after a drain).
pub async fn wait_anchored(dir: &std::path::Path) -> Result<()> {
    let store = Store::open_existing(dir)?;
    let pending = store.stats()?.pending_anchors;
    anyhow::ensure!(pending == 0, "{pending} batches were not anchored");
    Ok(())
}
