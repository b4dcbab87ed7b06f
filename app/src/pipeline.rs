//! The pipeline: sources → bounded channel → the single store writer (sequence numbers,
//! leaf hashes, sealing, group commit) → outbox → anchorer.
//!
//! The writer runs on its own thread because SQLite calls block. Batches seal at the batch
//! size, after the batch interval since their first event, and on shutdown (when every
//! source has hung up: partial batches are flushed, nothing accepted is lost).

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use conanchor_ledger::anchorer::AnchorerHandle;
use conanchor_store::{Event, Store, Writer, WriterConfig};
use tokio::sync::mpsc;

use crate::util::now_ns;

/// What a source hands the pipeline.
#[derive(Debug, Clone)]
pub enum SourceMsg {
    /// An event without sequence numbers (the writer assigns them).
    Event(Box<Event>),
    /// Events the kernel dropped for a container; `template` names the container.
    Drops { template: Box<Event>, count: u64 },
}

/// What the pipeline shows an observer (the workstation): events as they are appended, batches
/// once their commit is durable.
#[derive(Debug, Clone)]
pub enum TapMsg {
    /// An appended event, with its sequence numbers (durable at the next group commit).
    Event(Box<Event>),
    /// A sealed (and committed) batch, now waiting in the outbox.
    Sealed(Box<conanchor_store::BatchHeader>),
}

#[derive(Debug, Clone)]
pub struct PipelineConfig {
    pub batch_size: usize,
    pub batch_interval: Duration,
    pub collector_id: String,
    /// Print each stored event as JSONL on stdout (the seed collector's output).
    pub print_events: bool,
    /// Human-readable progress on stderr.
    pub workflow_log: bool,
    /// Group commit: at most this many events per transaction …
    pub commit_every: usize,
    /// … and at most this long between commits.
    pub commit_interval: Duration,
    /// Optional observer. Sent with `try_send`: a slow observer misses messages (the
    /// store has them all) and never slows collection.
    pub tap: Option<mpsc::Sender<TapMsg>>,
}

impl PipelineConfig {
    pub fn new(batch_size: usize, batch_interval: Duration, collector_id: &str) -> PipelineConfig {
        PipelineConfig {
            batch_size,
            batch_interval,
            collector_id: collector_id.to_string(),
            print_events: false,
            workflow_log: false,
            commit_every: 8192,
            commit_interval: Duration::from_millis(50),
            tap: None,
        }
    }
}

/// Live counters, shared with status lines and the UI.
#[derive(Debug, Clone, Default)]
pub struct PipelineStats {
    pub events: u64,
    pub batches_sealed: u64,
    pub drops: u64,
    pub commits: u64,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct PipelineSummary {
    pub events: u64,
    pub batches_sealed: u64,
    pub drops: u64,
}

/// Runs the writer loop until every sender of `rx` is dropped, then flushes.
pub fn run(
    store: Store,
    cfg: PipelineConfig,
    mut rx: mpsc::Receiver<SourceMsg>,
    rt: tokio::runtime::Handle,
    anchorer: Option<AnchorerHandle>,
    stats: Arc<Mutex<PipelineStats>>,
) -> Result<PipelineSummary> {
    let mut writer = Writer::open(
        store,
        WriterConfig {
            batch_size: cfg.batch_size,
            collector_id: cfg.collector_id.clone(),
        },
    )
    .context("opening the evidence store for writing")?;
    let resumed = writer.open_counts().iter().map(|(_, n)| n).sum::<usize>();
    if cfg.workflow_log && (resumed > 0 || writer.next_global_seq() > 1) {
        eprintln!(
            "[workflow] resuming at global_seq {} with {resumed} unsealed events re-read from the store",
            writer.next_global_seq()
        );
    }
    // Lock stdout only when printing: the workstation draws on it from another thread.
    let mut out = cfg
        .print_events
        .then(|| std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock()));
    let mut summary = PipelineSummary::default();
    let mut last_commit = Instant::now();
    let tick = cfg
        .commit_interval
        .min(cfg.batch_interval)
        .max(Duration::from_millis(5));
    let mut open = true;
    while open {
        let first = rt.block_on(async { tokio::time::timeout(tick, rx.recv()).await });
        let mut msgs = Vec::new();
        match first {
            Ok(Some(m)) => msgs.push(m),
            Ok(None) => open = false,
            Err(_) => {}
        }
        while msgs.len() < cfg.commit_every {
            match rx.try_recv() {
                Ok(m) => msgs.push(m),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        for m in msgs {
            match m {
                SourceMsg::Event(ev) => {
                    let stored = writer.append(*ev)?;
                    if let Some(out) = out.as_mut() {
                        serde_json::to_writer(&mut *out, stored)?;
                        out.write_all(b"\n")?;
                    }
                    if let Some(tap) = &cfg.tap {
                        let _ = tap.try_send(TapMsg::Event(Box::new(stored.clone())));
                    }
                    summary.events += 1;
                }
                SourceMsg::Drops { template, count } => {
                    writer.add_drops(&template, count)?;
                    summary.drops += count;
                }
            }
        }
        let due = writer.uncommitted() >= cfg.commit_every
            || last_commit.elapsed() >= cfg.commit_interval
            || !open;
        if due {
            writer.seal_due(cfg.batch_interval);
            if !open {
                writer.seal_all();
            }
            commit(&mut writer, &cfg, &mut summary, &anchorer, &stats)?;
            if let Some(out) = out.as_mut() {
                out.flush()?;
            }
            last_commit = Instant::now();
        }
    }
    if let Some(out) = out.as_mut() {
        out.flush()?;
    }
    Ok(summary)
}

fn commit(
    writer: &mut Writer,
    cfg: &PipelineConfig,
    summary: &mut PipelineSummary,
    anchorer: &Option<AnchorerHandle>,
    stats: &Arc<Mutex<PipelineStats>>,
) -> Result<()> {
    let result = writer.commit(now_ns());
    let mut st = stats.lock().unwrap_or_else(|p| p.into_inner());
    let done = match result {
        Ok(done) => done,
        Err(e) => {
            // Nothing is dropped: the writer keeps the data and the next commit retries.
            st.last_error = Some(e.to_string());
            tracing::error!(error = %e, "commit failed; will retry");
            return Ok(());
        }
    };
    st.events = summary.events;
    st.drops = summary.drops;
    st.commits += 1;
    st.batches_sealed += done.batches as u64;
    st.last_error = None;
    drop(st);
    summary.batches_sealed += done.batches as u64;
    let sealed = writer.take_sealed();
    if let Some(tap) = &cfg.tap {
        for b in &sealed {
            let _ = tap.try_send(TapMsg::Sealed(Box::new(b.clone())));
        }
    }
    if cfg.workflow_log {
        for b in &sealed {
            eprintln!(
                "[workflow] sealed batch {} of {}: {} events (seq {}..={}), merkle_root {}, batch_hash {}",
                b.container_batch_id,
                b.container_instance_id,
                b.event_count,
                b.first_container_seq,
                b.last_container_seq,
                b.merkle_root.short(),
                b.container_batch_hash.short()
            );
        }
    }
    if done.batches > 0 {
        if let Some(a) = anchorer {
            a.kick();
        }
    }
    Ok(())
}
