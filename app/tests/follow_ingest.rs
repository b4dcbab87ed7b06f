//! `collect --input FILE --follow` through the real binary, like `tail -F`: lines appended
//! (one of them in two writes), the file rotated (renamed away, late writes to the old one,
//! a new file), truncated and rewritten. Every line is stored exactly once, container_seq
//! has no gap, the counts match, SIGTERM seals and anchors, verify is OK.

mod common;

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use common::*;

const WAIT: Duration = Duration::from_secs(20);

/// A Falco alert whose `proc.pid` is `n` (the line's identity in the checks).
fn alert(n: u32) -> String {
    format!(
        concat!(
            r#"{{"hostname":"node-1","output":"Warning ConAnchor service account token read (pid={n})","#,
            r#""output_fields":{{"container.id":"c0ffee000001","evt.type":"openat","#,
            r#""fd.name":"/var/run/secrets/kubernetes.io/serviceaccount/token","#,
            r#""k8s.ns.name":"default","k8s.pod.name":"web-1","proc.name":"cat","proc.pid":{n},"user.uid":0}},"#,
            r#""priority":"Warning","rule":"ConAnchor service account token read","source":"syscall","#,
            r#""tags":["conanchor"],"time":"2024-03-09T16:00:{s:02}.{n:09}Z"}}"#
        ),
        n = n,
        s = n % 60
    )
}

fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f.sync_all().unwrap();
}

fn lines(range: std::ops::Range<u32>) -> String {
    range.map(|n| alert(n) + "\n").collect()
}

#[test]
fn follow_survives_append_rotation_and_truncation_without_loss_or_duplicates() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("events.json");
    let data = tmp.path().join("data");
    // already there before the collector starts: read from the start
    append(&file, &lines(1..11));
    let collector = Background::spawn(&[
        "collect",
        "--source",
        "falco",
        "--input",
        file.to_str().unwrap(),
        "--follow",
        "--data-dir",
        data.to_str().unwrap(),
        "--batch-size",
        "4",
        "--batch-interval",
        "300ms",
        "--quiet",
        "--workflow-log",
    ]);
    wait_for_events(&data, 10, WAIT);

    // appended, one line in two writes (the half line waits for its newline)
    append(&file, &lines(11..16));
    let half = alert(16);
    let (a, b) = half.split_at(40);
    append(&file, a);
    std::thread::sleep(Duration::from_millis(300));
    append(&file, &format!("{b}\n"));
    append(&file, &lines(17..21));
    wait_for_events(&data, 20, WAIT);

    // rotation: renamed away, late writes to the old file, a new file under the name
    let rotated = tmp.path().join("events.json.1");
    std::fs::rename(&file, &rotated).unwrap();
    append(&rotated, &lines(21..24));
    append(&file, &lines(24..30));
    append(&rotated, &lines(30..32));
    collector.wait_for_line("was rotated", WAIT);
    wait_for_events(&data, 31, WAIT);
    append(&file, &lines(32..36));
    wait_for_events(&data, 35, WAIT);

    // truncation (copytruncate-style): emptied in place, then written again
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&file)
        .unwrap();
    collector.wait_for_line("was truncated", WAIT);
    append(&file, &lines(36..41));
    wait_for_events(&data, 40, WAIT);

    let (code, stderr) = collector.terminate();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("ingested 40, rejected 0"), "{stderr}");

    let mut rows: Vec<(u64, u32)> = stored_events(&data)
        .iter()
        .map(|e| (e.container_seq, e.pid))
        .collect();
    rows.sort_unstable();
    // one container, sequence 1..=40 without gaps
    let seqs: Vec<u64> = rows.iter().map(|r| r.0).collect();
    assert_eq!(seqs, (1..=40).collect::<Vec<_>>());
    // every line exactly once
    let mut pids: Vec<u32> = rows.iter().map(|r| r.1).collect();
    pids.sort_unstable();
    assert_eq!(pids, (1..=40).collect::<Vec<_>>());
    // appends keep their order
    let order: Vec<u32> = rows.iter().map(|r| r.1).collect();
    assert_eq!(order[..20], (1..=20).collect::<Vec<_>>()[..]);
    assert_eq!(order[35..], (36..=40).collect::<Vec<_>>()[..]);

    let (code, report) = verify_json(&data, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["verified_events"], 40);
}

#[test]
fn follow_stops_on_sigint_and_anchors_the_partial_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("tetragon.log");
    let data = tmp.path().join("data");
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tetragon_events.jsonl");
    std::fs::copy(fixture, &file).unwrap();
    let collector = Background::spawn(&[
        "collect",
        "--source",
        "tetragon",
        "--input",
        file.to_str().unwrap(),
        "--follow",
        "--data-dir",
        data.to_str().unwrap(),
        "--batch-size",
        "100",
        "--batch-interval",
        "1h",
        "--quiet",
    ]);
    wait_for_events(&data, 7, WAIT);
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(collector.child.id() as i32, libc::SIGINT) };
    let (code, stderr) = collector.wait();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("ingested 7, rejected 0"), "{stderr}");
    let (code, report) = verify_json(&data, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["verified_events"], 7);
}
