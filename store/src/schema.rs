//! SQLite schema and migrations, tracked with `PRAGMA user_version`.

use rusqlite::types::ValueRef;
use rusqlite::{Connection, Transaction};

use crate::encoding::{encode_event, EventFields};

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 2;

enum Migration {
    Sql(&'static str),
    Code(fn(&Transaction<'_>) -> rusqlite::Result<()>),
}

/// Migration `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[Migration] = &[
    // v1: the evidence store, one column per event field.
    Migration::Sql(
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
    ),
    // v2: an event is stored as its canonical bytes (what is hashed), with its container
    // and container_seq beside them as the index.
    Migration::Code(events_as_canonical_bytes),
];

/// The `events` table of schema v2.
const EVENTS_V2: &str = "
    CREATE TABLE events_v2 (
        id            INTEGER PRIMARY KEY,
        container     INTEGER NOT NULL,
        -- A copy of the canonical field, for range look-ups; verification places an event
        -- in its batch by this column and hashes `canonical`.
        container_seq INTEGER NOT NULL,
        -- Canonical encoding v1 (docs/FORMAT.md): the leaf hash is SHA-256(0x00 || canonical).
        canonical     BLOB NOT NULL
    );
";

fn bad_row(id: i64, what: String) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(
        format!(
            "events row {id}: {what}, so this schema v1 store cannot be migrated to v2 \
             (nothing was changed)"
        )
        .into(),
    )
}

fn type_name(v: ValueRef<'_>) -> String {
    v.data_type().to_string().to_lowercase()
}

/// The columns of the migration's SELECT, for its error messages.
const V1_COLUMNS: [&str; 20] = [
    "id",
    "container",
    "container",
    "container_seq",
    "global_seq",
    "timestamp_ns",
    "event_type",
    "pid",
    "tgid",
    "uid",
    "gid",
    "comm",
    "path",
    "extra",
    "flags",
    "retval",
    "cgroup_id",
    "container_id",
    "risk",
    "policy",
];

/// v1 -> v2: re-encodes every event row into its canonical bytes, keeping row ids (storage
/// order is evidence). A row v1 itself could not read (a wrong type, text that is not
/// UTF-8) stops the migration, and the transaction leaves the store as it was.
fn events_as_canonical_bytes(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(EVENTS_V2)?;
    {
        let mut read = tx.prepare(
            "SELECT e.id, e.container, COALESCE(c.container_instance_id, ''), \
             e.container_seq, e.global_seq, e.timestamp_ns, e.event_type, e.pid, e.tgid, \
             e.uid, e.gid, e.comm, e.path, e.extra, e.flags, e.retval, e.cgroup_id, \
             e.container_id, e.risk, e.policy \
             FROM events e LEFT JOIN containers c ON c.id = e.container ORDER BY e.id",
        )?;
        let mut write = tx.prepare(
            "INSERT INTO events_v2 (id, container, container_seq, canonical) \
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        let mut rows = read.query([])?;
        let mut buf = Vec::with_capacity(512);
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            let int = |i: usize| -> rusqlite::Result<i64> {
                match r.get_ref(i)? {
                    ValueRef::Integer(v) => Ok(v),
                    other => Err(bad_row(
                        id,
                        format!("{} is {}, not an integer", V1_COLUMNS[i], type_name(other)),
                    )),
                }
            };
            let id32 = |i: usize| -> rusqlite::Result<u32> {
                let v = int(i)?;
                u32::try_from(v)
                    .map_err(|_| bad_row(id, format!("{} {v} does not fit 32 bits", V1_COLUMNS[i])))
            };
            let text = |i: usize| -> rusqlite::Result<&str> {
                match r.get_ref(i)? {
                    ValueRef::Text(t) => std::str::from_utf8(t)
                        .map_err(|_| bad_row(id, format!("{} is not UTF-8", V1_COLUMNS[i]))),
                    other => Err(bad_row(
                        id,
                        format!("{} is {}, not text", V1_COLUMNS[i], type_name(other)),
                    )),
                }
            };
            let container = int(1)?;
            let container_seq = int(3)?;
            let fields = EventFields {
                container_seq: container_seq as u64,
                global_seq: int(4)? as u64,
                timestamp_ns: int(5)? as u64,
                event_type: text(6)?,
                pid: id32(7)?,
                tgid: id32(8)?,
                uid: id32(9)?,
                gid: id32(10)?,
                comm: text(11)?,
                path: text(12)?,
                extra: text(13)?,
                flags: int(14)? as u64,
                retval: int(15)?,
                cgroup_id: text(16)?,
                container_id: text(17)?,
                container_instance_id: text(2)?,
                risk: text(18)?,
                policy: text(19)?,
            };
            buf.clear();
            encode_event(&fields, &mut buf);
            write.execute(rusqlite::params![id, container, container_seq, buf])?;
        }
    }
    tx.execute_batch(
        "DROP TABLE events;
         ALTER TABLE events_v2 RENAME TO events;
         CREATE INDEX events_by_container_seq ON events (container, container_seq);",
    )
}

/// Brings a database to [`SCHEMA_VERSION`]; returns the version found before.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<i64> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let tx = conn.transaction()?;
    for (from, step) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        match step {
            Migration::Sql(sql) => tx.execute_batch(sql)?,
            Migration::Code(f) => f(&tx)?,
        }
        tx.pragma_update(None, "user_version", from as i64 + 1)?;
    }
    tx.commit()?;
    Ok(found)
}
