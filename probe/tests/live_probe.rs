//! The real probe on the real kernel (root): events from a container cgroup made by
//! the test, container resolution, policies, cgroup targeting, attach modes.
//! Skips with "SKIP: ..." when not root or BPF is unavailable; with
//! CONANCHOR_REQUIRE_BPF=1 a skip is a failure.

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{bpf_available, cstring, Action, SecretFile, TestCgroup, KERNEL, TOKEN};
use conanchor_probe::{
    classify, ActiveMode, AttachMode, ContainerResolver, EventKind, Probe, ProbeConfig, ProbeError,
    RawEvent, POLICY_SECRET_READ, POLICY_SUSPICIOUS_MOUNT, POLICY_WGET_EXEC, RISK_HIGH,
};
use tokio::sync::mpsc;

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// The actions the test performs in one cgroup, and the pids that performed them.
struct Triggered {
    exec_pid: u32,
    open_pid: u32,
    mount_pid: u32,
    new_api_pid: Option<u32>,
}

fn trigger_all(cg: &TestCgroup, wget: &Path, mount_dir: &Path) -> Triggered {
    let (exec_pid, code) = cg.run(&Action::Exec(cstring(wget)));
    assert_eq!(code, 0, "running {} in the test cgroup", wget.display());
    let (open_pid, code) = cg.run(&Action::Open(cstring(Path::new(TOKEN)), 1));
    assert_eq!(code, 0, "reading the token in the test cgroup");
    let (mount_pid, code) = cg.run(&Action::MountProc(cstring(mount_dir)));
    assert_eq!(code, 0, "mounting proc in the test cgroup");
    // the new mount API may be missing on old kernels: only checked when it worked
    let (new_api_pid, code) = cg.run(&Action::NewApiMountProc(cstring(mount_dir)));
    Triggered {
        exec_pid,
        open_pid,
        mount_pid,
        new_api_pid: (code == 0).then_some(new_api_pid),
    }
}

/// Receives until `done` says so or `timeout` passes.
async fn collect_until(
    rx: &mut mpsc::Receiver<RawEvent>,
    timeout: Duration,
    mut done: impl FnMut(&[RawEvent]) -> bool,
) -> Vec<RawEvent> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + timeout;
    while !done(&got) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(ev)) => got.push(ev),
            Ok(None) | Err(_) => break,
        }
    }
    got
}

fn find(events: &[RawEvent], kind: EventKind, tgid: u32) -> Option<&RawEvent> {
    events.iter().find(|e| e.kind == kind && e.tgid == tgid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_events_are_captured_resolved_and_classified() {
    let _kernel = KERNEL.lock().await;
    if !bpf_available() {
        return;
    }
    let target = TestCgroup::new();
    let other = TestCgroup::new();
    let _secret = SecretFile::ensure(Path::new(TOKEN));
    let tmp = tempfile::tempdir().unwrap();
    let wget = tmp.path().join("wget");
    std::fs::copy("/bin/true", &wget).expect("copy /bin/true as wget");
    let mount_dir = tmp.path().join("mnt");
    std::fs::create_dir(&mount_dir).unwrap();

    let cfg = ProbeConfig {
        attach_mode: AttachMode::Auto,
        target_cgroup_ids: vec![target.id],
        ..ProbeConfig::default()
    };
    let probe = Probe::load(&cfg).expect("load the probe");
    common::say(&probe.mode_description());
    let (tx, mut rx) = mpsc::channel(1024);
    let handle = probe.start(tx).expect("start the probe");
    let started_ns = now_ns();

    let t = trigger_all(&target, &wget, &mount_dir);
    let o = trigger_all(&other, &wget, &mount_dir);

    let events = collect_until(&mut rx, Duration::from_secs(10), |got| {
        find(got, EventKind::Exec, t.exec_pid).is_some()
            && find(got, EventKind::FileOpen, t.open_pid).is_some()
            && find(got, EventKind::Mount, t.mount_pid).is_some()
            && t.new_api_pid
                .is_none_or(|p| find(got, EventKind::Mount, p).is_some())
    })
    .await;
    // anything from the other cgroup would have arrived by now as well
    let late = collect_until(&mut rx, Duration::from_millis(500), |_| false).await;
    let events: Vec<RawEvent> = events.into_iter().chain(late).collect();
    let finished_ns = now_ns();
    let drops = handle.stop().await;
    for e in &events {
        eprintln!("event: {e:?} -> {:?}", classify(e));
    }

    let mut resolver = ContainerResolver::new();
    let identity = resolver.resolve(target.id);
    assert_eq!(identity.container_id, target.container_id);
    assert_eq!(identity.runtime.as_deref(), Some("containerd"));

    let exec = find(&events, EventKind::Exec, t.exec_pid).expect("wget exec event");
    assert_eq!(exec.path, wget.to_string_lossy());
    assert_eq!(exec.comm, "wget");
    assert_eq!(classify(exec), (RISK_HIGH, POLICY_WGET_EXEC));

    let open = find(&events, EventKind::FileOpen, t.open_pid).expect("token open event");
    // tracepoint mode sees the path as passed; LSM mode the resolved one (/var/run -> /run)
    assert!(
        open.path
            .ends_with("/run/secrets/kubernetes.io/serviceaccount/token"),
        "{}",
        open.path
    );
    assert_eq!(classify(open), (RISK_HIGH, POLICY_SECRET_READ));

    let mount = find(&events, EventKind::Mount, t.mount_pid).expect("proc mount event");
    assert!(
        mount.extra.starts_with("fstype=proc source=proc "),
        "{}",
        mount.extra
    );
    assert!(mount.path.ends_with("/mnt"), "{}", mount.path);
    assert_eq!(classify(mount), (RISK_HIGH, POLICY_SUSPICIOUS_MOUNT));

    if let Some(pid) = t.new_api_pid {
        let m = find(&events, EventKind::Mount, pid).expect("new mount API event");
        assert!(m.extra.starts_with("fstype=proc "), "{}", m.extra);
        assert_eq!(classify(m), (RISK_HIGH, POLICY_SUSPICIOUS_MOUNT));
    } else {
        eprintln!("note: fsopen/fsmount/move_mount unavailable here; new mount API not checked");
    }

    for e in &events {
        assert_eq!(
            e.cgroup_id, target.id,
            "only the targeted cgroup is reported: {e:?}"
        );
        assert_eq!(
            resolver.resolve(e.cgroup_id).container_id,
            target.container_id
        );
        assert!(
            (started_ns - 1_000_000_000..=finished_ns).contains(&e.timestamp_ns),
            "wall-clock timestamp {} outside the test's run [{started_ns}, {finished_ns}]",
            e.timestamp_ns
        );
        assert_eq!(e.uid, 0);
    }
    for pid in [o.exec_pid, o.open_pid, o.mount_pid] {
        assert!(
            events.iter().all(|e| e.tgid != pid),
            "event from the untargeted cgroup"
        );
    }
    assert!(drops.is_empty(), "no drops expected: {drops:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lsm_mode_fails_in_one_line_where_refused_and_auto_falls_back() {
    let _kernel = KERNEL.lock().await;
    if !bpf_available() {
        return;
    }
    let lsm = Probe::load(&ProbeConfig {
        attach_mode: AttachMode::Lsm,
        ..ProbeConfig::default()
    });
    let auto = Probe::load(&ProbeConfig::default()).expect("auto always attaches something");
    match lsm {
        Ok(probe) => {
            eprintln!("BPF LSM works on this machine");
            assert_eq!(probe.mode(), ActiveMode::Lsm);
            drop(probe);
            assert_eq!(auto.mode(), ActiveMode::Lsm);
            assert_eq!(auto.fallback_reason(), None);
        }
        Err(err) => {
            let msg = err.to_string();
            common::say(&format!("--attach-mode lsm: {msg}"));
            assert!(!msg.contains('\n'), "one line: {msg:?}");
            assert!(
                matches!(
                    err,
                    ProbeError::LsmInactive { .. } | ProbeError::LsmRefused { .. }
                ),
                "{err:?}"
            );
            assert!(msg.contains("LSM"), "{msg}");
            // names the cause: the lsm list, or the kernel's answer
            assert!(
                msg.contains("/sys/kernel/security/lsm")
                    || msg.contains("Operation not permitted")
                    || msg.contains("os error"),
                "{msg}"
            );
            assert_eq!(auto.mode(), ActiveMode::Tracepoint);
            let why = auto.fallback_reason().expect("auto says why it fell back");
            assert_eq!(why, msg, "auto reports the same cause");
            let description = auto.mode_description();
            common::say(&format!("--attach-mode auto: {description}"));
            assert!(description.starts_with("attach mode: tracepoint (auto fell back from lsm: "));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_targets_and_no_target_report_every_listed_cgroup() {
    let _kernel = KERNEL.lock().await;
    if !bpf_available() {
        return;
    }
    let a = TestCgroup::new();
    let b = TestCgroup::new();
    let tmp = tempfile::tempdir().unwrap();
    let wget = tmp.path().join("wget");
    std::fs::copy("/bin/true", &wget).expect("copy /bin/true as wget");

    let listed = conanchor_probe::parse_cgroup_ids(&format!("{},{}", a.id, b.id)).unwrap();
    for targets in [listed, Vec::new()] {
        let cfg = ProbeConfig {
            target_cgroup_ids: targets.clone(),
            ..ProbeConfig::default()
        };
        let (tx, mut rx) = mpsc::channel(1024);
        let handle = Probe::load(&cfg).expect("load").start(tx).expect("start");
        let (pa, code_a) = a.run(&Action::Exec(cstring(&wget)));
        let (pb, code_b) = b.run(&Action::Exec(cstring(&wget)));
        assert_eq!((code_a, code_b), (0, 0));
        let events = collect_until(&mut rx, Duration::from_secs(10), |got| {
            find(got, EventKind::Exec, pa).is_some() && find(got, EventKind::Exec, pb).is_some()
        })
        .await;
        handle.stop().await;
        let ea = find(&events, EventKind::Exec, pa).expect("exec from the first cgroup");
        let eb = find(&events, EventKind::Exec, pb).expect("exec from the second cgroup");
        assert_eq!(
            (ea.cgroup_id, eb.cgroup_id),
            (a.id, b.id),
            "targets {targets:?}"
        );
    }
}
