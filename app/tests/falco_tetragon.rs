//! Falco and Tetragon JSON lines through the real binary: hand-written fixtures in the
//! projects' documented output formats are ingested, sealed, anchored and verified; a
//! modified record is caught and localized; bad lines are counted, never fatal; stdin works;
//! a missing input file is a one-line error with exit 2.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn fixture_lines(name: &str) -> Vec<String> {
    std::fs::read_to_string(fixture(name))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// `extra` of every stored event, in global order.
fn stored_extras(dir: &Path) -> Vec<String> {
    stored_events(dir).into_iter().map(|e| e.extra).collect()
}

/// The report of one container in a `verify --json` report.
fn container<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["container_instance_id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {report:#}"))
}

/// Ingest a fixture, verify OK, modify one anchored record with the attack lab, verify
/// FAILED with exactly that record MODIFIED.
fn anchor_then_tamper(source: &str, file: &str, cid: &str, per_container: &[(&str, u64)]) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let lines = fixture_lines(file);
    let r = run(&[
        "collect",
        "--source",
        source,
        "--input",
        s(&fixture(file)),
        "--data-dir",
        s(dir),
        "--batch-size",
        "3",
        "--quiet",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("ingested {}, rejected 0", lines.len())),
        "{}",
        r.stderr
    );
    // the whole original record is what is hashed and anchored
    assert_eq!(stored_extras(dir), lines);

    let (code, report) = verify_json(dir, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["status"], "OK");
    assert_eq!(report["verified_events"], lines.len() as u64);
    for (id, events) in per_container {
        let c = container(&report, id);
        assert_eq!(c["status"], "OK");
        assert_eq!(c["verified_events"], *events, "{c:#}");
    }

    let r = run(&[
        "attack",
        "--data-dir",
        s(dir),
        "--container-id",
        cid,
        "--type",
        "modify-log",
        "--batch",
        "1",
        "--seq",
        "2",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    let (code, report) = verify_json(dir, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["status"], "FAILED");
    assert_eq!(
        failures(&report),
        vec![(1, "MERKLE_ROOT_MISMATCH".to_string())]
    );
    let c = container(&report, cid);
    let findings = c["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{c:#}");
    assert_eq!(findings[0]["kind"], "MODIFIED");
    assert_eq!(findings[0]["container_seq"], 2);
    assert_eq!(findings[0]["batch_id"], 1);
    // the other containers are untouched
    for (id, _) in per_container.iter().filter(|(id, _)| *id != cid) {
        assert_eq!(container(&report, id)["status"], "OK");
    }
}

#[test]
fn falco_fixture_is_anchored_and_a_modified_alert_is_localized() {
    anchor_then_tamper(
        "falco",
        "falco_events.jsonl",
        "3ad7b26ded6d",
        &[
            ("3ad7b26ded6d", 4),
            ("9f1e0c2b7a44", 3),
            ("host-or-unknown", 1),
        ],
    );
}

#[test]
fn tetragon_fixture_is_anchored_and_a_modified_event_is_localized() {
    let a = "551e161c47d8ff0eb665438a7bcd5b4e3ef5a297282b40a92b7c77d6bd168eb3";
    let b = "7e0c5a0d36e24dbe9a3f1d2c5b8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f901";
    anchor_then_tamper(
        "tetragon",
        "tetragon_events.jsonl",
        a,
        &[(a, 4), (b, 2), ("host-or-unknown", 1)],
    );
}

#[test]
fn fixtures_map_to_the_documented_fields() {
    let tmp = tempfile::tempdir().unwrap();
    for (source, file) in [
        ("falco", "falco_events.jsonl"),
        ("tetragon", "tetragon_events.jsonl"),
    ] {
        let r = run(&[
            "collect",
            "--source",
            source,
            "--input",
            s(&fixture(file)),
            "--data-dir",
            s(tmp.path()),
            "--quiet",
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let events = stored_events(tmp.path());
    let row = |global_seq: u64| -> Vec<String> {
        let e = events
            .iter()
            .find(|e| e.global_seq == global_seq)
            .unwrap_or_else(|| panic!("no event with global_seq {global_seq}"));
        vec![
            e.timestamp_ns.to_string(),
            e.event_type.clone(),
            e.pid.to_string(),
            e.uid.to_string(),
            e.comm.clone(),
            e.path.clone(),
            e.retval.to_string(),
            e.container_id.clone(),
            e.risk.clone(),
            e.policy.clone(),
        ]
    };
    let expect = |global_seq: u64, want: &str| {
        assert_eq!(row(global_seq).join("|"), want, "global_seq {global_seq}");
    };
    // Falco: the seed's service-account token rule, a mount with its result, a host event
    expect(1, "1710000000100000000|file_open|4242|0|cat|/var/run/secrets/kubernetes.io/serviceaccount/token|0|3ad7b26ded6d|medium|ConAnchor service account token read");
    expect(3, "1710000002300000000|exec|4261|0|wget|/usr/bin/wget|0|3ad7b26ded6d|medium|ConAnchor wget exec");
    expect(5, "1710000004500000000|mount|9120|0|mount|/host/proc|-1|9f1e0c2b7a44|high|ConAnchor suspicious mount");
    expect(7, "1710000006700000000|file_open|1201|0|tee|/etc/ld.so.preload|0|host-or-unknown|high|Write below etc");
    // Tetragon: exec, LSM bprm check, kprobe file permission, kprobe mount target, host exec
    let a = "551e161c47d8ff0eb665438a7bcd5b4e3ef5a297282b40a92b7c77d6bd168eb3";
    expect(
        9,
        &format!("1710000000100000000|exec|52699|0|wget|/usr/bin/wget|0|{a}|low|process_exec"),
    );
    expect(
        10,
        &format!(
            "1710000000100200000|exec|52699|0|wget|/usr/bin/wget|0|{a}|high|conanchor-wget-exec"
        ),
    );
    expect(11, &format!("1710000001000300000|file_open|52710|0|cat|/var/run/secrets/kubernetes.io/serviceaccount/token|0|{a}|high|conanchor-service-account-secret-read"));
    expect(12, "1710000002000400000|mount|61004|0|mount|/host/proc|-1|7e0c5a0d36e24dbe9a3f1d2c5b8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f901|high|conanchor-suspicious-mount");
    expect(
        14,
        "1710000004000000000|exec|7001|1000|curl|/usr/bin/curl|0|host-or-unknown|low|process_exec",
    );
}

#[test]
fn bad_lines_are_counted_and_reported_never_fatal() {
    let tmp = tempfile::tempdir().unwrap();
    let good = fixture_lines("falco_events.jsonl");
    let mut input = vec![good[0].clone(), "this is not JSON".to_string()];
    input.push(r#"{"priority":"Warning","time":"2024-03-09T16:00:00Z","output_fields":{}}"#.into());
    input.push(String::new()); // blank lines are skipped, not rejected
    input.push(good[1].clone());
    input.push(r#"{"rule":"r","priority":"Warning","time":"not a time"}"#.into());
    input.push(good[2].clone());
    let file = tmp.path().join("mixed.json");
    std::fs::write(&file, input.join("\n") + "\n").unwrap();
    let data = tmp.path().join("data");
    let r = run(&[
        "collect",
        "--source",
        "falco",
        "--input",
        s(&file),
        "--data-dir",
        s(&data),
        "--quiet",
        "--workflow-log",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("ingested 3, rejected 3 (first: line 2: not a Falco JSON alert"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("[workflow] rejected line 3: no \"rule\""),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("[workflow] rejected line 6: time"),
        "{}",
        r.stderr
    );
    assert_eq!(stored_extras(&data), good[..3]);
    let (code, report) = verify_json(&data, &[]);
    assert_eq!((code, &report["status"]), (0, &"OK".into()), "{report:#}");
}

#[test]
fn stdin_is_read_to_its_end() {
    let tmp = tempfile::tempdir().unwrap();
    let lines = fixture_lines("tetragon_events.jsonl");
    for input in [&["--input", "-"][..], &[][..]] {
        let data = tmp.path().join(format!("data{}", input.len()));
        let mut args = vec!["collect", "--source", "tetragon", "--data-dir", s(&data)];
        args.extend_from_slice(input);
        args.push("--quiet");
        let mut child = Command::new(BIN)
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        for l in &lines {
            writeln!(stdin, "{l}").unwrap();
        }
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert!(stderr.contains("ingested 7, rejected 0"), "{stderr}");
        assert_eq!(stored_extras(&data), lines);
        let (code, _) = verify_json(&data, &[]);
        assert_eq!(code, 0);
    }
}

#[test]
fn a_missing_input_file_is_a_one_line_error_with_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    for source in ["falco", "tetragon"] {
        for follow in [false, true] {
            let mut args = vec![
                "collect",
                "--source",
                source,
                "--input",
                "/nonexistent/events.json",
                "--data-dir",
                s(&data),
            ];
            if follow {
                args.push("--follow");
            }
            let r = run(&args);
            assert_eq!(r.code, 2, "{}", r.stderr);
            assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
            assert!(
                r.stderr
                    .starts_with("error: cannot read --input /nonexistent/events.json"),
                "{}",
                r.stderr
            );
        }
    }
    // nothing was created
    assert!(!data.exists());
    // flags that do not fit the source are refused the same way
    let r = run(&["collect", "--source", "tetragon", "--listen", "127.0.0.1:0"]);
    assert_eq!((r.code, r.stderr.lines().count()), (2, 1), "{}", r.stderr);
    let r = run(&["collect", "--source", "synthetic", "--input", "x.json"]);
    assert_eq!((r.code, r.stderr.lines().count()), (2, 1), "{}", r.stderr);
}

#[test]
fn bench_source_falco_ingests_a_file_and_reports_lines_per_second() {
    let tmp = tempfile::tempdir().unwrap();
    let r = run(&["bench", "--source", "falco", "--events", "2000", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["lines"], 2000);
    assert_eq!(report["rejected"], 0);
    assert!(report["ingest_lines_per_sec"].as_f64().unwrap() > 0.0);
    // a given file: the fixture, with its host event and several containers
    let data = tmp.path().join("bench");
    let r = run(&[
        "bench",
        "--source",
        "falco",
        "--input",
        s(&fixture("falco_events.jsonl")),
        "--data-dir",
        s(&data),
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["lines"], 8);
    let r = run(&["bench", "--input", "x.json"]);
    assert_eq!((r.code, r.stderr.lines().count()), (2, 1), "{}", r.stderr);
}
