//! An embedded collector: the writer thread, the anchorer and a channel for sources.
//! Used by `collect`, `generate`, `bench` and the workstation.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use conanchor_ledger::anchorer::{self, AnchorerConfig, AnchorerHandle, AnchorerStats};
use conanchor_ledger::Ledger;
use conanchor_store::Store;
use tokio::sync::mpsc;

use crate::pipeline::{self, PipelineConfig, PipelineStats, PipelineSummary, SourceMsg};

/// Capacity of the source → writer channel.
pub const CHANNEL_CAPACITY: usize = 65_536;

/// A running pipeline with its anchorer.
pub struct Collector {
    tx: Option<mpsc::Sender<SourceMsg>>,
    pipeline: std::thread::JoinHandle<Result<PipelineSummary>>,
    anchorer: AnchorerHandle,
    anchorer_task: tokio::task::JoinHandle<Result<(), String>>,
    workflow: Option<tokio::task::JoinHandle<()>>,
    stats: Arc<Mutex<PipelineStats>>,
    workflow_log: bool,
    checkpointer: Option<crate::checkpointer::Checkpointer>,
}

impl Collector {
    /// Opens the store in `data_dir` and starts the writer thread and the anchorer.
    pub async fn start(
        data_dir: &Path,
        ledger: Arc<dyn Ledger>,
        cfg: PipelineConfig,
    ) -> Result<Collector> {
        let mut store = Store::create(data_dir)?;
        let checkpointer = crate::checkpointer::Checkpointer::start(store.path());
        if checkpointer.is_some() {
            store
                .connection()
                .pragma_update(
                    None,
                    "wal_autocheckpoint",
                    crate::checkpointer::WRITER_AUTOCHECKPOINT_PAGES,
                )
                .context("configuring the store's WAL")?;
        }
        let (anchorer, anchorer_task) =
            anchorer::spawn(data_dir.to_path_buf(), ledger, AnchorerConfig::default());
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        let rt = tokio::runtime::Handle::current();
        let stats = Arc::new(Mutex::new(PipelineStats::default()));
        let a = anchorer.clone();
        let workflow_log = cfg.workflow_log;
        let st = stats.clone();
        let pipeline = std::thread::Builder::new()
            .name("conanchor-writer".into())
            .spawn(move || pipeline::run(store, cfg, rx, rt, Some(a), st))
            .context("starting the writer thread")?;
        let workflow = workflow_log.then(|| {
            let a = anchorer.clone();
            tokio::spawn(async move {
                let mut seen = 0;
                loop {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    let s = a.stats();
                    if s.anchored > seen {
                        eprintln!(
                            "[workflow] anchored {} batches (total {}) up to ledger height {}",
                            s.anchored - seen,
                            s.anchored,
                            s.last_block_height.unwrap_or(0)
                        );
                        seen = s.anchored;
                    }
                }
            })
        });
        Ok(Collector {
            tx: Some(tx),
            pipeline,
            anchorer,
            anchorer_task,
            workflow,
            stats,
            workflow_log,
            checkpointer,
        })
    }

    /// A sender for a source. The pipeline flushes and ends once every sender is dropped
    /// and [`Collector::finish`] is called.
    pub fn sender(&self) -> Result<mpsc::Sender<SourceMsg>> {
        self.tx.clone().context("the pipeline is closed")
    }

    pub fn pipeline_stats(&self) -> PipelineStats {
        self.stats
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    pub fn anchorer_stats(&self) -> AnchorerStats {
        self.anchorer.stats()
    }

    pub fn anchorer(&self) -> &AnchorerHandle {
        &self.anchorer
    }

    /// Waits for the pipeline to flush (seal partial batches, commit), then anchors what is
    /// pending (up to 60 s; what is left stays durable in the outbox for the next run).
    pub async fn finish(mut self) -> Result<PipelineSummary> {
        self.tx.take();
        let pipeline = self.pipeline;
        let summary = tokio::task::spawn_blocking(move || pipeline.join())
            .await?
            .map_err(|_| anyhow::anyhow!("the writer thread panicked"))??;
        self.anchorer.drain();
        match tokio::time::timeout(Duration::from_secs(60), self.anchorer_task).await {
            Ok(joined) => joined?.map_err(anyhow::Error::msg)?,
            Err(_) => self.anchorer.stop_now(),
        }
        if let Some(w) = self.workflow {
            w.abort();
        }
        drop(self.checkpointer.take());
        let a = self.anchorer.stats();
        if self.workflow_log {
            eprintln!(
                "[workflow] done: {} events stored, {} batches sealed, {} anchored{}",
                summary.events,
                summary.batches_sealed,
                a.anchored,
                a.last_error
                    .as_ref()
                    .map(|e| format!("; ledger error: {e} (pending batches stay in the outbox and are retried on the next run)"))
                    .unwrap_or_default()
            );
        }
        Ok(summary)
    }
}
