//! Helpers for the integration tests: run the real binary on real files.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_conanchor-tui");

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(args: &[&str]) -> Run {
    let out: Output = Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("the conanchor-tui binary runs");
    let r = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !r.stderr.contains("panicked"),
        "conanchor-tui {args:?} panicked:\n{}",
        r.stderr
    );
    r
}

pub fn generate(dir: &Path, count: u64, batch: u64, containers: u64) {
    let r = run(&[
        "generate",
        "--data-dir",
        dir.to_str().unwrap(),
        "--container-id",
        "demo-container",
        "--count",
        &count.to_string(),
        "--batch-size",
        &batch.to_string(),
        "--containers",
        &containers.to_string(),
    ]);
    assert_eq!(r.code, 0, "generate failed: {}", r.stderr);
}

/// Runs `verify --json` and returns (exit code, report JSON).
pub fn verify_json(dir: &Path, extra: &[&str]) -> (i32, serde_json::Value) {
    let mut args = vec!["verify", "--data-dir", dir.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    let r = run(&args);
    let json = serde_json::from_str(&r.stdout).unwrap_or(serde_json::Value::Null);
    (r.code, json)
}

/// The warnings of a given `type` in a report, top-level and per container.
pub fn warnings_of<'a>(report: &'a serde_json::Value, kind: &str) -> Vec<&'a serde_json::Value> {
    report["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(
            report["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|c| c["warnings"].as_array().into_iter().flatten()),
        )
        .filter(|w| w["type"] == kind)
        .collect()
}

/// Every (batch_id, type) failure of every container in a report.
pub fn failures(report: &serde_json::Value) -> Vec<(u64, String)> {
    let containers = match report.get("containers") {
        Some(c) => c.as_array().cloned().unwrap_or_default(),
        None => vec![report.clone()],
    };
    let mut out: Vec<(u64, String)> = containers
        .iter()
        .flat_map(|c| c["failures"].as_array().cloned().unwrap_or_default())
        .map(|f| {
            (
                f["batch_id"].as_u64().unwrap(),
                f["type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

pub fn db(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join("conanchor.db")).unwrap()
}

/// Every stored event decoded from its canonical bytes, in global_seq order.
pub fn stored_events(dir: &Path) -> Vec<conanchor_store::Event> {
    let db = db(dir);
    let mut q = db.prepare("SELECT canonical FROM events").unwrap();
    let mut out: Vec<conanchor_store::Event> = q
        .query_map([], |r| r.get::<_, Vec<u8>>(0))
        .unwrap()
        .map(|b| conanchor_store::encoding::decode_event(&b.unwrap()).unwrap())
        .collect();
    out.sort_by_key(|e| e.global_seq);
    out
}

/// Replaces the first `from` in the stored bytes of the event with `container_seq` by `to`,
/// as someone editing the database by hand would.
pub fn patch_stored_event(dir: &Path, container_seq: u64, from: &[u8], to: &[u8]) {
    let db = db(dir);
    let (id, mut bytes): (i64, Vec<u8>) = db
        .query_row(
            "SELECT id, canonical FROM events WHERE container_seq = ?1 ORDER BY id LIMIT 1",
            [container_seq as i64],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .unwrap_or_else(|| panic!("{:?} not in the event", String::from_utf8_lossy(from)));
    bytes.splice(at..at + from.len(), to.iter().copied());
    db.execute(
        "UPDATE events SET canonical = ?1 WHERE id = ?2",
        rusqlite::params![bytes, id],
    )
    .unwrap();
}

/// The binary running in the background, its stderr collected line by line.
pub struct Background {
    pub child: std::process::Child,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Background {
    pub fn spawn(args: &[&str]) -> Background {
        use std::io::BufRead;
        let mut child = Command::new(BIN)
            .args(args)
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the conanchor-tui binary starts");
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Background {
            child,
            stderr,
            reader: Some(reader),
        }
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until stderr contains `needle`; returns that line.
    pub fn wait_for_line(&self, needle: &str, timeout: std::time::Duration) -> String {
        let start = std::time::Instant::now();
        loop {
            let s = self.stderr();
            if let Some(line) = s.lines().find(|l| l.contains(needle)) {
                return line.to_string();
            }
            assert!(
                start.elapsed() < timeout,
                "no {needle:?} on stderr within {timeout:?}:\n{s}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// SIGTERM, then the exit code and the whole stderr.
    pub fn terminate(self) -> (i32, String) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        self.wait()
    }

    /// The exit code and the whole stderr, once the process has ended.
    pub fn wait(mut self) -> (i32, String) {
        let status = self.child.wait().unwrap();
        if let Some(r) = self.reader.take() {
            r.join().unwrap();
        }
        let stderr = self.stderr();
        assert!(!stderr.contains("panicked"), "{stderr}");
        (status.code().unwrap_or(-1), stderr)
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `SELECT count(*) FROM events` until it reaches `n` (panics after `timeout`).
pub fn wait_for_events(dir: &Path, n: i64, timeout: std::time::Duration) {
    let start = std::time::Instant::now();
    loop {
        let count: i64 = rusqlite::Connection::open(dir.join("conanchor.db"))
            .and_then(|c| c.query_row("SELECT count(*) FROM events", [], |r| r.get(0)))
            .unwrap_or(0);
        if count >= n {
            assert_eq!(count, n, "more events than expected");
            return;
        }
        assert!(
            start.elapsed() < timeout,
            "{count} of {n} events stored after {timeout:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
}
