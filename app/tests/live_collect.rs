//! The live collector through the real binary, on the real kernel (root): events from a
//! container cgroup made by the test are stored under its 64-hex container id with the
//! right policy and risk, a second (untargeted) cgroup's events are absent, and the
//! sealed batches verify OK against the ledger; a storm through a one-page ring buffer is
//! stored or counted as drops in the anchored batches (stored + dropped = generated) and
//! verify reports the drops.
//! Skips with "SKIP: ..." when not root or BPF is unavailable; with
//! CONANCHOR_REQUIRE_BPF=1 a skip is a failure.

mod common;

// The probe crate's root-test helpers (test cgroups, children acting inside them).
#[path = "../../probe/tests/common/mod.rs"]
mod probe_common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use probe_common::{bpf_available, cstring, Action, SecretFile, TestCgroup, TOKEN};

/// The collector process, killed on drop if the test fails before stopping it.
struct Collector {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: Vec<String>,
}

impl Collector {
    fn start(args: &[&str]) -> Collector {
        let mut child = Command::new(common::BIN)
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("CONANCHOR_TARGET_CGROUP_ID")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the collector starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Collector {
            child,
            lines,
            stderr: Vec::new(),
        }
    }

    /// Waits for a stderr line containing `needle`; panics with stderr on exit or timeout.
    fn wait_for_line(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            match self.lines.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    self.stderr.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Ok(Some(status)) = self.child.try_wait() {
                        panic!(
                            "the collector exited ({status}) before printing {needle:?}:\n{}",
                            self.stderr.join("\n")
                        );
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        panic!(
            "no {needle:?} on the collector's stderr within {timeout:?}:\n{}",
            self.stderr.join("\n")
        );
    }

    /// SIGTERM, then the exit code (within 60 s) and the rest of stderr.
    fn terminate(&mut self) -> (i32, String) {
        // SAFETY: kill on our own child's pid; it has not been reaped yet.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        assert_eq!(rc, 0, "SIGTERM: {}", std::io::Error::last_os_error());
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for the collector") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the collector did not exit within 60 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(500)) {
            self.stderr.push(line);
        }
        (status.code().unwrap_or(-1), self.stderr.join("\n"))
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// (container_instance_id, container_id, cgroup_id, event_type, policy, risk, comm, path)
type Row = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
);

fn stored_events(dir: &Path) -> Vec<Row> {
    let Ok(conn) = rusqlite::Connection::open_with_flags(
        dir.join("conanchor.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    ) else {
        return Vec::new();
    };
    let Ok(mut stmt) = conn.prepare("SELECT canonical FROM events") else {
        return Vec::new();
    };
    let Ok(rows) = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0)) else {
        return Vec::new();
    };
    let mut events: Vec<conanchor_store::Event> = rows
        .filter_map(Result::ok)
        .filter_map(|b| conanchor_store::encoding::decode_event(&b).ok())
        .collect();
    events.sort_by_key(|e| e.global_seq);
    events
        .into_iter()
        .map(|e| {
            (
                e.container_instance_id,
                e.container_id,
                e.cgroup_id,
                e.event_type,
                e.policy,
                e.risk,
                e.comm,
                e.path,
            )
        })
        .collect()
}

fn trigger_all(cg: &TestCgroup, wget: &Path, mount_dir: &Path) {
    let (_, code) = cg.run(&Action::Exec(cstring(wget)));
    assert_eq!(code, 0, "running {} in the test cgroup", wget.display());
    let (_, code) = cg.run(&Action::Open(cstring(Path::new(TOKEN)), 1));
    assert_eq!(code, 0, "reading the token in the test cgroup");
    let (_, code) = cg.run(&Action::MountProc(cstring(mount_dir)));
    assert_eq!(code, 0, "mounting proc in the test cgroup");
}

#[test]
fn live_collect_stores_targeted_container_events_that_verify() {
    if !bpf_available() {
        return;
    }
    // one kernel test at a time: they share the token file that SecretFile makes
    let _kernel = probe_common::KERNEL.blocking_lock();
    let target = TestCgroup::new();
    let other = TestCgroup::new();
    let _secret = SecretFile::ensure(Path::new(TOKEN));
    let tmp = tempfile::tempdir().unwrap();
    let wget = tmp.path().join("wget");
    std::fs::copy("/bin/true", &wget).expect("copy /bin/true as wget");
    let mount_dir = tmp.path().join("mnt");
    std::fs::create_dir(&mount_dir).unwrap();
    let data = tmp.path().join("data");
    let data_s = data.to_str().unwrap();
    let target_id = target.id.to_string();

    let mut collector = Collector::start(&[
        "collect",
        "--source",
        "live",
        "--target-cgroup-id",
        &target_id,
        "--batch-size",
        "2",
        "--batch-interval",
        "500ms",
        "--data-dir",
        data_s,
        "--quiet",
    ]);
    let mode = collector.wait_for_line("attach mode:", Duration::from_secs(60));
    probe_common::say(&format!("live collect: {mode}"));
    assert!(
        mode.contains(&format!("watching cgroup ids {target_id}")),
        "{mode}"
    );

    trigger_all(&target, &wget, &mount_dir);
    trigger_all(&other, &wget, &mount_dir);

    // the three events reach the store (group commit every 50 ms)
    let deadline = Instant::now() + Duration::from_secs(15);
    while stored_events(&data).len() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    // anything from the other cgroup would have arrived by now as well
    std::thread::sleep(Duration::from_millis(700));
    let (code, stderr) = collector.terminate();
    assert_eq!(code, 0, "collector exit code; stderr:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let events = stored_events(&data);
    for e in &events {
        eprintln!("stored: {e:?}");
    }
    let find = |event_type: &str| {
        events
            .iter()
            .find(|e| e.3 == event_type)
            .unwrap_or_else(|| panic!("no {event_type} event stored: {events:?}"))
    };
    let exec = find("exec");
    assert_eq!((exec.4.as_str(), exec.5.as_str()), ("wget-exec", "high"));
    assert_eq!(exec.6, "wget");
    assert_eq!(exec.7, wget.to_string_lossy());
    let open = find("file_open");
    assert_eq!(
        (open.4.as_str(), open.5.as_str()),
        ("service-account-secret-read", "high")
    );
    assert!(
        open.7
            .ends_with("/run/secrets/kubernetes.io/serviceaccount/token"),
        "{}",
        open.7
    );
    let mount = find("mount");
    assert_eq!(
        (mount.4.as_str(), mount.5.as_str()),
        ("suspicious-mount", "high")
    );
    for e in &events {
        assert_eq!(e.2, target_id, "only the targeted cgroup is stored: {e:?}");
        assert_eq!(e.0, target.container_id, "the 64-hex container id: {e:?}");
        assert_eq!(e.1, target.container_id);
        assert_eq!(e.0.len(), 64);
    }
    assert!(
        !events.iter().any(|e| e.0 == other.container_id),
        "the untargeted cgroup's events are absent"
    );

    let (code, report) = common::verify_json(&data, &[]);
    assert_eq!(code, 0, "verify: {report}");
    assert_eq!(report["status"], "OK", "{report}");
    let c = report["containers"]
        .as_array()
        .and_then(|cs| {
            cs.iter()
                .find(|c| c["container_instance_id"] == target.container_id.as_str())
        })
        .unwrap_or_else(|| panic!("the container in the report: {report}"));
    assert!(
        c["verified_batches"].as_u64().unwrap_or(0) >= 2,
        "batch size 2 seals at least two batches: {c}"
    );
    assert_eq!(
        report["verified_events"].as_u64(),
        Some(events.len() as u64),
        "{report}"
    );
}

#[test]
fn live_collect_without_root_names_the_cause() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        let tmp = tempfile::tempdir().unwrap();
        let r = common::run(&[
            "collect",
            "--source",
            "live",
            "--data-dir",
            tmp.path().to_str().unwrap(),
        ]);
        assert_eq!(r.code, 2);
        assert!(r.stderr.contains("needs root"), "{}", r.stderr);
        assert!(r.stderr.contains("--source synthetic"), "{}", r.stderr);
        assert_eq!(
            r.stderr.lines().filter(|l| l.starts_with("error:")).count(),
            1
        );
        return;
    }
    // as root: drop to nobody for the child
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .arg(common::BIN)
        .args(["collect", "--source", "live", "--data-dir"])
        .arg(tmp.path().join("d"))
        .env("NO_COLOR", "1")
        .output();
    let Ok(out) = out else {
        probe_common::say("SKIP: setpriv is unavailable to run the collector unprivileged");
        return;
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("needs root"), "{stderr}");
    assert!(stderr.contains("--source synthetic"), "{stderr}");
    assert!(
        !tmp.path().join("d").exists(),
        "nothing is created when the probe cannot load"
    );
}

/// (events stored, dropped_event_count summed over the sealed batches, drops recorded after
/// the last sealed batch) of one container.
fn stored_and_dropped(dir: &Path, cid: &str) -> (u64, u64, u64) {
    let conn = rusqlite::Connection::open_with_flags(
        dir.join("conanchor.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open the store");
    conn.query_row(
        "SELECT (SELECT count(*) FROM events WHERE container = c.id),
                (SELECT COALESCE(sum(dropped_event_count), 0) FROM batches WHERE container = c.id),
                c.open_dropped
         FROM containers c WHERE c.container_instance_id = ?1",
        [cid],
        |r| {
            Ok((
                r.get::<_, u64>(0)?,
                r.get::<_, u64>(1)?,
                r.get::<_, u64>(2)?,
            ))
        },
    )
    .expect("the storm's container is in the store")
}

#[test]
fn live_collect_storm_drops_are_anchored_and_reported() {
    if !bpf_available() {
        return;
    }
    const OPENS: u32 = 200_000;
    // one kernel test at a time: they share the token file that SecretFile makes
    let _kernel = probe_common::KERNEL.blocking_lock();
    let target = TestCgroup::new();
    let _secret = SecretFile::ensure(Path::new(TOKEN));
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let target_id = target.id.to_string();
    // a one-page ring buffer: most of the storm cannot be delivered and must be counted
    let mut collector = Collector::start(&[
        "collect",
        "--source",
        "live",
        "--target-cgroup-id",
        &target_id,
        "--ring-buffer-bytes",
        "4096",
        "--batch-size",
        "1000",
        "--batch-interval",
        "500ms",
        "--data-dir",
        data.to_str().unwrap(),
        "--quiet",
    ]);
    collector.wait_for_line("attach mode:", Duration::from_secs(60));
    let (_, code) = target.run(&Action::Open(cstring(Path::new(TOKEN)), OPENS));
    assert_eq!(code, 0, "the storm ran in the test cgroup");
    std::thread::sleep(Duration::from_millis(1500));
    let (code, stderr) = collector.terminate();
    assert_eq!(code, 0, "collector exit code; stderr:\n{stderr}");

    // Drops reported after the container's last event (its batch already sealed) wait
    // for its next batch: rare here, but counted, and reported as PENDING_DROPS.
    let (events, dropped, pending) = stored_and_dropped(&data, &target.container_id);
    probe_common::say(&format!(
        "live collect storm: generated {OPENS}, stored {events}, dropped and anchored {dropped}, dropped and pending {pending}"
    ));
    assert!(
        dropped > 0,
        "a one-page ring buffer drops part of the storm"
    );
    assert_eq!(
        events + dropped + pending,
        u64::from(OPENS),
        "stored + dropped (anchored in the batches, or pending) = generated"
    );
    let (code, report) = common::verify_json(&data, &[]);
    assert_eq!(code, 0, "verify: {report}");
    assert_eq!(report["status"], "OK", "{report}");
    let warned = |kind: &str| -> u64 {
        common::warnings_of(&report, kind)
            .iter()
            .map(|w| w["count"].as_u64().unwrap_or(0))
            .sum()
    };
    assert_eq!(
        warned("DROPPED_EVENTS"),
        dropped,
        "verify reports the anchored drops: {report}"
    );
    assert_eq!(
        warned("PENDING_DROPS"),
        pending,
        "verify reports the pending drops: {report}"
    );
}
