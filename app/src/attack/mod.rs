//! The attack lab: deliberate tampering for demos and self-tests, journaled so it can be
//! undone. The verifier never reads the journal.
//!
//! (Issue #3 fills this in; the types below are the API the CLI and the TUI use.)

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::ValueEnum;
use serde::{Deserialize, Serialize};

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
    /// Default: the first event of the batch.
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreScope {
    Last,
    All,
}

/// Runs one attack and journals it.
pub fn run_attack(spec: &AttackSpec) -> Result<AttackOutcome> {
    bail!("attack {} is not implemented yet", spec.kind.as_str())
}

/// Undoes the last journaled attack or all of them; returns one line per undone attack.
pub fn restore(data_dir: &std::path::Path, target: AttackTarget, scope: RestoreScope) -> Result<Vec<String>> {
    let _ = (data_dir, target, scope);
    bail!("restore is not implemented yet")
}
