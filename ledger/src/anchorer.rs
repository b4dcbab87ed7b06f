//! The anchorer drains the store's outbox onto a ledger: several batches per call, retry
//! with exponential backoff while the ledger is down, and never blocking collection.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use conanchor_store::{AnchoredItem, Store};
use tokio::sync::{watch, Notify};

use crate::{Ledger, LedgerError};

#[derive(Debug, Clone)]
pub struct AnchorerConfig {
    /// Batches handed to the ledger per call (per transaction on an EVM ledger).
    pub max_batches_per_call: usize,
    /// How often to look at the outbox when nobody signals new batches.
    pub idle_poll: Duration,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for AnchorerConfig {
    fn default() -> Self {
        AnchorerConfig {
            max_batches_per_call: 64,
            idle_poll: Duration::from_millis(500),
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(15),
        }
    }
}

/// What the anchorer has done, shared with status lines and the UI.
#[derive(Debug, Clone, Default)]
pub struct AnchorerStats {
    pub anchored: u64,
    pub calls: u64,
    pub failures: u64,
    pub consecutive_failures: u64,
    pub last_error: Option<String>,
    pub last_block_height: Option<u64>,
}

/// Handles to steer a running anchorer.
#[derive(Clone)]
pub struct AnchorerHandle {
    pub notify: Arc<Notify>,
    pub stats: Arc<Mutex<AnchorerStats>>,
    stop: watch::Sender<StopMode>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopMode {
    Run,
    /// Anchor what is pending, then stop (give up after the deadline).
    Drain,
    Now,
}

impl AnchorerHandle {
    /// Signals that new batches are in the outbox.
    pub fn kick(&self) {
        self.notify.notify_one();
    }

    /// Asks the anchorer to anchor what is pending and then stop.
    pub fn drain(&self) {
        let _ = self.stop.send(StopMode::Drain);
        self.notify.notify_one();
    }

    pub fn stop_now(&self) {
        let _ = self.stop.send(StopMode::Now);
        self.notify.notify_one();
    }

    pub fn stats(&self) -> AnchorerStats {
        self.stats
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Spawns the anchorer on the current tokio runtime. It opens its own connection to the
/// store in `data_dir`. The task ends after [`AnchorerHandle::drain`] once the outbox is
/// empty (or the ledger keeps failing), or at once after [`AnchorerHandle::stop_now`];
/// what is still pending stays durable in the outbox.
pub fn spawn(
    data_dir: PathBuf,
    ledger: Arc<dyn Ledger>,
    cfg: AnchorerConfig,
) -> (AnchorerHandle, tokio::task::JoinHandle<Result<(), String>>) {
    let (tx, rx) = watch::channel(StopMode::Run);
    let handle = AnchorerHandle {
        notify: Arc::new(Notify::new()),
        stats: Arc::new(Mutex::new(AnchorerStats::default())),
        stop: tx,
    };
    let h = handle.clone();
    let task = tokio::spawn(async move { run(data_dir, ledger, cfg, h, rx).await });
    (handle, task)
}

async fn blocking<T: Send + 'static>(
    store: &Arc<Mutex<Store>>,
    f: impl FnOnce(&mut Store) -> conanchor_store::Result<T> + Send + 'static,
) -> Result<T, String> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        let mut guard = store.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

async fn run(
    data_dir: PathBuf,
    ledger: Arc<dyn Ledger>,
    cfg: AnchorerConfig,
    handle: AnchorerHandle,
    mut stop: watch::Receiver<StopMode>,
) -> Result<(), String> {
    let store = {
        let dir = data_dir.clone();
        tokio::task::spawn_blocking(move || Store::create(&dir))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?
    };
    let store = Arc::new(Mutex::new(store));
    let mut backoff = cfg.initial_backoff;
    let mut drain_failures = 0u32;
    loop {
        let mode = *stop.borrow();
        if mode == StopMode::Now {
            return Ok(());
        }
        let limit = cfg.max_batches_per_call.max(1);
        let pending = blocking(&store, move |s| s.pending_anchor_batches(limit)).await?;
        if pending.is_empty() {
            if mode == StopMode::Drain {
                return Ok(());
            }
            tokio::select! {
                _ = handle.notify.notified() => {}
                _ = tokio::time::sleep(cfg.idle_poll) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        let result = ledger.anchor(&pending).await;
        let update = |f: &dyn Fn(&mut AnchorerStats)| {
            let mut stats = handle.stats.lock().unwrap_or_else(|p| p.into_inner());
            stats.calls += 1;
            f(&mut stats);
        };
        match result {
            Ok(receipts) => {
                update(&|stats| {
                    stats.anchored += receipts.len() as u64;
                    stats.consecutive_failures = 0;
                    stats.last_error = None;
                    stats.last_block_height = receipts.iter().map(|r| r.block_height).max();
                });
                let items: Vec<AnchoredItem> = receipts
                    .into_iter()
                    .map(|r| AnchoredItem {
                        container_instance_id: r.container_instance_id,
                        container_batch_id: r.container_batch_id,
                        tx_id: r.tx_id,
                        block_height: r.block_height,
                    })
                    .collect();
                blocking(&store, move |s| s.mark_anchored(&items, now_ns())).await?;
                backoff = cfg.initial_backoff;
            }
            Err(err) => {
                update(&|stats| {
                    stats.failures += 1;
                    stats.consecutive_failures += 1;
                    stats.last_error = Some(err.to_string());
                });
                tracing::warn!(error = %err, batches = pending.len(), "anchoring failed; batches stay in the outbox");
                let ids: Vec<(String, u64)> = pending
                    .iter()
                    .map(|b| (b.container_instance_id.clone(), b.container_batch_id))
                    .collect();
                let msg = err.to_string();
                blocking(&store, move |s| s.note_anchor_failure(&ids, &msg)).await?;
                if mode == StopMode::Drain {
                    drain_failures += 1;
                    if drain_failures >= 3 || !matches!(err, LedgerError::Unreachable { .. }) {
                        return Ok(());
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.changed() => {}
                }
                backoff = (backoff * 2).min(cfg.max_backoff);
            }
        }
    }
}
