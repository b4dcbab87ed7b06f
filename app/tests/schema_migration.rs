//! Schema v1 (one column per event field) is migrated to v2 (canonical bytes) on open,
//! and the migrated store still verifies against the ledger anchored before.

mod common;

use common::*;

/// Rewrites a v2 store's events into schema v1's layout, as a store written by an older
/// ConAnchor holds them, and marks the file as version 1.
fn downgrade_to_v1(dir: &std::path::Path) {
    let db = db(dir);
    let rows: Vec<(i64, i64, Vec<u8>)> = db
        .prepare("SELECT id, container, canonical FROM events ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    db.execute_batch(
        "DROP TABLE events;
         CREATE TABLE events (
             id INTEGER PRIMARY KEY, container INTEGER NOT NULL,
             container_seq INTEGER NOT NULL, global_seq INTEGER NOT NULL,
             timestamp_ns INTEGER NOT NULL, event_type TEXT NOT NULL,
             pid INTEGER NOT NULL, tgid INTEGER NOT NULL, uid INTEGER NOT NULL,
             gid INTEGER NOT NULL, comm TEXT NOT NULL, path TEXT NOT NULL,
             extra TEXT NOT NULL, flags INTEGER NOT NULL, retval INTEGER NOT NULL,
             cgroup_id TEXT NOT NULL, container_id TEXT NOT NULL, risk TEXT NOT NULL,
             policy TEXT NOT NULL);
         CREATE INDEX events_by_container_seq ON events (container, container_seq);",
    )
    .unwrap();
    for (id, container, bytes) in rows {
        let e = conanchor_store::encoding::decode_event(&bytes).unwrap();
        db.execute(
            "INSERT INTO events VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19)",
            rusqlite::params![
                id,
                container,
                e.container_seq as i64,
                e.global_seq as i64,
                e.timestamp_ns as i64,
                e.event_type,
                e.pid,
                e.tgid,
                e.uid,
                e.gid,
                e.comm,
                e.path,
                e.extra,
                e.flags as i64,
                e.retval,
                e.cgroup_id,
                e.container_id,
                e.risk,
                e.policy
            ],
        )
        .unwrap();
    }
    db.pragma_update(None, "user_version", 1).unwrap();
}

fn user_version(dir: &std::path::Path) -> i64 {
    db(dir)
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_v1_store_is_migrated_and_still_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    generate(tmp.path(), 60, 10, 2);
    let before = stored_events(tmp.path());
    downgrade_to_v1(tmp.path());
    assert_eq!(user_version(tmp.path()), 1);

    let (code, report) = verify_json(tmp.path(), &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["verified_events"], 120);
    assert_eq!(user_version(tmp.path()), 2);
    // Same events, same row order (storage order is evidence).
    assert_eq!(stored_events(tmp.path()), before);

    // A tampered v1 store is still caught after the migration.
    downgrade_to_v1(tmp.path());
    db(tmp.path())
        .execute("UPDATE events SET path = path || 'x' WHERE id = 7", [])
        .unwrap();
    let (code, report) = verify_json(tmp.path(), &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["status"], "FAILED");
}

#[test]
fn a_v1_row_that_cannot_be_encoded_stops_the_migration_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    generate(tmp.path(), 20, 10, 1);
    downgrade_to_v1(tmp.path());
    db(tmp.path())
        .execute("UPDATE events SET pid = 'not a pid' WHERE id = 3", [])
        .unwrap();
    let r = run(&["verify", "--data-dir", tmp.path().to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("events row 3: pid is text, not an integer"),
        "{}",
        r.stderr
    );
    assert_eq!(user_version(tmp.path()), 1);
    let pid: String = db(tmp.path())
        .query_row("SELECT pid FROM events WHERE id = 3", [], |r| r.get(0))
        .unwrap();
    assert_eq!(pid, "not a pid");
}
