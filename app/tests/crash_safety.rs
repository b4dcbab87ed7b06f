//! Crash safety: SIGKILL the collector part-way, restart it on the same data dir, stop it
//! with SIGTERM: no gap or duplicate in any container's sequence, every sealed batch
//! anchored, verify OK.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn start_collector(dir: &std::path::Path) -> Child {
    Command::new(BIN)
        .args([
            "collect",
            "--source",
            "synthetic",
            "--rate",
            "0",
            "--containers",
            "4",
            "--quiet",
            "--batch-size",
            "1000",
            "--batch-interval",
            "1s",
            "--data-dir",
            dir.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("collector starts")
}

fn stored_events(dir: &std::path::Path) -> i64 {
    let Ok(conn) = rusqlite::Connection::open_with_flags(
        dir.join("conanchor.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    ) else {
        return 0;
    };
    conn.query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap_or(0)
}

fn wait_for_events(dir: &std::path::Path, at_least: i64, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while stored_events(dir) < at_least {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("collector exited early: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "collector did not store {at_least} events in time"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn sigkill_then_restart_loses_nothing_and_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();

    let mut first = start_collector(dir);
    wait_for_events(dir, 100_000, &mut first);
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let after_kill = stored_events(dir);
    assert!(after_kill >= 100_000);

    let mut second = start_collector(dir);
    wait_for_events(dir, after_kill + 20_000, &mut second);
    // SAFETY: plain kill(2) on our own child's pid.
    let rc = unsafe { libc::kill(second.id() as i32, libc::SIGTERM) };
    assert_eq!(rc, 0);
    let out = second.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "collector failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let conn = db(dir);
    // Per container: container_seq is exactly 1..=n, no gap, no duplicate.
    let mut stmt = conn
        .prepare("SELECT container, count(*), count(DISTINCT container_seq), min(container_seq), max(container_seq) FROM events GROUP BY container")
        .unwrap();
    let rows: Vec<(i64, i64, i64, i64, i64)> = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), 4);
    for (c, n, distinct, min, max) in &rows {
        assert_eq!(
            (n, distinct, min, max),
            (n, n, &1, n),
            "container {c}: count {n}, distinct {distinct}, seq {min}..={max}"
        );
    }
    // global_seq is unique and gap-free too.
    let globals: Vec<u64> = common::stored_events(dir)
        .iter()
        .map(|e| e.global_seq)
        .collect();
    let n = globals.len() as u64;
    assert_eq!(globals, (1..=n).collect::<Vec<_>>());
    // Every event is sealed (SIGTERM flushed the partial batches) and every batch anchored.
    let unsealed: i64 = conn
        .query_row(
            "SELECT count(*) FROM events e WHERE container_seq > (SELECT COALESCE(max(last_container_seq), 0) FROM batches b WHERE b.container = e.container)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(unsealed, 0);
    let pending: i64 = conn
        .query_row("SELECT count(*) FROM anchor_outbox", [], |r| r.get(0))
        .unwrap();
    assert_eq!(pending, 0);
    drop(stmt);
    drop(conn);

    let (code, report) = verify_json(dir, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["verified_events"].as_u64().unwrap(), n);
    eprintln!("crash safety: {after_kill} events before SIGKILL, {n} in total, all verified");
}
