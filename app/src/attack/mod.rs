//! The attack lab: deliberate tampering for demos and self-tests, journaled so it can be
//! undone. The verifier never reads the journal.
//!
//! Each attack targets one container of the SQLite store (`<data-dir>/conanchor.db`) or of
//! an exported directory (`logs/`, `batches/`, `ledger/`), records before/after content and
//! the exact undo steps in the journal ([`journal`]), and says what it changed.

pub mod export;
pub mod files;
pub mod journal;
pub mod ledger;
pub mod rows;
pub mod sqlite;
pub mod tamper;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::ValueEnum;
use conanchor_store::{Batch, Event, EvidenceReader};
use serde::{Deserialize, Serialize};

pub use journal::{entries as journal_entries, JournalEntry, JournalSource};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttackType {
    /// Change one field of one stored event.
    ModifyLog,
    /// Remove one stored event.
    DeleteLog,
    /// Add a forged event inside a sealed batch.
    InsertLog,
    /// Swap two stored events.
    ReorderLog,
    /// Remove the container's last sealed batch and its events (roll back the tail).
    RollbackContainer,
    /// Modify an event and recompute its leaf, the Merkle root, the batch hash and the
    /// following batches' chain in the store: only the ledger catches it.
    ForgeBatch,
    /// Edit an anchor in the mock chain.
    TamperLedger,
}

impl AttackType {
    pub const ALL: [AttackType; 7] = [
        AttackType::ModifyLog,
        AttackType::DeleteLog,
        AttackType::InsertLog,
        AttackType::ReorderLog,
        AttackType::RollbackContainer,
        AttackType::ForgeBatch,
        AttackType::TamperLedger,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            AttackType::ModifyLog => "modify-log",
            AttackType::DeleteLog => "delete-log",
            AttackType::InsertLog => "insert-log",
            AttackType::ReorderLog => "reorder-log",
            AttackType::RollbackContainer => "rollback-container",
            AttackType::ForgeBatch => "forge-batch",
            AttackType::TamperLedger => "tamper-ledger",
        }
    }
}

/// Which copy of the evidence to tamper with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AttackTarget {
    /// `<data-dir>/conanchor.db`.
    #[default]
    Sqlite,
    /// An exported directory (`logs/`, `batches/`, `ledger/`).
    Export,
}

#[derive(Debug, Clone)]
pub struct AttackSpec {
    pub data_dir: PathBuf,
    pub container_instance_id: String,
    pub kind: AttackType,
    /// Default: the first sealed batch (the last one for rollback).
    pub batch: Option<u64>,
    /// Default: the first event of the batch (the first one still stored).
    pub seq: Option<u64>,
    pub target: AttackTarget,
    /// The mock chain file (for tamper-ledger).
    pub mock_chain: PathBuf,
}

/// What an attack changed, for the CLI's output and the TUI's toast.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttackOutcome {
    pub journal_id: i64,
    pub kind: AttackType,
    pub container_instance_id: String,
    pub batch_id: u64,
    pub container_seqs: Vec<u64>,
    /// One human sentence: what was changed, from what to what.
    pub description: String,
    pub target: AttackTarget,
    /// Each change, one line each (rows, files, fields), for the CLI's output.
    pub details: Vec<String>,
    /// What verify is expected to report, for the toast and the CLI.
    pub expected: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreScope {
    Last,
    All,
}

impl AttackType {
    /// What `verify` reports after this attack (the README's table).
    pub fn expected_findings(&self) -> &'static str {
        match self {
            AttackType::ModifyLog => "MERKLE_ROOT_MISMATCH; one MODIFIED event at the seq",
            AttackType::DeleteLog => {
                "EVENT_COUNT_MISMATCH, SEQUENCE_GAP, MERKLE_ROOT_MISMATCH; one DELETED event"
            }
            AttackType::InsertLog => {
                "EVENT_COUNT_MISMATCH, MERKLE_ROOT_MISMATCH; one INSERTED event at the seq"
            }
            AttackType::ReorderLog => "MERKLE_ROOT_MISMATCH; two REORDERED events",
            AttackType::RollbackContainer => {
                "BATCH_MISSING (plus EVENT_COUNT_MISMATCH, SEQUENCE_GAP, MERKLE_ROOT_MISMATCH) for each removed anchored batch"
            }
            AttackType::ForgeBatch => {
                "BATCH_HASH_MISMATCH, MERKLE_ROOT_MISMATCH, ANCHOR_METADATA_MISMATCH against the ledger (the store itself is consistent)"
            }
            AttackType::TamperLedger => {
                "LEDGER_CHAIN_INVALID (plus ANCHOR_METADATA_MISMATCH, MERKLE_ROOT_MISMATCH for the edited anchor)"
            }
        }
    }
}

impl std::fmt::Display for AttackType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AttackTarget {
    pub fn as_str(&self) -> &'static str {
        match self {
            AttackTarget::Sqlite => "sqlite",
            AttackTarget::Export => "export",
        }
    }

    /// The SQLite store when `dir` has `conanchor.db`, otherwise an export.
    pub fn detect(dir: &Path) -> AttackTarget {
        if conanchor_store::Store::exists_in(dir) {
            AttackTarget::Sqlite
        } else {
            AttackTarget::Export
        }
    }
}

impl AttackSpec {
    /// A spec with the defaults: first sealed batch (last for rollback), its first event,
    /// the SQLite store, the mock chain inside `data_dir`.
    pub fn new(data_dir: &Path, container_instance_id: &str, kind: AttackType) -> AttackSpec {
        AttackSpec {
            data_dir: data_dir.to_path_buf(),
            container_instance_id: container_instance_id.to_string(),
            kind,
            batch: None,
            seq: None,
            target: AttackTarget::Sqlite,
            mock_chain: conanchor_ledger::MockChain::path_in(data_dir),
        }
    }
}

/// Runs one attack and journals it.
pub fn run_attack(spec: &AttackSpec) -> Result<AttackOutcome> {
    conanchor_store::check_container_id(&spec.container_instance_id)?;
    if !spec.data_dir.is_dir() {
        bail!(
            "data dir {} does not exist; check --data-dir",
            spec.data_dir.display()
        );
    }
    let outcome = match spec.target {
        AttackTarget::Sqlite => {
            if !conanchor_store::Store::exists_in(&spec.data_dir) {
                bail!(
                    "no conanchor.db in {}; for an exported directory use --target export",
                    spec.data_dir.display()
                );
            }
            sqlite::run(spec)
        }
        AttackTarget::Export => {
            if !conanchor_store::is_export_dir(&spec.data_dir) {
                bail!(
                    "{} is not an exported directory (no logs/ or batches/); check --data-dir",
                    spec.data_dir.display()
                );
            }
            export::run(spec)
        }
    };
    outcome.with_context(|| {
        format!(
            "attack {} on {} ({})",
            spec.kind,
            spec.container_instance_id,
            spec.target.as_str()
        )
    })
}

/// Undoes the last journaled attack or all of them; returns one line per undone attack.
pub fn restore(data_dir: &Path, target: AttackTarget, scope: RestoreScope) -> Result<Vec<String>> {
    match target {
        AttackTarget::Sqlite => sqlite::restore(data_dir, scope),
        AttackTarget::Export => export::restore(data_dir, scope),
    }
    .with_context(|| format!("restoring {}", data_dir.display()))
}

/// What an attack aims at, resolved from the spec against the stored evidence.
pub(crate) struct Aim {
    /// The batch attacked (for rollback: the first batch removed).
    pub batch: Batch,
    /// The sealed batch ids from `batch` to the container's last one.
    pub tail: Vec<u64>,
    /// The target event (for event attacks).
    pub seq: u64,
    pub event: Option<Event>,
}

/// Resolves the defaults: the first sealed batch (the last one for rollback) and its first
/// event.
pub(crate) fn aim(reader: &mut dyn EvidenceReader, spec: &AttackSpec) -> Result<Aim> {
    let cid = &spec.container_instance_id;
    let ids = reader.batch_ids(cid)?;
    if ids.is_empty() {
        bail!("container {cid} has no sealed batch in {} (check --container-id; `verify` lists containers)", reader.location().display());
    }
    let id = match (spec.batch, spec.kind) {
        (Some(id), _) => id,
        (None, AttackType::RollbackContainer) => ids[ids.len() - 1],
        (None, _) => ids[0],
    };
    if !ids.contains(&id) {
        bail!(
            "container {cid} has no sealed batch {id} (it has {}..={})",
            ids[0],
            ids[ids.len() - 1]
        );
    }
    let batch = match reader.batch(cid, id)? {
        Some(Ok(b)) => b,
        Some(Err(reason)) => bail!("batch {id} cannot be read: {reason}"),
        None => bail!("container {cid} has no sealed batch {id}"),
    };
    let h = &batch.header;
    // Default: the batch's first event still stored, so attacks can be stacked in a demo.
    let seq = match spec.seq {
        Some(seq) => seq,
        None => reader
            .leaves_in_range(cid, h.first_container_seq, h.last_container_seq)?
            .iter()
            .map(|l| l.container_seq)
            .min()
            .unwrap_or(h.first_container_seq),
    };
    if !(h.first_container_seq..=h.last_container_seq).contains(&seq) {
        bail!(
            "--seq {seq} is outside batch {id} (container_seq {}..={})",
            h.first_container_seq,
            h.last_container_seq
        );
    }
    let event = reader.events_in_range(cid, seq, seq)?.into_iter().next();
    let needs_event = !matches!(
        spec.kind,
        AttackType::RollbackContainer | AttackType::TamperLedger
    );
    if needs_event && event.is_none() {
        bail!("batch {id} has no stored event with container_seq {seq} (already deleted?)");
    }
    Ok(Aim {
        tail: ids.into_iter().filter(|&b| b >= id).collect(),
        batch,
        seq,
        event,
    })
}

pub(crate) fn seqs_text(seqs: &[u64]) -> String {
    match seqs {
        [] => "-".to_string(),
        [one] => one.to_string(),
        [first, .., last] if seqs.len() > 2 => format!("{first}..={last}"),
        _ => seqs
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(","),
    }
}

/// The journal's `target` column: what was hit, where.
pub(crate) fn target_text(spec: &AttackSpec, batch_id: u64, seqs: &[u64]) -> String {
    format!(
        "{} {} batch {batch_id} seq {}",
        spec.target.as_str(),
        spec.container_instance_id,
        seqs_text(seqs)
    )
}

/// What one attack did, before it is journaled.
pub(crate) struct Done {
    pub batch_id: u64,
    pub seqs: Vec<u64>,
    pub description: String,
    pub details: Vec<String>,
    pub ops: Vec<journal::UndoOp>,
    pub before: journal::Content,
    pub after: journal::Content,
}

impl Done {
    pub fn entry(&self, spec: &AttackSpec) -> JournalEntry {
        JournalEntry {
            id: 0,
            at_ns: crate::util::now_ns(),
            attack: spec.kind.as_str().to_string(),
            target: target_text(spec, self.batch_id, &self.seqs),
            description: self.description.clone(),
            undo: journal::Undo {
                version: 1,
                container_instance_id: spec.container_instance_id.clone(),
                batch_id: self.batch_id,
                container_seqs: self.seqs.clone(),
                ops: self.ops.clone(),
                before: self.before.clone(),
                after: self.after.clone(),
            },
            restored: false,
        }
    }

    pub fn outcome(self, spec: &AttackSpec, journal_id: i64, where_: String) -> AttackOutcome {
        let mut details = self.details;
        details.push(where_);
        AttackOutcome {
            journal_id,
            kind: spec.kind,
            container_instance_id: spec.container_instance_id.clone(),
            batch_id: self.batch_id,
            container_seqs: self.seqs,
            description: self.description,
            target: spec.target,
            details,
            expected: spec.kind.expected_findings().to_string(),
        }
    }
}

/// The mock chain path to journal, relative to `root` when inside it.
pub(crate) fn chain_path(spec: &AttackSpec) -> PathBuf {
    files::relative(&spec.data_dir, &spec.mock_chain)
}
