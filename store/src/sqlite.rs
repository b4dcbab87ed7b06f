//! The SQLite evidence store (`<data-dir>/conanchor.db`, WAL).
//!
//! One writer (the pipeline's [`crate::writer::Writer`]) appends events and sealed batches in
//! group-committed transactions; the anchorer and readers use their own connections.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension};

use crate::encoding::{
    canonical_event, canonical_u64_at, decode_event, leaf_hash_of_canonical, GLOBAL_SEQ_AT,
    TIMESTAMP_AT,
};
use crate::error::{Result, StoreError};
use crate::hash::Hash32;
use crate::model::{AnchorState, Batch, BatchHeader, Event, LogTagRef};
use crate::reader::{EvidenceReader, LeafRow};
use crate::schema::{self, SCHEMA_VERSION};

mod scan;

/// File name of the database inside a data dir.
pub const DB_FILE: &str = "conanchor.db";

/// Bytes of one packed leaf tag: global_seq u64 BE, container_seq u64 BE, hash.
pub const PACKED_TAG_LEN: usize = 48;

/// A container's persisted sequencing state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerRow {
    pub key: i64,
    pub container_instance_id: String,
    pub container_id: String,
    pub cgroup_id: String,
    pub next_container_seq: u64,
    pub next_batch_id: u64,
    pub last_batch_hash: Hash32,
    pub open_dropped: u64,
    pub first_seen_ns: u64,
    pub last_seen_ns: u64,
}

/// A batch that the ledger accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchoredItem {
    pub container_instance_id: String,
    pub container_batch_id: u64,
    pub tx_id: String,
    pub block_height: u64,
}

/// An event as the store keeps it: its container's row key, the event, and its canonical
/// bytes (exactly the bytes its leaf hash covers).
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub key: i64,
    pub event: Event,
    pub canonical: Vec<u8>,
}

impl StoredEvent {
    pub fn new(key: i64, event: Event) -> StoredEvent {
        let canonical = canonical_event(&event);
        StoredEvent {
            key,
            event,
            canonical,
        }
    }
}

/// Everything one group commit writes.
#[derive(Debug, Default)]
pub struct CommitSet {
    pub containers: Vec<ContainerRow>,
    pub events: Vec<StoredEvent>,
    pub batches: Vec<(i64, BatchHeader, Vec<LogTagRef>)>,
    pub next_global_seq: u64,
    pub sealed_at_ns: u64,
}

/// Totals for status lines and benchmarks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub containers: u64,
    pub events: u64,
    pub batches: u64,
    pub pending_anchors: u64,
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
    keys: HashMap<String, i64>,
}

pub fn pack_leaves(tags: &[LogTagRef]) -> Vec<u8> {
    let mut out = Vec::with_capacity(tags.len() * PACKED_TAG_LEN);
    for t in tags {
        out.extend_from_slice(&t.global_seq.to_be_bytes());
        out.extend_from_slice(&t.container_seq.to_be_bytes());
        out.extend_from_slice(t.hash.as_bytes());
    }
    out
}

pub fn unpack_leaves(bytes: &[u8]) -> Option<Vec<LogTagRef>> {
    if !bytes.len().is_multiple_of(PACKED_TAG_LEN) {
        return None;
    }
    bytes
        .chunks_exact(PACKED_TAG_LEN)
        .map(|c| {
            Some(LogTagRef {
                global_seq: u64::from_be_bytes(c[0..8].try_into().ok()?),
                container_seq: u64::from_be_bytes(c[8..16].try_into().ok()?),
                hash: Hash32::from_slice(&c[16..48])?,
            })
        })
        .collect()
}

fn is_corruption(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
    )
}

/// SQLite stores signed 64-bit integers; u64 fields are stored bit-for-bit.
fn u(v: i64) -> u64 {
    v as u64
}
fn s(v: u64) -> i64 {
    v as i64
}

impl Store {
    /// Opens (creating if needed) the store in `data_dir`.
    pub fn create(data_dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(data_dir).map_err(|e| StoreError::io(data_dir, e))?;
        Self::open_path(&data_dir.join(DB_FILE), true)
    }

    /// Opens an existing store; [`StoreError::NotFound`] when `data_dir` has none.
    pub fn open_existing(data_dir: &Path) -> Result<Store> {
        let path = data_dir.join(DB_FILE);
        if !path.is_file() {
            return Err(StoreError::NotFound {
                path: data_dir.to_path_buf(),
            });
        }
        Self::open_path(&path, false)
    }

    /// True when `data_dir` holds a database.
    pub fn exists_in(data_dir: &Path) -> bool {
        data_dir.join(DB_FILE).is_file()
    }

    fn open_path(path: &Path, create: bool) -> Result<Store> {
        let flags = if create {
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE
        } | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let corrupt = |e: rusqlite::Error| StoreError::Corrupt {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let mut conn = Connection::open_with_flags(path, flags).map_err(corrupt)?;
        conn.busy_timeout(Duration::from_secs(15))
            .map_err(corrupt)?;
        // A new file gets 16 KiB pages (set before WAL mode and the first table): a group
        // commit writes a quarter as many WAL frames, each one a system call.
        if create {
            conn.execute_batch("PRAGMA page_size=16384")
                .map_err(corrupt)?;
        }
        // journal_mode is the first statement that reads the file: a damaged header fails here.
        let _: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(corrupt)?;
        conn.execute_batch(
            "PRAGMA synchronous=NORMAL; PRAGMA cache_size=-32768; PRAGMA temp_store=MEMORY;",
        )
        .map_err(corrupt)?;
        let found: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(corrupt)?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                path: path.to_path_buf(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
        if !create && found == 0 {
            return Err(StoreError::Corrupt {
                path: path.to_path_buf(),
                reason: "it has no ConAnchor schema".into(),
            });
        }
        if found < SCHEMA_VERSION {
            schema::migrate(&mut conn).map_err(corrupt)?;
        }
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
            keys: HashMap::new(),
        };
        // Reading every container proves the schema's pages are readable.
        store.refresh_keys()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Gives raw access for the attack lab and tests. Verification never needs it.
    pub fn connection(&mut self) -> &mut Connection {
        &mut self.conn
    }

    pub(crate) fn err(&self, e: rusqlite::Error) -> StoreError {
        if is_corruption(&e) {
            StoreError::Corrupt {
                path: self.path.clone(),
                reason: e.to_string(),
            }
        } else {
            StoreError::Sqlite {
                path: self.path.clone(),
                source: e,
            }
        }
    }

    fn refresh_keys(&mut self) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, container_instance_id FROM containers")
            .map_err(|e| self_err(&self.path, e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(1)?, r.get::<_, i64>(0)?)))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self_err(&self.path, e))?;
        drop(stmt);
        self.keys = rows.into_iter().collect();
        Ok(())
    }

    fn key(&mut self, cid: &str) -> Result<Option<i64>> {
        if let Some(k) = self.keys.get(cid) {
            return Ok(Some(*k));
        }
        self.refresh_keys()?;
        Ok(self.keys.get(cid).copied())
    }

    // ---- writer side -------------------------------------------------------------------

    pub fn load_containers(&self) -> Result<Vec<ContainerRow>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, container_instance_id, container_id, cgroup_id, next_container_seq, \
                 next_batch_id, last_batch_hash, open_dropped, first_seen_ns, last_seen_ns \
                 FROM containers ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    ContainerRow {
                        key: r.get(0)?,
                        container_instance_id: r.get(1)?,
                        container_id: r.get(2)?,
                        cgroup_id: r.get(3)?,
                        next_container_seq: u(r.get(4)?),
                        next_batch_id: u(r.get(5)?),
                        last_batch_hash: Hash32::ZERO,
                        open_dropped: u(r.get(7)?),
                        first_seen_ns: u(r.get(8)?),
                        last_seen_ns: u(r.get(9)?),
                    },
                    r.get::<_, String>(6)?,
                ))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.err(e))?;
        rows.into_iter()
            .map(|(mut row, hash)| {
                row.last_batch_hash = hash.parse().map_err(|e| StoreError::Corrupt {
                    path: self.path.clone(),
                    reason: format!(
                        "container {}: last_batch_hash {e}",
                        row.container_instance_id
                    ),
                })?;
                Ok(row)
            })
            .collect()
    }

    pub fn next_global_seq(&self) -> Result<u64> {
        self.conn
            .query_row(
                "SELECT value FROM counters WHERE name = 'next_global_seq'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(u)
            .map_err(|e| self.err(e))
    }

    /// Unsealed events of a container (seq >= `from_seq`) as leaf tags with timestamps.
    pub fn open_leaves(&mut self, cid: &str, from_seq: u64) -> Result<Vec<(LogTagRef, u64)>> {
        Ok(self
            .leaves_in_range(cid, from_seq, u64::MAX >> 1)?
            .into_iter()
            .map(|l| {
                (
                    LogTagRef {
                        global_seq: l.global_seq,
                        container_seq: l.container_seq,
                        hash: l.hash,
                    },
                    l.timestamp_ns,
                )
            })
            .collect())
    }

    /// The last sealed `container_seq` of a container (0 when none is sealed).
    pub fn last_sealed_seq(&self, key: i64) -> Result<u64> {
        self.conn
            .query_row(
                "SELECT COALESCE(max(last_container_seq), 0) FROM batches WHERE container = ?1",
                [key],
                |r| r.get::<_, i64>(0),
            )
            .map(u)
            .map_err(|e| self.err(e))
    }

    /// Writes one group commit atomically.
    pub fn commit(&mut self, set: &CommitSet) -> Result<()> {
        let path = self.path.clone();
        let e = |e| self_err(&path, e);
        let tx = self.conn.transaction().map_err(e)?;
        {
            let mut up = tx
                .prepare_cached(
                    "INSERT INTO containers (id, container_instance_id, container_id, cgroup_id, \
                     next_container_seq, next_batch_id, last_batch_hash, open_dropped, \
                     first_seen_ns, last_seen_ns) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10) \
                     ON CONFLICT(id) DO UPDATE SET next_container_seq=excluded.next_container_seq, \
                     next_batch_id=excluded.next_batch_id, last_batch_hash=excluded.last_batch_hash, \
                     open_dropped=excluded.open_dropped, last_seen_ns=excluded.last_seen_ns, \
                     cgroup_id=excluded.cgroup_id",
                )
                .map_err(e)?;
            for c in &set.containers {
                up.execute(params![
                    c.key,
                    c.container_instance_id,
                    c.container_id,
                    c.cgroup_id,
                    s(c.next_container_seq),
                    s(c.next_batch_id),
                    c.last_batch_hash.to_hex(),
                    s(c.open_dropped),
                    s(c.first_seen_ns),
                    s(c.last_seen_ns),
                ])
                .map_err(e)?;
            }
            let mut ins = tx
                .prepare_cached(
                    "INSERT INTO events (container, container_seq, canonical) VALUES (?1,?2,?3)",
                )
                .map_err(e)?;
            for ev in &set.events {
                ins.execute(params![ev.key, s(ev.event.container_seq), ev.canonical])
                    .map_err(e)?;
            }
            let mut bat = tx
                .prepare_cached(
                    "INSERT INTO batches (container, container_batch_id, first_container_seq, \
                     last_container_seq, first_global_seq, last_global_seq, event_count, \
                     dropped_event_count, start_time_ns, end_time_ns, \
                     previous_container_batch_hash, merkle_root, container_batch_hash, \
                     collector_id, leaves, sealed_at_ns) \
                     VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16)",
                )
                .map_err(e)?;
            let mut outbox = tx
                .prepare_cached(
                    "INSERT INTO anchor_outbox (container, container_batch_id, enqueued_ns) \
                     VALUES (?1, ?2, ?3)",
                )
                .map_err(e)?;
            for (key, h, tags) in &set.batches {
                bat.execute(params![
                    key,
                    s(h.container_batch_id),
                    s(h.first_container_seq),
                    s(h.last_container_seq),
                    s(h.first_global_seq),
                    s(h.last_global_seq),
                    s(h.event_count),
                    s(h.dropped_event_count),
                    s(h.start_time_ns),
                    s(h.end_time_ns),
                    h.previous_container_batch_hash.to_hex(),
                    h.merkle_root.to_hex(),
                    h.container_batch_hash.to_hex(),
                    h.collector_id,
                    pack_leaves(tags),
                    s(set.sealed_at_ns),
                ])
                .map_err(e)?;
                outbox
                    .execute(params![key, s(h.container_batch_id), s(set.sealed_at_ns)])
                    .map_err(e)?;
            }
            tx.execute(
                "UPDATE counters SET value = ?1 WHERE name = 'next_global_seq'",
                params![s(set.next_global_seq)],
            )
            .map_err(e)?;
        }
        tx.commit().map_err(e)?;
        for c in &set.containers {
            self.keys.insert(c.container_instance_id.clone(), c.key);
        }
        Ok(())
    }

    // ---- anchorer side -----------------------------------------------------------------

    /// Up to `limit` sealed batches waiting for the ledger, oldest first, each container's
    /// in batch order.
    pub fn pending_anchor_batches(&self, limit: usize) -> Result<Vec<BatchHeader>> {
        let sql = format!(
            "SELECT {BATCH_COLUMNS} FROM anchor_outbox o \
             JOIN batches b ON b.container = o.container AND b.container_batch_id = o.container_batch_id \
             JOIN containers c ON c.id = b.container \
             ORDER BY o.enqueued_ns, b.container, b.container_batch_id LIMIT ?1"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([limit as i64], header_from_row)
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.err(e))?;
        rows.into_iter()
            .map(|r| r.map_err(|m| self.corrupt(m)))
            .collect()
    }

    pub fn mark_anchored(&mut self, items: &[AnchoredItem], now_ns: u64) -> Result<()> {
        let path = self.path.clone();
        let e = |e| self_err(&path, e);
        let keys: Vec<Option<i64>> = items
            .iter()
            .map(|i| self.key(&i.container_instance_id))
            .collect::<Result<_>>()?;
        let tx = self.conn.transaction().map_err(e)?;
        {
            let mut upd = tx
                .prepare_cached(
                    "UPDATE batches SET tx_id = ?3, block_height = ?4, anchored_at_ns = ?5 \
                     WHERE container = ?1 AND container_batch_id = ?2",
                )
                .map_err(e)?;
            let mut del = tx
                .prepare_cached(
                    "DELETE FROM anchor_outbox WHERE container = ?1 AND container_batch_id = ?2",
                )
                .map_err(e)?;
            for (item, key) in items.iter().zip(keys) {
                let Some(key) = key else { continue };
                let id = s(item.container_batch_id);
                upd.execute(params![
                    key,
                    id,
                    item.tx_id,
                    s(item.block_height),
                    s(now_ns)
                ])
                .map_err(e)?;
                del.execute(params![key, id]).map_err(e)?;
            }
        }
        tx.commit().map_err(e)
    }

    /// Records a failed anchoring attempt; the batches stay in the outbox.
    pub fn note_anchor_failure(&mut self, batches: &[(String, u64)], error: &str) -> Result<()> {
        let path = self.path.clone();
        let e = |e| self_err(&path, e);
        let keys: Vec<Option<i64>> = batches
            .iter()
            .map(|(cid, _)| self.key(cid))
            .collect::<Result<_>>()?;
        let tx = self.conn.transaction().map_err(e)?;
        {
            let mut upd = tx
                .prepare_cached(
                    "UPDATE anchor_outbox SET attempts = attempts + 1, last_error = ?3 \
                     WHERE container = ?1 AND container_batch_id = ?2",
                )
                .map_err(e)?;
            for ((_, id), key) in batches.iter().zip(keys) {
                if let Some(key) = key {
                    upd.execute(params![key, s(*id), error]).map_err(e)?;
                }
            }
        }
        tx.commit().map_err(e)
    }

    pub fn stats(&self) -> Result<StoreStats> {
        let q = |sql: &str| -> Result<u64> {
            self.conn
                .query_row(sql, [], |r| r.get::<_, i64>(0))
                .map(u)
                .map_err(|e| self.err(e))
        };
        Ok(StoreStats {
            containers: q("SELECT count(*) FROM containers")?,
            events: q("SELECT count(*) FROM events")?,
            batches: q("SELECT count(*) FROM batches")?,
            pending_anchors: q("SELECT count(*) FROM anchor_outbox")?,
        })
    }

    pub fn anchor_state(&mut self, cid: &str, batch_id: u64) -> Result<Option<AnchorState>> {
        let Some(key) = self.key(cid)? else {
            return Ok(None);
        };
        let row = self
            .conn
            .query_row(
                "SELECT b.tx_id, b.block_height, o.attempts, o.last_error FROM batches b \
                 LEFT JOIN anchor_outbox o ON o.container = b.container \
                 AND o.container_batch_id = b.container_batch_id \
                 WHERE b.container = ?1 AND b.container_batch_id = ?2",
                params![key, s(batch_id)],
                |r| {
                    Ok((
                        r.get::<_, Option<String>>(0)?,
                        r.get::<_, Option<i64>>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                        r.get::<_, Option<String>>(3)?,
                    ))
                },
            )
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(
            row.map(|(tx, height, attempts, last_error)| match (tx, height) {
                (Some(tx_id), Some(h)) => AnchorState::Anchored {
                    tx_id,
                    block_height: u(h),
                },
                _ => AnchorState::Pending {
                    attempts: attempts.unwrap_or(0) as u32,
                    last_error,
                },
            }),
        )
    }

    fn corrupt(&self, reason: String) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            reason,
        }
    }

    /// The stored rows of a container with `first <= container_seq <= last`, in storage
    /// order, each given to `f` as (container_seq column, canonical bytes).
    fn range_query<T>(
        &mut self,
        cid: &str,
        first: u64,
        last: u64,
        mut f: impl FnMut(u64, &[u8]) -> T,
    ) -> Result<Vec<T>> {
        let Some(key) = self.key(cid)? else {
            return Ok(Vec::new());
        };
        let path = self.path.clone();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, container_seq, canonical FROM events WHERE container = ?1 \
                 AND container_seq BETWEEN ?2 AND ?3 ORDER BY id",
            )
            .map_err(|e| self_err(&path, e))?;
        let mut rows = stmt
            .query(params![key, s(first), s(last)])
            .map_err(|e| self_err(&path, e))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| self_err(&path, e))? {
            let id: i64 = row.get(0).map_err(|e| self_err(&path, e))?;
            let corrupt = |reason: String| StoreError::Corrupt {
                path: path.clone(),
                reason: format!("events row {id}: {reason}"),
            };
            let seq = match row.get_ref(1).map_err(|e| self_err(&path, e))? {
                ValueRef::Integer(v) => u(v),
                other => return Err(corrupt(format!("container_seq is {}", other.data_type()))),
            };
            let bytes = canonical_bytes(row.get_ref(2).map_err(|e| self_err(&path, e))?)
                .map_err(corrupt)?;
            out.push(f(seq, bytes));
        }
        Ok(out)
    }
}

/// The bytes of a `canonical` value. Text is taken as its bytes too: the hash decides.
fn canonical_bytes(v: ValueRef<'_>) -> std::result::Result<&[u8], String> {
    match v {
        ValueRef::Blob(b) | ValueRef::Text(b) => Ok(b),
        other => Err(format!("canonical is {}, not bytes", other.data_type())),
    }
}

/// What the store shows for stored bytes that are not a canonical event (damaged, or edited
/// by hand): the fixed-position fields that are there and why the rest is not, so the diff
/// and the export still show the row. Its leaf is still the stored bytes' hash
/// ([`leaf_of`]), which verification reports; this stand-in never hashes to an anchored leaf.
fn undecodable_event(cid: &str, seq: u64, canonical: &[u8], reason: &str) -> Event {
    Event {
        container_seq: seq,
        global_seq: canonical_u64_at(canonical, GLOBAL_SEQ_AT).unwrap_or(0),
        timestamp_ns: canonical_u64_at(canonical, TIMESTAMP_AT).unwrap_or(0),
        event_type: "undecodable".into(),
        extra: format!(
            "the {} stored bytes are not a canonical event: {reason}",
            canonical.len()
        ),
        container_instance_id: cid.to_string(),
        ..Event::default()
    }
}

/// A leaf read from a stored row: placed by the row's `container_seq`, hashed over its
/// canonical bytes (global_seq and the timestamp, informational, from those bytes).
fn leaf_of(seq: u64, canonical: &[u8], buf: &mut Vec<u8>) -> LeafRow {
    LeafRow {
        container_seq: seq,
        global_seq: canonical_u64_at(canonical, GLOBAL_SEQ_AT).unwrap_or(0),
        timestamp_ns: canonical_u64_at(canonical, TIMESTAMP_AT).unwrap_or(0),
        hash: leaf_hash_of_canonical(canonical, buf),
    }
}

fn self_err(path: &Path, e: rusqlite::Error) -> StoreError {
    if is_corruption(&e) {
        StoreError::Corrupt {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }
    } else {
        StoreError::Sqlite {
            path: path.to_path_buf(),
            source: e,
        }
    }
}

const BATCH_COLUMNS: &str =
    "c.container_instance_id, b.container_batch_id, b.first_container_seq, \
     b.last_container_seq, b.first_global_seq, b.last_global_seq, b.event_count, \
     b.dropped_event_count, b.start_time_ns, b.end_time_ns, b.previous_container_batch_hash, \
     b.merkle_root, b.container_batch_hash, b.collector_id, b.leaves, b.tx_id, b.block_height";

/// Reads a header; the inner error names a damaged hash column.
fn header_from_row(
    r: &rusqlite::Row<'_>,
) -> rusqlite::Result<std::result::Result<BatchHeader, String>> {
    let cid: String = r.get(0)?;
    let id = u(r.get(1)?);
    let hash = |i: usize, name: &str| -> rusqlite::Result<std::result::Result<Hash32, String>> {
        let text: String = r.get(i)?;
        Ok(text
            .parse::<Hash32>()
            .map_err(|e| format!("batch {cid}/{id}: {name}: {e}")))
    };
    let prev = hash(10, "previous_container_batch_hash")?;
    let root = hash(11, "merkle_root")?;
    let bh = hash(12, "container_batch_hash")?;
    let header = (|| -> std::result::Result<BatchHeader, String> {
        Ok(BatchHeader {
            container_instance_id: cid.clone(),
            container_batch_id: id,
            first_container_seq: u(r.get(2).map_err(|e| e.to_string())?),
            last_container_seq: u(r.get(3).map_err(|e| e.to_string())?),
            first_global_seq: u(r.get(4).map_err(|e| e.to_string())?),
            last_global_seq: u(r.get(5).map_err(|e| e.to_string())?),
            event_count: u(r.get(6).map_err(|e| e.to_string())?),
            dropped_event_count: u(r.get(7).map_err(|e| e.to_string())?),
            start_time_ns: u(r.get(8).map_err(|e| e.to_string())?),
            end_time_ns: u(r.get(9).map_err(|e| e.to_string())?),
            previous_container_batch_hash: prev?,
            merkle_root: root?,
            container_batch_hash: bh?,
            collector_id: r.get(13).map_err(|e| e.to_string())?,
        })
    })();
    Ok(header)
}

impl EvidenceReader for Store {
    fn kind(&self) -> &'static str {
        "sqlite"
    }

    fn location(&self) -> &Path {
        &self.path
    }

    fn container_ids(&mut self) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT container_instance_id FROM containers ORDER BY container_instance_id",
            )
            .map_err(|e| self_err(&self.path, e))?;
        let ids = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self_err(&self.path, e))?;
        Ok(ids)
    }

    fn batch(
        &mut self,
        cid: &str,
        batch_id: u64,
    ) -> Result<Option<std::result::Result<Batch, String>>> {
        let Some(key) = self.key(cid)? else {
            return Ok(None);
        };
        let sql = format!(
            "SELECT {BATCH_COLUMNS} FROM batches b JOIN containers c ON c.id = b.container \
             WHERE b.container = ?1 AND b.container_batch_id = ?2"
        );
        let row = self
            .conn
            .query_row(&sql, params![key, s(batch_id)], |r| {
                let header = header_from_row(r)?;
                let leaves: Vec<u8> = r.get(14)?;
                let tx: Option<String> = r.get(15)?;
                let height: Option<i64> = r.get(16)?;
                Ok((header, leaves, tx, height))
            })
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(row.map(|(header, leaves, tx, height)| {
            let header = header?;
            let tags = unpack_leaves(&leaves).ok_or_else(|| {
                format!("batch {cid}/{batch_id}: leaf list is {} bytes, not a multiple of {PACKED_TAG_LEN}", leaves.len())
            })?;
            let mut batch = Batch::from_parts(header, &tags);
            batch.tx_id = tx;
            batch.block_height = height.map(u);
            Ok(batch)
        }))
    }

    fn batch_ids(&mut self, cid: &str) -> Result<Vec<u64>> {
        let Some(key) = self.key(cid)? else {
            return Ok(Vec::new());
        };
        let mut stmt = self
            .conn
            .prepare_cached("SELECT container_batch_id FROM batches WHERE container = ?1 ORDER BY container_batch_id")
            .map_err(|e| self_err(&self.path, e))?;
        let ids = stmt
            .query_map([key], |r| r.get::<_, i64>(0).map(u))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self_err(&self.path, e))?;
        Ok(ids)
    }

    fn leaves_in_range(&mut self, cid: &str, first: u64, last: u64) -> Result<Vec<LeafRow>> {
        let mut buf = Vec::with_capacity(512);
        self.range_query(cid, first, last, |seq, canonical| {
            leaf_of(seq, canonical, &mut buf)
        })
    }

    fn events_in_range(&mut self, cid: &str, first: u64, last: u64) -> Result<Vec<Event>> {
        self.range_query(cid, first, last, |seq, canonical| {
            decode_event(canonical)
                .unwrap_or_else(|reason| undecodable_event(cid, seq, canonical, &reason))
        })
    }

    fn load_problems(&mut self, _cid: &str) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    fn pending_batch_ids(&mut self, cid: &str) -> Result<Vec<u64>> {
        let Some(key) = self.key(cid)? else {
            return Ok(Vec::new());
        };
        let mut stmt = self
            .conn
            .prepare_cached("SELECT container_batch_id FROM anchor_outbox WHERE container = ?1 ORDER BY container_batch_id")
            .map_err(|e| self_err(&self.path, e))?;
        let ids = stmt
            .query_map([key], |r| r.get::<_, i64>(0).map(u))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self_err(&self.path, e))?;
        Ok(ids)
    }

    fn scan_leaves(&mut self, f: &mut dyn FnMut(usize, &str, &LeafRow)) -> Result<bool> {
        self.refresh_keys()?;
        let mut names: Vec<(i64, &str)> = self.keys.iter().map(|(k, v)| (*v, k.as_str())).collect();
        names.sort_unstable();
        let mut buf = Vec::with_capacity(512);
        let mut scan = scan::RawScan::new(
            &self.conn,
            &self.path,
            "SELECT container, container_seq, canonical, id FROM events ORDER BY id",
        )?;
        while let Some(row) = scan.next()? {
            let Ok(index) = names.binary_search_by_key(&row.container, |n| n.0) else {
                // An event of no known container belongs to no batch.
                continue;
            };
            let leaf = leaf_of(row.container_seq, row.canonical, &mut buf);
            f(index, names[index].1, &leaf);
        }
        Ok(true)
    }

    fn pending_drops(&mut self, cid: &str) -> Result<u64> {
        self.conn
            .query_row(
                "SELECT COALESCE(open_dropped, 0) FROM containers WHERE container_instance_id = ?1",
                [cid],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map(|v| v.map(u).unwrap_or(0))
            .map_err(|e| self.err(e))
    }

    fn unsealed_count(&mut self, cid: &str) -> Result<u64> {
        let Some(key) = self.key(cid)? else {
            return Ok(0);
        };
        self.conn
            .query_row(
                "SELECT count(*) FROM events WHERE container = ?1 AND container_seq > \
                 COALESCE((SELECT max(last_container_seq) FROM batches WHERE container = ?1), 0)",
                [key],
                |r| r.get::<_, i64>(0),
            )
            .map(u)
            .map_err(|e| self.err(e))
    }
}
