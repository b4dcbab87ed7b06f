//! The running probe: the ring buffer drain task and the drop counters.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aya::maps::{HashMap as BpfHashMap, MapData, RingBuf};
use aya::Ebpf;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::config::ActiveMode;
use crate::error::one_line;
use crate::events::{boot_to_unix_offset_ns, decode, RawEvent};
use crate::loader::{describe_mode, missing_map, Probe};
use crate::ProbeError;

/// After `stop`, how long the final drain may wait for a full channel before the
/// events still in the ring buffer are counted as dropped.
const FINAL_DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// Events lost in user space, per cgroup: undecodable records (cgroup 0) and records
/// still undelivered when the probe stopped.
type UserLosses = Arc<Mutex<HashMap<u64, u64>>>;

impl Probe {
    /// Starts delivering events: spawns, on the current tokio runtime, the task that
    /// drains the ring buffer into `tx`. When `tx` is full the task waits; the ring
    /// buffer then fills and the kernel counts what it cannot write as drops (see
    /// [`ProbeHandle::take_drops`]): nothing is lost silently.
    pub fn start(mut self, tx: mpsc::Sender<RawEvent>) -> Result<ProbeHandle, ProbeError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ProbeError::NoRuntime)?;
        let ring_map = self
            .ebpf
            .take_map("events")
            .ok_or_else(|| missing_map("events"))?;
        let ring = RingBuf::try_from(ring_map).map_err(|e| ProbeError::Map {
            map: "events",
            reason: one_line(&e),
        })?;
        let drops_map = self
            .ebpf
            .take_map("drops")
            .ok_or_else(|| missing_map("drops"))?;
        let drops: BpfHashMap<MapData, u64, u64> =
            BpfHashMap::try_from(drops_map).map_err(|e| ProbeError::Map {
                map: "drops",
                reason: one_line(&e),
            })?;
        let ring = {
            let _guard = runtime.enter();
            // SAFETY: the RingBuf owns the map's file descriptor and keeps it open, and
            // its as_raw_fd always returns that same descriptor, for as long as the
            // AsyncFd owns the RingBuf.
            unsafe { AsyncFd::register_with_interest(ring, Interest::READABLE) }.map_err(|e| {
                ProbeError::Map {
                    map: "events",
                    reason: format!("cannot register the ring buffer with tokio: {e}"),
                }
            })?
        };
        let losses = UserLosses::default();
        let (stop_tx, stop_rx) = oneshot::channel();
        let task = runtime.spawn(drain(ring, tx, stop_rx, losses.clone()));
        tracing::debug!(capacity = self.channel_capacity, "probe drain task started");
        Ok(ProbeHandle {
            mode: self.mode,
            fallback_reason: self.fallback_reason.take(),
            _ebpf: self.ebpf,
            drops: Mutex::new(DropCounter {
                map: drops,
                seen: HashMap::new(),
            }),
            losses,
            stop: Some(stop_tx),
            task: Some(task),
        })
    }
}

/// A started probe. Dropping it detaches the programs and ends the drain task
/// (prefer [`ProbeHandle::stop`], which also returns the last drop counts).
pub struct ProbeHandle {
    mode: ActiveMode,
    fallback_reason: Option<String>,
    /// Keeps the programs attached; dropped last.
    _ebpf: Ebpf,
    drops: Mutex<DropCounter>,
    losses: UserLosses,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for ProbeHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProbeHandle")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

struct DropCounter {
    map: BpfHashMap<MapData, u64, u64>,
    /// kernel totals already reported, per cgroup
    seen: HashMap<u64, u64>,
}

impl ProbeHandle {
    /// The programs attached.
    pub fn mode(&self) -> ActiveMode {
        self.mode
    }

    /// Why `auto` did not use LSM, when it fell back to tracepoints.
    pub fn fallback_reason(&self) -> Option<&str> {
        self.fallback_reason.as_deref()
    }

    /// One line for logs and status, e.g. `attach mode: tracepoint (auto fell back ...)`.
    pub fn mode_description(&self) -> String {
        describe_mode(self.mode, self.fallback_reason.as_deref())
    }

    /// Events lost since the previous call, per cgroup id, sorted by cgroup id, zero
    /// counts left out. Counts the kernel's ring buffer write failures and events lost
    /// in user space; cgroup 0 holds losses that cannot be attributed to a cgroup.
    pub fn take_drops(&self) -> Vec<(u64, u64)> {
        let mut deltas: HashMap<u64, u64> = HashMap::new();
        {
            let mut counter = self.drops.lock().unwrap_or_else(PoisonError::into_inner);
            let mut totals = Vec::new();
            for entry in counter.map.iter() {
                match entry {
                    Ok((cgroup, total)) => totals.push((cgroup, total)),
                    Err(e) => tracing::warn!(error = %one_line(&e), "reading the drop counters"),
                }
            }
            for (cgroup, total) in totals {
                let seen = counter.seen.entry(cgroup).or_insert(0);
                if total > *seen {
                    *deltas.entry(cgroup).or_insert(0) += total - *seen;
                    *seen = total;
                }
            }
        }
        let mut losses = self.losses.lock().unwrap_or_else(PoisonError::into_inner);
        for (cgroup, n) in losses.drain() {
            *deltas.entry(cgroup).or_insert(0) += n;
        }
        let mut out: Vec<(u64, u64)> = deltas.into_iter().filter(|&(_, n)| n > 0).collect();
        out.sort_unstable();
        out
    }

    /// Stops the probe: the drain task delivers what is left in the ring buffer (for at
    /// most 2 s if the channel stays full), the programs are detached, and the sender
    /// is dropped so the receiver ends. Returns the drops not yet taken, including any
    /// event that could not be delivered in time.
    pub async fn stop(mut self) -> Vec<(u64, u64)> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "probe drain task failed");
            }
        }
        self.take_drops()
    }
}

impl Drop for ProbeHandle {
    fn drop(&mut self) {
        // the task sees the closed stop channel, drains and ends
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Takes the next decodable event out of the ring buffer.
fn next_event(ring: &mut RingBuf<MapData>, offset: i128, losses: &UserLosses) -> Option<RawEvent> {
    loop {
        let item = ring.next()?;
        let decoded = decode(&item, offset);
        drop(item);
        match decoded {
            Ok(ev) => return Some(ev),
            Err(e) => {
                tracing::warn!(error = %e, "undecodable ring buffer record (counted as a drop of cgroup 0)");
                count_loss(losses, 0);
            }
        }
    }
}

fn count_loss(losses: &UserLosses, cgroup: u64) {
    let mut l = losses.lock().unwrap_or_else(PoisonError::into_inner);
    *l.entry(cgroup).or_insert(0) += 1;
}

async fn drain(
    mut ring: AsyncFd<RingBuf<MapData>>,
    tx: mpsc::Sender<RawEvent>,
    mut stop: oneshot::Receiver<()>,
    losses: UserLosses,
) {
    loop {
        let mut guard = tokio::select! {
            biased;
            _ = &mut stop => break,
            () = tx.closed() => return,
            ready = ring.readable_mut() => match ready {
                Ok(guard) => guard,
                Err(e) => {
                    tracing::error!(error = %e, "ring buffer poll failed; probe stops delivering");
                    return;
                }
            },
        };
        // wall clock minus boot clock, read per wake-up so clock steps are followed
        let offset = boot_to_unix_offset_ns();
        while let Some(ev) = next_event(guard.get_inner_mut(), offset, &losses) {
            tokio::select! {
                biased;
                permit = tx.reserve() => match permit {
                    Ok(permit) => permit.send(ev),
                    Err(_) => return,
                },
                _ = &mut stop => {
                    // stopping while the consumer is stalled: this event goes to the final drain
                    final_drain(guard.get_inner_mut(), Some(ev), &tx, &losses).await;
                    return;
                }
            }
        }
        guard.clear_ready();
    }
    final_drain(ring.get_mut(), None, &tx, &losses).await;
}

/// Delivers what is left in the ring buffer; what cannot be delivered within
/// FINAL_DRAIN_TIMEOUT is counted as dropped for its cgroup.
async fn final_drain(
    ring: &mut RingBuf<MapData>,
    pending: Option<RawEvent>,
    tx: &mpsc::Sender<RawEvent>,
    losses: &UserLosses,
) {
    let deadline = tokio::time::Instant::now() + FINAL_DRAIN_TIMEOUT;
    let offset = boot_to_unix_offset_ns();
    let mut next = pending.or_else(|| next_event(ring, offset, losses));
    let mut undelivered = 0u64;
    while let Some(ev) = next {
        let cgroup = ev.cgroup_id;
        match tokio::time::timeout_at(deadline, tx.send(ev)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => {
                count_loss(losses, cgroup);
                undelivered += 1;
            }
        }
        next = next_event(ring, offset, losses);
    }
    if undelivered > 0 {
        tracing::warn!(
            undelivered,
            "events left undelivered at stop (counted as drops)"
        );
    }
}
