//! The live source: the eBPF probe's events, resolved to containers and classified, into
//! the pipeline; the kernel's per-cgroup drop counts attributed to those containers' open
//! batches (`dropped_event_count`), so loss is anchored evidence too.
//!
//! ```text
//! kernel ring buffer ─▶ probe drain task ─▶ RawEvent channel ─▶ forward task ─▶ SourceMsg
//!                           drop counters ◀── every 100 ms ──┘
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use conanchor_probe::{
    classify, parse_cgroup_ids, ActiveMode, AttachMode, ContainerIdentity, ContainerResolver,
    Probe, ProbeConfig, ProbeHandle, RawEvent, HOST_OR_UNKNOWN, TARGET_CGROUP_ENV,
};
use conanchor_store::{Event, Hash32};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::pipeline::SourceMsg;

/// How often the kernel's drop counters are read and handed to the pipeline.
pub const DROP_POLL: Duration = Duration::from_millis(100);

/// Capacity of the probe → forward task channel.
const RAW_CHANNEL: usize = 4096;

/// The live source's flags (shared by `collect`, the `collector` bin and the workstation).
#[derive(Debug, Clone, Args)]
pub struct LiveArgs {
    /// Which BPF programs to attach: auto (LSM when the kernel has BPF LSM active and
    /// accepts the programs, else tp_btf tracepoints), lsm (fail without it), tracepoint.
    #[arg(long, default_value = "auto", value_parser = parse_attach_mode)]
    pub attach_mode: AttachMode,
    /// Only these cgroup v2 ids (the inode of the cgroup directory), comma-separated;
    /// default: all cgroups.
    #[arg(long, env = TARGET_CGROUP_ENV)]
    pub target_cgroup_id: Option<String>,
    /// Kernel ring buffer size in bytes (a power of two, at least one page; each event
    /// takes 496 bytes).
    #[arg(long, default_value_t = 1 << 20)]
    pub ring_buffer_bytes: u32,
}

impl Default for LiveArgs {
    fn default() -> LiveArgs {
        LiveArgs {
            attach_mode: AttachMode::Auto,
            target_cgroup_id: None,
            ring_buffer_bytes: 1 << 20,
        }
    }
}

fn parse_attach_mode(s: &str) -> Result<AttachMode, String> {
    s.parse()
        .map_err(|e: conanchor_probe::ProbeError| e.to_string())
}

impl LiveArgs {
    /// The probe configuration these flags describe.
    pub fn probe_config(&self) -> Result<ProbeConfig> {
        let target_cgroup_ids = match &self.target_cgroup_id {
            Some(s) => parse_cgroup_ids(s).context("--target-cgroup-id")?,
            None => Vec::new(),
        };
        let cfg = ProbeConfig {
            attach_mode: self.attach_mode,
            target_cgroup_ids,
            ring_buffer_bytes: self.ring_buffer_bytes,
            ..ProbeConfig::default()
        };
        cfg.validate().context("--ring-buffer-bytes")?;
        Ok(cfg)
    }
}

/// What the live source has forwarded so far (for status lines).
#[derive(Debug, Default)]
pub struct LiveCounters {
    pub events: AtomicU64,
    pub drops: AtomicU64,
}

/// What the live source did, once stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveSummary {
    pub events: u64,
    pub drops: u64,
}

/// A running live source.
pub struct LiveSource {
    mode: ActiveMode,
    mode_description: String,
    targets: Vec<u64>,
    counters: Arc<LiveCounters>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<LiveSummary>,
}

impl std::fmt::Debug for LiveSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSource")
            .field("mode", &self.mode)
            .field("targets", &self.targets)
            .finish_non_exhaustive()
    }
}

/// The probe loaded and attached (events wait in the ring buffer), not yet forwarding.
#[derive(Debug)]
pub struct LoadedProbe {
    probe: Probe,
    targets: Vec<u64>,
}

impl LoadedProbe {
    /// Loads and attaches the probe. Needs root and BPF; the error names the cause.
    pub async fn load(cfg: ProbeConfig) -> Result<LoadedProbe> {
        let targets = cfg.target_cgroup_ids.clone();
        // loading runs the BPF verifier: keep it off the async workers
        let probe = tokio::task::spawn_blocking(move || Probe::load(&cfg))
            .await
            .context("loading the probe")??;
        Ok(LoadedProbe { probe, targets })
    }

    /// One line for logs: the mode chosen.
    pub fn mode_description(&self) -> String {
        self.probe.mode_description()
    }

    /// Starts forwarding events and drops into `tx`. Call from a tokio runtime.
    pub fn start(self, tx: mpsc::Sender<SourceMsg>) -> Result<LiveSource> {
        let (raw_tx, raw_rx) = mpsc::channel(RAW_CHANNEL);
        let handle = self.probe.start(raw_tx)?;
        let mode = handle.mode();
        let mode_description = handle.mode_description();
        let counters = Arc::new(LiveCounters::default());
        let (stop_tx, stop_rx) = oneshot::channel();
        let task = tokio::spawn(forward(handle, raw_rx, tx, stop_rx, counters.clone()));
        Ok(LiveSource {
            mode,
            mode_description,
            targets: self.targets,
            counters,
            stop: Some(stop_tx),
            task,
        })
    }
}

impl LiveSource {
    /// Loads the probe and starts forwarding into `tx` ([`LoadedProbe::load`] then
    /// [`LoadedProbe::start`]).
    pub async fn start(cfg: ProbeConfig, tx: mpsc::Sender<SourceMsg>) -> Result<LiveSource> {
        LoadedProbe::load(cfg).await?.start(tx)
    }

    /// The programs attached.
    pub fn mode(&self) -> ActiveMode {
        self.mode
    }

    /// One line for logs and status, e.g. `attach mode: tracepoint (auto fell back ...)`.
    pub fn mode_description(&self) -> &str {
        &self.mode_description
    }

    /// The target cgroup ids (empty = all cgroups).
    pub fn targets(&self) -> &[u64] {
        &self.targets
    }

    /// One line for stderr: the mode and what is watched.
    pub fn status_line(&self) -> String {
        let targets = if self.targets.is_empty() {
            "all cgroups".to_string()
        } else {
            let ids: Vec<String> = self.targets.iter().map(u64::to_string).collect();
            format!("cgroup ids {}", ids.join(","))
        };
        format!(
            "[probe] {}; watching {targets}",
            self.mode_description.replace('\n', " ")
        )
    }

    /// Live counters of forwarded events and drops.
    pub fn counters(&self) -> Arc<LiveCounters> {
        self.counters.clone()
    }

    /// Detaches the probe after delivering what is left in the ring buffer, hands the
    /// last drop counts to the pipeline, and returns the totals.
    pub async fn stop(mut self) -> Result<LiveSummary> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await.context("the live source task failed")
    }
}

/// Turns probe output into pipeline messages until stopped or the pipeline hangs up.
async fn forward(
    handle: ProbeHandle,
    mut raw_rx: mpsc::Receiver<RawEvent>,
    tx: mpsc::Sender<SourceMsg>,
    mut stop: oneshot::Receiver<()>,
    counters: Arc<LiveCounters>,
) -> LiveSummary {
    let mut conv = Converter::default();
    let mut tick = tokio::time::interval(DROP_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut open = true;
    while open {
        tokio::select! {
            _ = &mut stop => break,
            raw = raw_rx.recv() => match raw {
                Some(raw) => open = send_event(&mut conv, &raw, &tx, &counters).await,
                None => {
                    tracing::error!("the probe stopped delivering events");
                    break;
                }
            },
            _ = tick.tick() => {
                let drops = handle.take_drops();
                open = send_drops(&mut conv, &drops, &tx, &counters).await;
            }
        }
    }
    // The probe's final drain sends into raw_rx while we keep receiving; its sender is
    // dropped when the drain ends, which ends the loop below.
    let receive_rest = async {
        while let Some(raw) = raw_rx.recv().await {
            if open {
                open = send_event(&mut conv, &raw, &tx, &counters).await;
            }
        }
        open
    };
    let (final_drops, open) = tokio::join!(handle.stop(), receive_rest);
    if open {
        send_drops(&mut conv, &final_drops, &tx, &counters).await;
    }
    LiveSummary {
        events: counters.events.load(Ordering::Relaxed),
        drops: counters.drops.load(Ordering::Relaxed),
    }
}

/// Sends one event; false when the pipeline is gone.
async fn send_event(
    conv: &mut Converter,
    raw: &RawEvent,
    tx: &mpsc::Sender<SourceMsg>,
    counters: &LiveCounters,
) -> bool {
    let ev = conv.event(raw);
    if tx.send(SourceMsg::Event(Box::new(ev))).await.is_err() {
        return false;
    }
    counters.events.fetch_add(1, Ordering::Relaxed);
    true
}

/// Sends drop counts per container; false when the pipeline is gone.
async fn send_drops(
    conv: &mut Converter,
    drops: &[(u64, u64)],
    tx: &mpsc::Sender<SourceMsg>,
    counters: &LiveCounters,
) -> bool {
    for &(cgroup_id, count) in drops {
        if count == 0 {
            continue;
        }
        tracing::warn!(cgroup_id, count, "kernel dropped events (ring buffer full)");
        let template = conv.drop_template(cgroup_id);
        let msg = SourceMsg::Drops {
            template: Box::new(template),
            count,
        };
        if tx.send(msg).await.is_err() {
            return false;
        }
        counters.drops.fetch_add(count, Ordering::Relaxed);
    }
    true
}

/// `RawEvent` → `Event`: container identity (cached per cgroup id), policy, the store's
/// id charset.
#[derive(Debug, Default)]
pub struct Converter {
    resolver: ContainerResolver,
    ids: HashMap<u64, String>,
}

impl Converter {
    /// A converter resolving through `resolver` (tests use a plain directory tree).
    pub fn with_resolver(resolver: ContainerResolver) -> Converter {
        Converter {
            resolver,
            ids: HashMap::new(),
        }
    }

    /// The container (instance) id of a cgroup: the runtime's container id, or
    /// `host-or-unknown` (also for cgroup 0, drops the kernel cannot attribute).
    pub fn container_id(&mut self, cgroup_id: u64) -> String {
        if cgroup_id == 0 {
            return HOST_OR_UNKNOWN.to_string();
        }
        if let Some(id) = self.ids.get(&cgroup_id) {
            return id.clone();
        }
        let identity: ContainerIdentity = self.resolver.resolve(cgroup_id);
        let id = store_safe_id(&identity.container_id);
        // an unknown id may be a cgroup created a moment ago: ask again next time (the
        // resolver rate-limits its walks)
        if identity.is_container() {
            self.ids.insert(cgroup_id, id.clone());
        }
        id
    }

    /// The stored event for a probe event (sequence numbers are the writer's).
    pub fn event(&mut self, raw: &RawEvent) -> Event {
        let id = self.container_id(raw.cgroup_id);
        let (risk, policy) = classify(raw);
        Event {
            global_seq: 0,
            container_seq: 0,
            timestamp_ns: raw.timestamp_ns,
            event_type: raw.kind.as_str().to_string(),
            pid: raw.pid,
            tgid: raw.tgid,
            uid: raw.uid,
            gid: raw.gid,
            comm: raw.comm.clone(),
            path: raw.path.clone(),
            extra: raw.extra.clone(),
            flags: raw.flags,
            retval: raw.retval,
            cgroup_id: raw.cgroup_id.to_string(),
            container_id: id.clone(),
            container_instance_id: id,
            risk: risk.to_string(),
            policy: policy.to_string(),
        }
    }

    /// An event naming the container that drops of `cgroup_id` are attributed to.
    pub fn drop_template(&mut self, cgroup_id: u64) -> Event {
        let id = self.container_id(cgroup_id);
        Event {
            cgroup_id: cgroup_id.to_string(),
            container_id: id.clone(),
            container_instance_id: id,
            timestamp_ns: crate::util::now_ns(),
            ..Event::default()
        }
    }
}

/// A container id the store accepts (`[A-Za-z0-9._:-]`, 1..=255 bytes, not `.`/`..`),
/// unchanged when it already is one. Otherwise every other byte becomes `_` and the first
/// 8 hex digits of the original's SHA-256 are appended, so different ids stay different
/// and the same id always maps to the same name.
pub fn store_safe_id(id: &str) -> String {
    if conanchor_store::check_container_id(id).is_ok() {
        return id.to_string();
    }
    let mut safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(200)
        .collect();
    let digest = Hash32::sha256(id.as_bytes()).to_hex();
    if !safe.is_empty() {
        safe.push('-');
    }
    safe.push_str(&digest[..8]);
    safe
}

#[cfg(test)]
mod tests {
    use super::*;
    use conanchor_probe::EventKind;

    fn raw(kind: EventKind, path: &str, extra: &str, cgroup_id: u64) -> RawEvent {
        RawEvent {
            timestamp_ns: 1_710_000_000_000_000_000,
            kind,
            pid: 1234,
            tgid: 1234,
            uid: 0,
            gid: 0,
            comm: "wget".into(),
            path: path.into(),
            extra: extra.into(),
            flags: 0,
            retval: 0,
            cgroup_id,
            hook: "tp_btf/sched_process_exec",
        }
    }

    /// A cgroup tree in a temp dir: (tree, cgroup id of the container, its 64-hex id).
    fn tree() -> (tempfile::TempDir, u64, String) {
        use std::os::unix::fs::MetadataExt;
        let tmp = tempfile::tempdir().unwrap();
        let hex = "ab".repeat(32);
        let dir = tmp
            .path()
            .join("kubepods.slice")
            .join(format!("cri-containerd-{hex}.scope"));
        std::fs::create_dir_all(&dir).unwrap();
        let ino = std::fs::metadata(&dir).unwrap().ino();
        (tmp, ino, hex)
    }

    #[test]
    fn a_probe_event_becomes_a_stored_event_of_its_container() {
        let (tmp, ino, hex) = tree();
        let mut conv = Converter::with_resolver(ContainerResolver::with_root(tmp.path()));
        let ev = conv.event(&raw(EventKind::Exec, "/usr/bin/wget", "", ino));
        assert_eq!(ev.global_seq, 0);
        assert_eq!(ev.container_seq, 0);
        assert_eq!(ev.event_type, "exec");
        assert_eq!(ev.cgroup_id, ino.to_string());
        assert_eq!(ev.container_id, hex);
        assert_eq!(ev.container_instance_id, hex);
        assert_eq!(
            (ev.risk.as_str(), ev.policy.as_str()),
            ("high", "wget-exec")
        );
        assert_eq!(ev.comm, "wget");
        assert_eq!(ev.path, "/usr/bin/wget");
        assert_eq!(ev.timestamp_ns, 1_710_000_000_000_000_000);

        let m = conv.event(&raw(
            EventKind::Mount,
            "/tmp/x",
            "fstype=proc source=proc via=mount",
            ino,
        ));
        assert_eq!(m.event_type, "mount");
        assert_eq!(m.policy, "suspicious-mount");
        assert_eq!(m.extra, "fstype=proc source=proc via=mount");
    }

    #[test]
    fn unknown_cgroups_and_unattributable_drops_go_to_host_or_unknown() {
        let (tmp, _, _) = tree();
        let mut conv = Converter::with_resolver(ContainerResolver::with_root(tmp.path()));
        let ev = conv.event(&raw(EventKind::FileOpen, "/run/secrets/x", "", 999_999_999));
        assert_eq!(ev.container_instance_id, HOST_OR_UNKNOWN);
        assert_eq!(ev.policy, "service-account-secret-read");
        let t = conv.drop_template(0);
        assert_eq!(t.container_instance_id, HOST_OR_UNKNOWN);
        assert_eq!(t.cgroup_id, "0");
    }

    #[test]
    fn drops_are_attributed_to_the_container_of_their_cgroup() {
        let (tmp, ino, hex) = tree();
        let mut conv = Converter::with_resolver(ContainerResolver::with_root(tmp.path()));
        let t = conv.drop_template(ino);
        assert_eq!(t.container_instance_id, hex);
        assert_eq!(t.cgroup_id, ino.to_string());
    }

    #[test]
    fn ids_outside_the_store_charset_are_made_safe_deterministically() {
        assert_eq!(store_safe_id("abc-123_x.y:z"), "abc-123_x.y:z");
        let a = store_safe_id("pod/with space");
        assert!(a.starts_with("pod_with_space-"), "{a}");
        assert_eq!(a, store_safe_id("pod/with space"));
        assert_ne!(a, store_safe_id("pod_with space"));
        assert!(conanchor_store::check_container_id(&a).is_ok());
        for bad in ["", ".", "..", "é", &"x".repeat(300)] {
            let s = store_safe_id(bad);
            assert!(
                conanchor_store::check_container_id(&s).is_ok(),
                "{bad:?} -> {s:?}"
            );
        }
    }

    #[test]
    fn flags_parse_into_a_probe_config() {
        let args = LiveArgs {
            target_cgroup_id: Some("12, 34".into()),
            ..LiveArgs::default()
        };
        let cfg = args.probe_config().unwrap();
        assert_eq!(cfg.target_cgroup_ids, vec![12, 34]);
        assert_eq!(cfg.attach_mode, AttachMode::Auto);
        let bad = LiveArgs {
            target_cgroup_id: Some("12,x".into()),
            ..LiveArgs::default()
        };
        let err = format!("{:#}", bad.probe_config().unwrap_err());
        assert!(err.contains("--target-cgroup-id"), "{err}");
        let bad = LiveArgs {
            ring_buffer_bytes: 1000,
            ..LiveArgs::default()
        };
        assert!(bad.probe_config().is_err());
        assert_eq!(parse_attach_mode("tracepoint"), Ok(AttachMode::Tracepoint));
        assert!(parse_attach_mode("kprobe").is_err());
    }
}
