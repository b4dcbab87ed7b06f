//! The ledger error type. Each message says what to fix.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The ledger could not be reached; batches stay in the outbox and are retried.
    #[error("ledger unreachable at {location}: {reason}")]
    Unreachable { location: String, reason: String },
    /// An anchor for this batch exists with different content; it is never overwritten.
    #[error("batch {container_instance_id}/{container_batch_id} is already anchored with hash {existing}; refusing to overwrite it with {offered}")]
    Conflict {
        container_instance_id: String,
        container_batch_id: u64,
        existing: String,
        offered: String,
    },
    /// The ledger refused the anchor (revert, unauthorized key, out of gas, …).
    #[error("ledger rejected the anchor: {0}")]
    Rejected(String),
    /// Misconfiguration the user must fix (wrong address, chain id, key, …).
    #[error("{0}")]
    Config(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

impl LedgerError {
    /// True for failures that a later retry may get past (outages, timeouts).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            LedgerError::Unreachable { .. } | LedgerError::Io { .. }
        )
    }
}
