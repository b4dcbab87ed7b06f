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
