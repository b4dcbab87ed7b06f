//! End-to-end tests of the evidence core through the real binary: generate, tamper, verify
//! (SQLite store and exported directory), rollback, and bad input.

mod common;

use common::*;

fn s(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn clean_data_verifies_ok() {
    let tmp = tempfile::tempdir().unwrap();
    generate(tmp.path(), 100, 10, 3);
    let (code, report) = verify_json(tmp.path(), &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["status"], "OK");
    assert_eq!(report["verified_batches"], 30);
    assert_eq!(report["verified_events"], 300);
    // The seed's single-container report shape.
    let (code, one) = verify_json(tmp.path(), &["--container-instance-id", "demo-container-2"]);
    assert_eq!(code, 0);
    for field in [
        "container_instance_id",
        "from_batch",
        "to_batch",
        "status",
        "verified_batches",
        "failures",
    ] {
        assert!(one.get(field).is_some(), "missing seed field {field}");
    }
    assert_eq!(one["to_batch"], 10);
}

#[test]
fn one_changed_character_fails_exactly_that_batch() {
    let tmp = tempfile::tempdir().unwrap();
    generate(tmp.path(), 100, 10, 1);
    patch_stored_event(tmp.path(), 45, b"wget", b"wgeT");
    let (code, report) = verify_json(tmp.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(report["status"], "FAILED");
    assert_eq!(
        failures(&report),
        vec![(5, "MERKLE_ROOT_MISMATCH".to_string())]
    );
    let findings = &report["containers"][0]["findings"];
    assert_eq!(findings.as_array().unwrap().len(), 1, "{findings:#}");
    assert_eq!(findings[0]["kind"], "MODIFIED");
    assert_eq!(findings[0]["container_seq"], 45);

    // The table names the failure too.
    let r = run(&["verify", "--data-dir", s(tmp.path())]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("MERKLE_ROOT_MISMATCH"), "{}", r.stdout);
    assert!(r.stdout.contains("status: FAILED"), "{}", r.stdout);
}

#[test]
fn hand_edits_of_the_stored_bytes_or_their_index_are_caught() {
    // The canonical bytes cut short: still hashed (so caught and localized), and the diff
    // and export show the row as undecodable instead of failing.
    let tmp = tempfile::tempdir().unwrap();
    generate(tmp.path(), 50, 10, 1);
    db(tmp.path())
        .execute(
            "UPDATE events SET canonical = substr(canonical, 1, length(canonical) - 1) \
             WHERE container_seq = 12",
            [],
        )
        .unwrap();
    let (code, report) = verify_json(tmp.path(), &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        failures(&report),
        vec![(2, "MERKLE_ROOT_MISMATCH".to_string())]
    );
    let findings = &report["containers"][0]["findings"];
    assert_eq!(findings[0]["kind"], "MODIFIED", "{findings:#}");
    assert_eq!(findings[0]["container_seq"], 12);
    let d = s(tmp.path());
    let r = run(&[
        "diff",
        "--data-dir",
        d,
        "--container-instance-id",
        "demo-container",
        "--batch",
        "2",
    ]);
    assert!(
        r.stdout.contains("MODIFIED   undecodable"),
        "{}{}",
        r.stdout,
        r.stderr
    );
    let out = tmp.path().join("export");
    let r = run(&["export", "--data-dir", d, "--out", s(&out)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (code, _) = verify_json(&out, &[]);
    assert_eq!(code, 1);

    // Only the container_seq index changed (the hashed bytes intact): the event is no longer
    // where its batch says, so the batch fails.
    let tmp = tempfile::tempdir().unwrap();
    generate(tmp.path(), 50, 10, 1);
    db(tmp.path())
        .execute(
            "UPDATE events SET container_seq = 14 WHERE container_seq = 13",
            [],
        )
        .unwrap();
    let (code, report) = verify_json(tmp.path(), &[]);
    assert_eq!(code, 1, "{report:#}");
    assert!(
        failures(&report).iter().all(|f| f.0 == 2),
        "{:?}",
        failures(&report)
    );
    assert!(!failures(&report).is_empty());
}

#[test]
fn export_verifies_and_catches_a_change() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out = tmp.path().join("evidence");
    generate(&data, 50, 10, 2);
    let r = run(&["export", "--data-dir", s(&data), "--out", s(&out)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(out.join("logs/demo-container-1.jsonl").is_file());
    assert!(out.join("batches/demo-container-1/batch_5.json").is_file());
    assert!(out.join("ledger/mock_chain.jsonl").is_file());
    let (code, report) = verify_json(&out, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["evidence"], "export");

    // Change one character of one event (seq 12 → batch 2).
    let log = out.join("logs/demo-container-2.jsonl");
    let text = std::fs::read_to_string(&log).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let i = lines
        .iter()
        .position(|l| l.contains("\"container_seq\":12,"))
        .unwrap();
    lines[i] = lines[i].replacen("\"pid\":", "\"pid\":1", 1);
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    let (code, report) = verify_json(&out, &[]);
    assert_eq!(code, 1);
    assert_eq!(
        failures(&report),
        vec![(2, "MERKLE_ROOT_MISMATCH".to_string())]
    );

    // Import the export into a new data dir: same verdict.
    let imported = tmp.path().join("imported");
    let r = run(&["import", "--from", s(&out), "--data-dir", s(&imported)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (code, report) = verify_json(&imported, &[]);
    assert_eq!(code, 1);
    assert_eq!(
        failures(&report),
        vec![(2, "MERKLE_ROOT_MISMATCH".to_string())]
    );
}

#[test]
fn rolled_back_tail_is_batch_missing_with_to_batch_zero() {
    let tmp = tempfile::tempdir().unwrap();
    generate(tmp.path(), 50, 10, 1);
    let conn = db(tmp.path());
    conn.execute_batch(
        "DELETE FROM events WHERE container_seq > 40;
         DELETE FROM batches WHERE container_batch_id = 5;",
    )
    .unwrap();
    let (code, report) = verify_json(tmp.path(), &["--to-batch", "0"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(failures(&report), vec![(5, "BATCH_MISSING".to_string())]);
}

#[test]
fn truncated_database_is_a_one_line_error() {
    let tmp = tempfile::tempdir().unwrap();
    generate(tmp.path(), 200, 10, 1);
    // Make sure everything is in the main file, then cut it in half.
    db(tmp.path())
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    let path = tmp.path().join("conanchor.db");
    let len = std::fs::metadata(&path).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(len / 2).unwrap();
    drop(f);
    let r = run(&["verify", "--data-dir", s(tmp.path())]);
    assert_eq!(r.code, 2, "stdout: {} stderr: {}", r.stdout, r.stderr);
    let lines: Vec<&str> = r.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{}", r.stderr);
    assert!(lines[0].starts_with("error: "), "{}", lines[0]);
    assert!(lines[0].contains("conanchor.db"), "{}", lines[0]);
}

#[test]
fn missing_data_dir_is_a_one_line_error() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope");
    let r = run(&["verify", "--data-dir", s(&missing)]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.starts_with("error: data dir"), "{}", r.stderr);
    assert_eq!(r.stderr.trim().lines().count(), 1);
    // A directory with nothing in it.
    let r = run(&["verify", "--data-dir", s(tmp.path())]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no evidence"), "{}", r.stderr);
}

fn exported(tmp: &std::path::Path) -> std::path::PathBuf {
    let data = tmp.join("data");
    let out = tmp.join("evidence");
    generate(&data, 30, 10, 1);
    assert_eq!(
        run(&["export", "--data-dir", s(&data), "--out", s(&out)]).code,
        0
    );
    out
}

#[test]
fn a_jsonl_line_that_is_not_json_is_reported_with_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    let out = exported(tmp.path());
    let log = out.join("logs/demo-container.jsonl");
    let text = std::fs::read_to_string(&log).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[14] = "{this is not json";
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    let (code, report) = verify_json(&out, &[]);
    assert_eq!(code, 1);
    let f = failures(&report);
    assert!(f.contains(&(0, "LOG_LOAD_FAILED".to_string())), "{f:?}");
    // The unreadable line was event 15 of batch 2: that batch is also short one event.
    assert!(
        f.contains(&(2, "EVENT_COUNT_MISMATCH".to_string())),
        "{f:?}"
    );
    let msg = report["containers"][0]["failures"][0]["message"]
        .as_str()
        .unwrap();
    assert!(msg.contains("line 15"), "{msg}");
    // Import refuses damaged input and leaves nothing behind.
    let target = tmp.path().join("imported");
    let r = run(&["import", "--from", s(&out), "--data-dir", s(&target)]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("line 15"), "{}", r.stderr);
    assert!(!target.join("conanchor.db").exists());
}

#[test]
fn a_batch_file_missing_a_field_is_log_load_failed() {
    let tmp = tempfile::tempdir().unwrap();
    let out = exported(tmp.path());
    let path = out.join("batches/demo-container/batch_2.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    v.as_object_mut().unwrap().remove("merkle_root");
    std::fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    let (code, report) = verify_json(&out, &[]);
    assert_eq!(code, 1);
    assert_eq!(failures(&report), vec![(2, "LOG_LOAD_FAILED".to_string())]);
    let msg = report["containers"][0]["failures"][0]["message"]
        .as_str()
        .unwrap();
    assert!(msg.contains("merkle_root"), "{msg}");
}

#[test]
fn a_mock_chain_line_with_a_wrong_hash_is_ledger_chain_invalid() {
    let tmp = tempfile::tempdir().unwrap();
    generate(tmp.path(), 30, 10, 1);
    let chain = tmp.path().join("ledger/mock_chain.jsonl");
    let text = std::fs::read_to_string(&chain).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut block: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
    block["block_hash"] = serde_json::Value::String("ab".repeat(32));
    lines[1] = serde_json::to_string(&block).unwrap();
    std::fs::write(&chain, lines.join("\n") + "\n").unwrap();
    let (code, report) = verify_json(tmp.path(), &[]);
    assert_eq!(code, 1, "{report:#}");
    let f = failures(&report);
    assert!(
        f.contains(&(0, "LEDGER_CHAIN_INVALID".to_string())),
        "{f:?}"
    );
    // A line that is not JSON at all is a broken chain too, not a crash.
    lines[1] = "garbage".into();
    std::fs::write(&chain, lines.join("\n") + "\n").unwrap();
    let (code, report) = verify_json(tmp.path(), &[]);
    assert_eq!(code, 1);
    assert!(failures(&report).contains(&(0, "LEDGER_CHAIN_INVALID".to_string())));
}

#[test]
fn missing_ledger_is_a_one_line_error() {
    let tmp = tempfile::tempdir().unwrap();
    generate(tmp.path(), 10, 10, 1);
    std::fs::remove_file(tmp.path().join("ledger/mock_chain.jsonl")).unwrap();
    let r = run(&["verify", "--data-dir", s(tmp.path())]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no mock ledger"), "{}", r.stderr);
}
