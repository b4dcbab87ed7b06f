//! Attacks on the SQLite store, with raw SQL as an attacker with write access to
//! `conanchor.db` would use. Every changed row is recorded as a before/after image in the
//! same transaction as its journal entry.

use std::path::Path;

use anyhow::{bail, Context, Result};
use conanchor_store::encoding::{canonical_event, decode_event};
use conanchor_store::rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use conanchor_store::sqlite::pack_leaves;
use conanchor_store::{Batch, Event, EvidenceReader, Store};

use super::journal::{self, Content, JournalEntry, RowImage, UndoOp};
use super::rows::{record, restore_row, snapshot};
use super::{
    aim, files, ledger, tamper, AttackOutcome, AttackSpec, AttackType, Done, RestoreScope,
};

/// Rewrites row `rowid` to hold `e`: its canonical bytes and the container_seq index beside
/// them, as an attacker re-encoding a record would.
fn update_event(conn: &Connection, rowid: i64, e: &Event) -> Result<()> {
    conn.execute(
        "UPDATE events SET container_seq = ?1, canonical = ?2 WHERE id = ?3",
        params![e.container_seq as i64, canonical_event(e), rowid],
    )?;
    Ok(())
}

fn insert_event(conn: &Connection, key: i64, e: &Event) -> Result<i64> {
    conn.execute(
        "INSERT INTO events (container, container_seq, canonical) VALUES (?1, ?2, ?3)",
        params![key, e.container_seq as i64, canonical_event(e)],
    )?;
    Ok(conn.last_insert_rowid())
}

/// The first stored row (storage order) of `seq`.
fn event_rowid(conn: &Connection, key: i64, seq: u64) -> Result<i64> {
    conn.query_row(
        "SELECT id FROM events WHERE container = ?1 AND container_seq = ?2 ORDER BY id LIMIT 1",
        params![key, seq as i64],
        |r| r.get(0),
    )
    .optional()?
    .with_context(|| format!("no stored event with container_seq {seq}"))
}

/// The stored neighbour (next in storage order, else previous) of row `id` within the
/// batch's sequence range: the row a reorder swaps with.
fn neighbour_rowid(conn: &Connection, key: i64, id: i64, first: u64, last: u64) -> Result<i64> {
    let q = |sql: &str| -> Result<Option<i64>> {
        Ok(conn
            .query_row(sql, params![key, id, first as i64, last as i64], |r| {
                r.get(0)
            })
            .optional()?)
    };
    if let Some(next) = q("SELECT id FROM events WHERE container = ?1 AND id > ?2 \
         AND container_seq BETWEEN ?3 AND ?4 ORDER BY id LIMIT 1")?
    {
        return Ok(next);
    }
    q("SELECT id FROM events WHERE container = ?1 AND id < ?2 \
       AND container_seq BETWEEN ?3 AND ?4 ORDER BY id DESC LIMIT 1")?
    .context("the batch has a single stored event: nothing to reorder it with")
}

fn batch_rowid(conn: &Connection, key: i64, id: u64) -> Result<i64> {
    conn.query_row(
        "SELECT rowid FROM batches WHERE container = ?1 AND container_batch_id = ?2",
        params![key, id as i64],
        |r| r.get(0),
    )
    .with_context(|| format!("batch {id} row"))
}

pub(crate) fn run(spec: &AttackSpec) -> Result<AttackOutcome> {
    let mut store = Store::open_existing(&spec.data_dir)?;
    let cid = spec.container_instance_id.clone();
    let aim = aim(&mut store, spec)?;
    let batch_id = aim.batch.header.container_batch_id;
    // Content read through the reader before any change, for the journal.
    let tail_batches: Vec<Batch> = match spec.kind {
        AttackType::ForgeBatch | AttackType::RollbackContainer => {
            let mut out = Vec::new();
            for id in &aim.tail {
                match store.batch(&cid, *id)? {
                    Some(Ok(b)) => out.push(b),
                    Some(Err(reason)) => bail!("batch {id} cannot be read: {reason}"),
                    None => bail!("batch {id} vanished"),
                }
            }
            out
        }
        _ => Vec::new(),
    };
    let tail_events: Vec<Event> = if spec.kind == AttackType::RollbackContainer {
        store.events_in_range(&cid, aim.batch.header.first_container_seq, u64::MAX >> 1)?
    } else {
        Vec::new()
    };
    let db = store.path().to_path_buf();
    let conn = store.connection();
    let key: i64 = conn
        .query_row(
            "SELECT id FROM containers WHERE container_instance_id = ?1",
            [&cid],
            |r| r.get(0),
        )
        .with_context(|| format!("container {cid} is not in the store"))?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let h = &aim.batch.header;
    let mut ops = Vec::new();
    let mut before = Content::default();
    let mut after = Content::default();
    let done = match spec.kind {
        AttackType::ModifyLog | AttackType::ForgeBatch => {
            let ev = aim.event.clone().context("no target event")?;
            let rowid = event_rowid(&tx, key, aim.seq)?;
            let new = tamper::tampered(&ev);
            record(&tx, &mut ops, "events", rowid, |c| {
                update_event(c, rowid, &new)
            })?;
            let change = tamper::describe_change(&ev, &new);
            let mut details = vec![format!(
                "events row {rowid} (container_seq {}): {change}",
                aim.seq
            )];
            before.events.push(ev.clone());
            after.events.push(new.clone());
            let description = if spec.kind == AttackType::ModifyLog {
                tamper::says::modified(aim.seq, batch_id, &cid, &change)
            } else {
                let mut forged = tail_batches.clone();
                tamper::forge_chain(&mut forged, aim.seq, new.leaf_hash())?;
                for (old, b) in tail_batches.iter().zip(&forged) {
                    let id = b.header.container_batch_id;
                    let rowid = batch_rowid(&tx, key, id)?;
                    record(&tx, &mut ops, "batches", rowid, |c| {
                        c.execute(
                            "UPDATE batches SET previous_container_batch_hash = ?1, \
                             merkle_root = ?2, container_batch_hash = ?3, leaves = ?4 WHERE rowid = ?5",
                            params![
                                b.header.previous_container_batch_hash.to_hex(),
                                b.header.merkle_root.to_hex(),
                                b.header.container_batch_hash.to_hex(),
                                pack_leaves(&b.tag_refs()),
                                rowid
                            ],
                        )?;
                        Ok(())
                    })?;
                    details.push(format!(
                        "batch {id}: container_batch_hash {} -> {}{}",
                        old.header.container_batch_hash.short(),
                        b.header.container_batch_hash.short(),
                        if old.header.merkle_root != b.header.merkle_root {
                            format!(
                                ", merkle_root {} -> {}",
                                old.header.merkle_root.short(),
                                b.header.merkle_root.short()
                            )
                        } else {
                            ", previous_container_batch_hash re-chained".to_string()
                        }
                    ));
                }
                if let Some(last) = forged.last() {
                    record(&tx, &mut ops, "containers", key, |c| {
                        c.execute(
                            "UPDATE containers SET last_batch_hash = ?1 WHERE id = ?2",
                            params![last.header.container_batch_hash.to_hex(), key],
                        )?;
                        Ok(())
                    })?;
                }
                before.batches = tail_batches.clone();
                after.batches = forged.clone();
                format!(
                    "forged batch {batch_id} of {cid}: {change} at container_seq {}, then recomputed its leaf, Merkle root and batch hash and re-chained {} following batch(es); the store is self-consistent, only the ledger disagrees",
                    aim.seq,
                    forged.len().saturating_sub(1)
                )
            };
            Done {
                batch_id,
                seqs: vec![aim.seq],
                description,
                details,
                ops,
                before,
                after,
            }
        }
        AttackType::DeleteLog => {
            let ev = aim.event.clone().context("no target event")?;
            let rowid = event_rowid(&tx, key, aim.seq)?;
            record(&tx, &mut ops, "events", rowid, |c| {
                c.execute("DELETE FROM events WHERE id = ?1", [rowid])?;
                Ok(())
            })?;
            before.events.push(ev.clone());
            Done {
                batch_id,
                seqs: vec![aim.seq],
                description: tamper::says::deleted(&ev, aim.seq, batch_id, &cid),
                details: vec![format!("events row {rowid} deleted")],
                ops,
                before,
                after,
            }
        }
        AttackType::InsertLog => {
            let ev = aim.event.clone().context("no target event")?;
            let forged = tamper::forged(&ev);
            let rowid = insert_event(&tx, key, &forged)?;
            ops.push(UndoOp::Row {
                before: RowImage {
                    table: "events".into(),
                    rowid,
                    values: None,
                },
                after: snapshot(&tx, "events", rowid)?,
            });
            after.events.push(forged.clone());
            Done {
                batch_id,
                seqs: vec![aim.seq],
                description: tamper::says::inserted(&forged, aim.seq, batch_id, &cid),
                details: vec![format!("events row {rowid} added")],
                ops,
                before,
                after,
            }
        }
        AttackType::ReorderLog => {
            let a_row = event_rowid(&tx, key, aim.seq)?;
            let b_row =
                neighbour_rowid(&tx, key, a_row, h.first_container_seq, h.last_container_seq)?;
            let a = read_event(&tx, a_row)?;
            let b = read_event(&tx, b_row)?;
            record(&tx, &mut ops, "events", a_row, |c| {
                update_event(c, a_row, &b)
            })?;
            record(&tx, &mut ops, "events", b_row, |c| {
                update_event(c, b_row, &a)
            })?;
            let mut seqs = vec![a.container_seq, b.container_seq];
            seqs.sort_unstable();
            before.events = vec![a.clone(), b.clone()];
            after.events = vec![b.clone(), a.clone()];
            Done {
                batch_id,
                seqs,
                description: format!(
                    "swapped the storage positions of container_seq {} and {} in batch {batch_id} of {cid} (events rows {a_row} and {b_row} exchanged their contents)",
                    a.container_seq, b.container_seq
                ),
                details: vec![
                    format!("events row {a_row}: container_seq {} -> {}", a.container_seq, b.container_seq),
                    format!("events row {b_row}: container_seq {} -> {}", b.container_seq, a.container_seq),
                ],
                ops,
                before,
                after,
            }
        }
        AttackType::RollbackContainer => {
            let first_seq = h.first_container_seq;
            let mut details = Vec::new();
            for b in &tail_batches {
                let id = b.header.container_batch_id;
                let rowid = batch_rowid(&tx, key, id)?;
                record(&tx, &mut ops, "batches", rowid, |c| {
                    c.execute("DELETE FROM batches WHERE rowid = ?1", [rowid])?;
                    Ok(())
                })?;
                let outbox: Option<i64> = tx
                    .query_row(
                        "SELECT rowid FROM anchor_outbox WHERE container = ?1 AND container_batch_id = ?2",
                        params![key, id as i64],
                        |r| r.get(0),
                    )
                    .optional()?;
                if let Some(o) = outbox {
                    record(&tx, &mut ops, "anchor_outbox", o, |c| {
                        c.execute("DELETE FROM anchor_outbox WHERE rowid = ?1", [o])?;
                        Ok(())
                    })?;
                }
                details.push(format!(
                    "batch {id} deleted (container_seq {}..={}, {})",
                    b.header.first_container_seq,
                    b.header.last_container_seq,
                    match &b.tx_id {
                        Some(_) => "anchored",
                        None => "still pending: the ledger never saw it",
                    }
                ));
            }
            let rows: Vec<i64> = {
                let mut stmt = tx.prepare(
                    "SELECT id FROM events WHERE container = ?1 AND container_seq >= ?2 ORDER BY id",
                )?;
                let ids = stmt
                    .query_map(params![key, first_seq as i64], |r| r.get(0))?
                    .collect::<conanchor_store::rusqlite::Result<Vec<i64>>>()?;
                ids
            };
            for rowid in &rows {
                record(&tx, &mut ops, "events", *rowid, |c| {
                    c.execute("DELETE FROM events WHERE id = ?1", [rowid])?;
                    Ok(())
                })?;
            }
            details.push(format!(
                "{} events deleted (container_seq >= {first_seq})",
                rows.len()
            ));
            record(&tx, &mut ops, "containers", key, |c| {
                c.execute(
                    "UPDATE containers SET next_batch_id = ?1, last_batch_hash = ?2, \
                     next_container_seq = ?3, open_dropped = 0 WHERE id = ?4",
                    params![
                        batch_id as i64,
                        h.previous_container_batch_hash.to_hex(),
                        first_seq as i64,
                        key
                    ],
                )?;
                Ok(())
            })?;
            details.push(format!(
                "container state rewound: next batch {batch_id}, next container_seq {first_seq}"
            ));
            before.events = tail_events.clone();
            before.batches = tail_batches.clone();
            let last = aim.tail.last().copied().unwrap_or(batch_id);
            Done {
                batch_id,
                seqs: tail_events.iter().map(|e| e.container_seq).collect(),
                description: format!(
                    "rolled {cid} back to before batch {batch_id}: deleted batch(es) {batch_id}..={last}, their anchor state and {} events",
                    rows.len()
                ),
                details,
                ops,
                before,
                after,
            }
        }
        AttackType::TamperLedger => {
            let (op, old, new) =
                ledger::tamper(&spec.data_dir, &super::chain_path(spec), &cid, batch_id)?;
            before.anchors.push(old.clone());
            after.anchors.push(new.clone());
            let detail = ledger::describe(&old, &new);
            ops.push(op);
            Done {
                batch_id,
                seqs: Vec::new(),
                description: tamper::says::ledger_edited(batch_id, &cid, &detail),
                details: vec![format!(
                    "{}: block of batch {batch_id} rewritten",
                    spec.mock_chain.display()
                )],
                ops,
                before,
                after,
            }
        }
    };
    let entry = done.entry(spec);
    let committed = journal::insert_sqlite(&tx, &entry).and_then(|id| {
        tx.commit().context("committing the attack")?;
        Ok(id)
    });
    let id = match committed {
        Ok(id) => id,
        Err(e) => {
            // The ledger file is not in the transaction: put it back by hand.
            files::undo_file_ops(&spec.data_dir, &entry.undo.ops);
            return Err(e);
        }
    };
    Ok(done.outcome(spec, id, format!("journaled as #{id} in {}", db.display())))
}

/// The event stored in row `rowid`, decoded from its canonical bytes.
fn read_event(conn: &Connection, rowid: i64) -> Result<Event> {
    let bytes: Vec<u8> = conn
        .query_row("SELECT canonical FROM events WHERE id = ?1", [rowid], |r| {
            r.get(0)
        })
        .with_context(|| format!("reading events row {rowid}"))?;
    decode_event(&bytes).map_err(|e| anyhow::anyhow!("events row {rowid}: {e}"))
}

pub(crate) fn restore(data_dir: &Path, scope: RestoreScope) -> Result<Vec<String>> {
    let mut store = Store::open_existing(data_dir)?;
    let conn = store.connection();
    let entries = journal::read_sqlite(conn)?;
    let open: Vec<&JournalEntry> = entries.iter().filter(|e| !e.restored).collect();
    let chosen: Vec<&JournalEntry> = match scope {
        RestoreScope::Last => match journal::last_open_sqlite(conn)? {
            Some(id) => open.into_iter().filter(|e| e.id == id).collect(),
            None => Vec::new(),
        },
        RestoreScope::All => open.into_iter().rev().collect(),
    };
    let mut lines = Vec::new();
    for e in chosen {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Files first (they can refuse), then rows, newest change first.
        for op in e.undo.ops.iter().rev() {
            match op {
                UndoOp::Row { before, after } => restore_row(&tx, before, after)?,
                other => files::undo_file_op(data_dir, other)?,
            }
        }
        journal::mark_restored_sqlite(&tx, e.id)?;
        tx.commit()
            .with_context(|| format!("committing the restore of #{}", e.id))?;
        lines.push(format!(
            "restored #{} {}: {}",
            e.id, e.attack, e.description
        ));
    }
    Ok(lines)
}
