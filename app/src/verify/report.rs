//! The verification report. Seed fields first (`container_instance_id, from_batch,
//! to_batch, status, verified_batches, failures[{batch_id, type, message}]`), then
//! ConAnchor's additions: per-event findings, warnings and per-batch results.

use serde::{Deserialize, Serialize};

/// Failure types (seed names, plus `BATCH_MISSING`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FailureType {
    MerkleRootMismatch,
    EventCountMismatch,
    SequenceGap,
    BatchHashMismatch,
    LedgerChainInvalid,
    PreviousBatchHashMismatch,
    AnchorNotFound,
    AnchorMetadataMismatch,
    LogLoadFailed,
    BatchMissing,
}

impl FailureType {
    pub fn as_str(&self) -> &'static str {
        match self {
            FailureType::MerkleRootMismatch => "MERKLE_ROOT_MISMATCH",
            FailureType::EventCountMismatch => "EVENT_COUNT_MISMATCH",
            FailureType::SequenceGap => "SEQUENCE_GAP",
            FailureType::BatchHashMismatch => "BATCH_HASH_MISMATCH",
            FailureType::LedgerChainInvalid => "LEDGER_CHAIN_INVALID",
            FailureType::PreviousBatchHashMismatch => "PREVIOUS_BATCH_HASH_MISMATCH",
            FailureType::AnchorNotFound => "ANCHOR_NOT_FOUND",
            FailureType::AnchorMetadataMismatch => "ANCHOR_METADATA_MISMATCH",
            FailureType::LogLoadFailed => "LOG_LOAD_FAILED",
            FailureType::BatchMissing => "BATCH_MISSING",
        }
    }
}

impl std::fmt::Display for FailureType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// 0 when the failure is not about one batch (e.g. the ledger chain).
    pub batch_id: u64,
    #[serde(rename = "type")]
    pub kind: FailureType,
    pub message: String,
}

/// How one stored event differs from the anchored leaf list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FindingKind {
    Modified,
    Deleted,
    Inserted,
    Reordered,
}

impl FindingKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            FindingKind::Modified => "MODIFIED",
            FindingKind::Deleted => "DELETED",
            FindingKind::Inserted => "INSERTED",
            FindingKind::Reordered => "REORDERED",
        }
    }
}

/// One localized event of a failed batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub batch_id: u64,
    pub kind: FindingKind,
    pub container_seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub global_seq: Option<u64>,
    /// Position in the anchored leaf list (0-based), when the event is expected there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_position: Option<usize>,
    /// Position among the stored events of the batch, when the event is stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual_position: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_leaf: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual_leaf: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WarningKind {
    DroppedEvents,
    PendingAnchor,
    UnsealedEvents,
    PendingDrops,
    NotLocalized,
}

/// Something worth knowing that does not fail the status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_id: Option<u64>,
    #[serde(rename = "type")]
    pub kind: WarningKind,
    pub count: u64,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Ok,
    Failed,
}

/// The outcome for one batch id, for tables and the TUI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchResult {
    pub batch_id: u64,
    pub status: Status,
    pub event_count: u64,
    pub failures: Vec<FailureType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_height: Option<u64>,
}

/// The seed's report for one container instance, extended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerReport {
    pub container_instance_id: String,
    pub from_batch: u64,
    pub to_batch: u64,
    pub status: Status,
    pub verified_batches: u64,
    pub failures: Vec<Failure>,
    pub findings: Vec<Finding>,
    pub warnings: Vec<Warning>,
    pub batches: Vec<BatchResult>,
    pub verified_events: u64,
}

impl ContainerReport {
    pub fn failed(&self) -> bool {
        self.status == Status::Failed
    }
}

/// The whole run: one report per container instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    pub status: Status,
    /// `sqlite` or `export`.
    pub evidence: String,
    pub ledger_backend: String,
    pub verified_batches: u64,
    pub verified_events: u64,
    pub failed_containers: u64,
    pub containers: Vec<ContainerReport>,
}

impl VerifyReport {
    pub fn failed(&self) -> bool {
        self.status == Status::Failed
    }

    pub fn failure_types(&self) -> Vec<FailureType> {
        let mut v: Vec<FailureType> = self
            .containers
            .iter()
            .flat_map(|c| c.failures.iter().map(|f| f.kind))
            .collect();
        v.sort();
        v.dedup();
        v
    }
}
