//! Attacks on an exported directory (`logs/<cid>.jsonl`, `batches/<cid>/batch_<id>.json`,
//! `ledger/mock_chain.jsonl`): line edits of the JSONL files and rewrites of batch files,
//! journaled in `.conanchor/attack_journal.jsonl` inside the export.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use conanchor_store::export::{BATCHES_DIR, LOGS_DIR};
use conanchor_store::{Batch, Event, EvidenceReader, ExportDir};

use super::journal::{self, Content, UndoOp};
use super::{
    aim, files, ledger, tamper, Aim, AttackOutcome, AttackSpec, AttackType, Done, RestoreScope,
};

fn log_rel(cid: &str) -> PathBuf {
    Path::new(LOGS_DIR).join(format!("{cid}.jsonl"))
}

fn batch_rel(cid: &str, id: u64) -> PathBuf {
    Path::new(BATCHES_DIR)
        .join(cid)
        .join(format!("batch_{id}.json"))
}

/// A batch file as `export` writes it.
fn batch_text(b: &Batch) -> Result<String> {
    Ok(serde_json::to_string_pretty(b)? + "\n")
}

fn event_line(e: &Event) -> Result<String> {
    Ok(serde_json::to_string(e)?)
}

pub(crate) fn run(spec: &AttackSpec) -> Result<AttackOutcome> {
    let root = spec.data_dir.as_path();
    let mut reader = ExportDir::open(root)?;
    let aim = aim(&mut reader, spec)?;
    let mut tail = Vec::new();
    if matches!(
        spec.kind,
        AttackType::ForgeBatch | AttackType::RollbackContainer
    ) {
        for id in &aim.tail {
            if let Some(Ok(b)) = reader.batch(&spec.container_instance_id, *id)? {
                tail.push(b);
            }
        }
    }
    let mut ops = Vec::new();
    let done = match attack(spec, &aim, &tail, &mut ops) {
        Ok(d) => d,
        Err(e) => {
            files::undo_file_ops(root, &ops);
            return Err(e);
        }
    };
    let mut entries = journal::read_export(root)?;
    let mut entry = done.entry(spec);
    entry.id = entries.iter().map(|e| e.id).max().unwrap_or(0) + 1;
    let id = entry.id;
    entries.push(entry);
    if let Err(e) = journal::write_export(root, &entries) {
        files::undo_file_ops(root, &done.ops);
        return Err(e);
    }
    let where_ = format!(
        "journaled as #{id} in {}",
        journal::export_journal_path(root).display()
    );
    Ok(done.outcome(spec, id, where_))
}

/// Performs the attack, pushing each file change to `ops` as soon as it is made (so a
/// failure halfway can be reversed).
fn attack(spec: &AttackSpec, aim: &Aim, tail: &[Batch], ops: &mut Vec<UndoOp>) -> Result<Done> {
    let root = spec.data_dir.as_path();
    let cid = spec.container_instance_id.as_str();
    let log = log_rel(cid);
    let lines = files::read_lines(&root.join(&log))?;
    let events: Vec<Option<Event>> = lines
        .iter()
        .map(|l| serde_json::from_str::<Event>(l).ok())
        .collect();
    let h = &aim.batch.header;
    let batch_id = h.container_batch_id;
    let target_line = events
        .iter()
        .position(|e| e.as_ref().is_some_and(|e| e.container_seq == aim.seq));
    let line_of = || -> Result<usize> {
        target_line.with_context(|| {
            format!(
                "{} has no event with container_seq {}",
                log.display(),
                aim.seq
            )
        })
    };
    let mut before = Content::default();
    let mut after = Content::default();
    let log_name = log.display().to_string();
    let done = |seqs: Vec<u64>,
                description: String,
                details: Vec<String>,
                ops: &mut Vec<UndoOp>,
                before,
                after| Done {
        batch_id,
        seqs,
        description,
        details,
        ops: std::mem::take(ops),
        before,
        after,
    };
    match spec.kind {
        AttackType::ModifyLog | AttackType::ForgeBatch => {
            let i = line_of()?;
            let ev = events[i].clone().context("target line vanished")?;
            let new = tamper::tampered(&ev);
            ops.push(files::splice(root, &log, i, 1, vec![event_line(&new)?])?);
            let change = tamper::describe_change(&ev, &new);
            let mut details = vec![format!("{log_name} line {}: {change}", i + 1)];
            before.events.push(ev);
            after.events.push(new.clone());
            let description = if spec.kind == AttackType::ModifyLog {
                tamper::says::modified(aim.seq, batch_id, cid, &change)
            } else {
                let mut forged = tail.to_vec();
                tamper::forge_chain(&mut forged, aim.seq, new.leaf_hash())?;
                for (old, b) in tail.iter().zip(&forged) {
                    let rel = batch_rel(cid, b.header.container_batch_id);
                    ops.push(files::replace_file(root, &rel, Some(batch_text(b)?))?);
                    details.push(format!(
                        "{}: container_batch_hash {} -> {}",
                        rel.display(),
                        old.header.container_batch_hash.short(),
                        b.header.container_batch_hash.short()
                    ));
                }
                before.batches = tail.to_vec();
                after.batches = forged.clone();
                format!(
                    "forged batch {batch_id} of {cid}: {change} at container_seq {}, then recomputed its leaf, Merkle root and batch hash and re-chained {} following batch file(s); the export is self-consistent, only the ledger disagrees",
                    aim.seq,
                    forged.len().saturating_sub(1)
                )
            };
            Ok(done(
                vec![aim.seq],
                description,
                details,
                ops,
                before,
                after,
            ))
        }
        AttackType::DeleteLog => {
            let i = line_of()?;
            let ev = events[i].clone().context("target line vanished")?;
            ops.push(files::splice(root, &log, i, 1, Vec::new())?);
            let description = tamper::says::deleted(&ev, aim.seq, batch_id, cid);
            before.events.push(ev);
            Ok(done(
                vec![aim.seq],
                description,
                vec![format!("{log_name} line {} removed", i + 1)],
                ops,
                before,
                after,
            ))
        }
        AttackType::InsertLog => {
            let i = line_of()?;
            let ev = events[i].clone().context("target line vanished")?;
            let forged = tamper::forged(&ev);
            ops.push(files::splice(
                root,
                &log,
                i + 1,
                0,
                vec![event_line(&forged)?],
            )?);
            let description = tamper::says::inserted(&forged, aim.seq, batch_id, cid);
            after.events.push(forged);
            Ok(done(
                vec![aim.seq],
                description,
                vec![format!("{log_name}: line {} added", i + 2)],
                ops,
                before,
                after,
            ))
        }
        AttackType::ReorderLog => {
            let i = line_of()?;
            let in_batch = |e: &Option<Event>| {
                e.as_ref().is_some_and(|e| {
                    (h.first_container_seq..=h.last_container_seq).contains(&e.container_seq)
                })
            };
            let j = (i + 1..events.len())
                .find(|&j| in_batch(&events[j]))
                .or_else(|| (0..i).rev().find(|&j| in_batch(&events[j])))
                .context("the batch has a single stored event: nothing to reorder it with")?;
            let (lo, hi) = (i.min(j), i.max(j));
            if hi == lo + 1 {
                ops.push(files::splice(
                    root,
                    &log,
                    lo,
                    2,
                    vec![lines[hi].clone(), lines[lo].clone()],
                )?);
            } else {
                ops.push(files::splice(root, &log, lo, 1, vec![lines[hi].clone()])?);
                ops.push(files::splice(root, &log, hi, 1, vec![lines[lo].clone()])?);
            }
            let a = events[lo].clone().context("line vanished")?;
            let b = events[hi].clone().context("line vanished")?;
            let description = format!(
                "swapped the storage positions of container_seq {} and {} in batch {batch_id} of {cid} ({log_name} lines {} and {})",
                a.container_seq,
                b.container_seq,
                lo + 1,
                hi + 1
            );
            let mut seqs = vec![a.container_seq, b.container_seq];
            seqs.sort_unstable();
            before.events = vec![a.clone(), b.clone()];
            after.events = vec![b, a];
            Ok(done(
                seqs,
                description,
                vec![format!(
                    "{log_name}: lines {} and {} swapped",
                    lo + 1,
                    hi + 1
                )],
                ops,
                before,
                after,
            ))
        }
        AttackType::RollbackContainer => {
            let first_seq = h.first_container_seq;
            let mut details = Vec::new();
            for b in tail {
                let rel = batch_rel(cid, b.header.container_batch_id);
                ops.push(files::replace_file(root, &rel, None)?);
                details.push(format!("{} deleted", rel.display()));
            }
            // Remove every line at or past the rolled-back seq, highest runs first so the
            // lower line numbers stay valid (undo re-inserts them lowest first).
            let doomed: Vec<usize> = (0..events.len())
                .filter(|&i| {
                    events[i]
                        .as_ref()
                        .is_some_and(|e| e.container_seq >= first_seq)
                })
                .collect();
            let mut runs: Vec<(usize, usize)> = Vec::new();
            for &i in &doomed {
                match runs.last_mut() {
                    Some((start, len)) if *start + *len == i => *len += 1,
                    _ => runs.push((i, 1)),
                }
            }
            for &(start, len) in runs.iter().rev() {
                ops.push(files::splice(root, &log, start, len, Vec::new())?);
            }
            details.push(format!(
                "{log_name}: {} lines removed (container_seq >= {first_seq})",
                doomed.len()
            ));
            before.events = doomed.iter().filter_map(|&i| events[i].clone()).collect();
            before.batches = tail.to_vec();
            let last = aim.tail.last().copied().unwrap_or(batch_id);
            let description = format!(
                "rolled {cid} back to before batch {batch_id}: deleted batch file(s) {batch_id}..={last} and {} events",
                doomed.len()
            );
            let seqs = before.events.iter().map(|e| e.container_seq).collect();
            Ok(done(seqs, description, details, ops, before, after))
        }
        AttackType::TamperLedger => {
            let (op, old, new) = ledger::tamper(root, &super::chain_path(spec), cid, batch_id)?;
            ops.push(op);
            let detail = ledger::describe(&old, &new);
            before.anchors.push(old);
            after.anchors.push(new);
            let description = tamper::says::ledger_edited(batch_id, cid, &detail);
            let details = vec![format!(
                "{}: block of batch {batch_id} rewritten",
                spec.mock_chain.display()
            )];
            Ok(done(Vec::new(), description, details, ops, before, after))
        }
    }
}

pub(crate) fn restore(root: &Path, scope: RestoreScope) -> Result<Vec<String>> {
    let mut entries = journal::read_export(root)?;
    let open: Vec<usize> = (0..entries.len())
        .filter(|&i| !entries[i].restored)
        .collect();
    let chosen: Vec<usize> = match scope {
        RestoreScope::Last => open.last().copied().into_iter().collect(),
        RestoreScope::All => open.into_iter().rev().collect(),
    };
    let mut lines = Vec::new();
    for i in chosen {
        for op in entries[i].undo.ops.iter().rev() {
            files::undo_file_op(root, op)?;
        }
        entries[i].restored = true;
        journal::write_export(root, &entries)?;
        let e = &entries[i];
        lines.push(format!(
            "restored #{} {}: {}",
            e.id, e.attack, e.description
        ));
    }
    Ok(lines)
}
