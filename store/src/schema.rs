//! SQLite schema and migrations, tracked with `PRAGMA user_version`.

use rusqlite::Connection;

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 1;

/// Migration `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // v1: the evidence store.
    "
    CREATE TABLE counters (
        name  TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    );
    INSERT INTO counters (name, value) VALUES ('next_global_seq', 1);

    CREATE TABLE containers (
        id                    INTEGER PRIMARY KEY,
        container_instance_id TEXT NOT NULL UNIQUE,
        container_id          TEXT NOT NULL,
        cgroup_id             TEXT NOT NULL,
        next_container_seq    INTEGER NOT NULL,
        next_batch_id         INTEGER NOT NULL,
        last_batch_hash       TEXT NOT NULL,
        open_dropped          INTEGER NOT NULL DEFAULT 0,
        first_seen_ns         INTEGER NOT NULL,
        last_seen_ns          INTEGER NOT NULL
    );

    -- One row per event. Not unique on (container, container_seq) on purpose: the store
    -- holds whatever is on disk, and the verifier reports duplicates as insertions.
    CREATE TABLE events (
        id            INTEGER PRIMARY KEY,
        container     INTEGER NOT NULL,
        container_seq INTEGER NOT NULL,
        global_seq    INTEGER NOT NULL,
        timestamp_ns  INTEGER NOT NULL,
        event_type    TEXT NOT NULL,
        pid           INTEGER NOT NULL,
        tgid          INTEGER NOT NULL,
        uid           INTEGER NOT NULL,
        gid           INTEGER NOT NULL,
        comm          TEXT NOT NULL,
        path          TEXT NOT NULL,
        extra         TEXT NOT NULL,
        flags         INTEGER NOT NULL,
        retval        INTEGER NOT NULL,
        cgroup_id     TEXT NOT NULL,
        container_id  TEXT NOT NULL,
        risk          TEXT NOT NULL,
        policy        TEXT NOT NULL
    );
    CREATE INDEX events_by_container_seq ON events (container, container_seq);

    -- Sealed batches. `leaves` is the stored leaf list (log_tags) packed as
    -- event_count x (global_seq u64 BE, container_seq u64 BE, leaf hash 32 bytes).
    CREATE TABLE batches (
        container                     INTEGER NOT NULL,
        container_batch_id            INTEGER NOT NULL,
        first_container_seq           INTEGER NOT NULL,
        last_container_seq            INTEGER NOT NULL,
        first_global_seq              INTEGER NOT NULL,
        last_global_seq               INTEGER NOT NULL,
        event_count                   INTEGER NOT NULL,
        dropped_event_count           INTEGER NOT NULL,
        start_time_ns                 INTEGER NOT NULL,
        end_time_ns                   INTEGER NOT NULL,
        previous_container_batch_hash TEXT NOT NULL,
        merkle_root                   TEXT NOT NULL,
        container_batch_hash          TEXT NOT NULL,
        collector_id                  TEXT NOT NULL,
        leaves                        BLOB NOT NULL,
        sealed_at_ns                  INTEGER NOT NULL,
        tx_id                         TEXT,
        block_height                  INTEGER,
        anchored_at_ns                INTEGER,
        PRIMARY KEY (container, container_batch_id)
    );

    -- Sealed batches not yet on the ledger.
    CREATE TABLE anchor_outbox (
        container          INTEGER NOT NULL,
        container_batch_id INTEGER NOT NULL,
        enqueued_ns        INTEGER NOT NULL,
        attempts           INTEGER NOT NULL DEFAULT 0,
        last_error         TEXT,
        PRIMARY KEY (container, container_batch_id)
    );

    -- Deliberate tampering (the attack lab), so a demo can be undone. Never read by verify.
    CREATE TABLE attack_journal (
        id          INTEGER PRIMARY KEY,
        at_ns       INTEGER NOT NULL,
        attack      TEXT NOT NULL,
        target      TEXT NOT NULL,
        description TEXT NOT NULL,
        undo        TEXT NOT NULL,
        restored    INTEGER NOT NULL DEFAULT 0
    );
    ",
];

/// Brings a database to [`SCHEMA_VERSION`]; returns the version found before.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<i64> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let tx = conn.transaction()?;
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", from as i64 + 1)?;
    }
    tx.commit()?;
    Ok(found)
}
