//! ConAnchor ledgers: where batch commitments are anchored, and the source of truth for
//! verification.
//!
//! - [`Ledger`]: the async interface every backend implements.
//! - [`mock::MockChain`]: a local hash-chained JSONL file (`data/ledger/mock_chain.jsonl`).
//! - [`anchorer`]: the task that drains the store's outbox onto a ledger.

pub mod anchorer;
pub mod error;
pub mod evm;
pub mod mock;

use async_trait::async_trait;
use conanchor_store::{AnchorRecord, BatchHeader, Hash32};
use serde::Serialize;

pub use error::LedgerError;
pub use mock::MockChain;

/// Where one batch landed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnchorReceipt {
    pub container_instance_id: String,
    pub container_batch_id: u64,
    pub tx_id: String,
    pub block_height: u64,
}

/// The result of checking the ledger's own integrity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct ChainCheck {
    /// One line per broken link or unreadable record; empty when the chain is valid.
    pub problems: Vec<String>,
    pub blocks_checked: u64,
}

impl ChainCheck {
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }
}

/// A ledger's state, for status lines and `ledger status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct LedgerStatus {
    /// `mock` or `evm`.
    pub backend: String,
    /// A file path or RPC URL.
    pub location: String,
    pub head_height: u64,
    pub head_hash: Option<String>,
    pub anchor_count: u64,
    pub chain_id: Option<u64>,
    /// Backend-specific facts (contract address, whether our key may anchor, …).
    pub details: Vec<(String, String)>,
}

/// The latest anchored batch of a container instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ContainerHead {
    pub container_batch_id: u64,
    pub container_batch_hash: Hash32,
}

#[async_trait]
pub trait Ledger: Send + Sync {
    /// `mock` or `evm`.
    fn backend(&self) -> &'static str;

    /// Anchors sealed batches (several per transaction where the backend can). Anchoring a
    /// batch that is already anchored with the same `container_batch_hash` returns its
    /// existing receipt (so a retry after a crash is safe); with another hash it is refused
    /// with [`LedgerError::Conflict`]: an anchor is never overwritten.
    async fn anchor(&self, batches: &[BatchHeader]) -> Result<Vec<AnchorReceipt>, LedgerError>;

    async fn get_anchor(
        &self,
        container_instance_id: &str,
        container_batch_id: u64,
    ) -> Result<Option<AnchorRecord>, LedgerError>;

    /// Every anchor of a container instance, ascending by batch id.
    async fn list_anchors(
        &self,
        container_instance_id: &str,
    ) -> Result<Vec<AnchorRecord>, LedgerError>;

    /// Every container instance with at least one anchor, sorted.
    async fn list_containers(&self) -> Result<Vec<String>, LedgerError>;

    /// The ledger's own integrity (the mock chain's block hashes; an EVM node's contract).
    async fn verify_chain(&self) -> Result<ChainCheck, LedgerError>;

    /// The ledger's head for a container: what a rolled-back tail is checked against.
    async fn container_head(
        &self,
        container_instance_id: &str,
    ) -> Result<Option<ContainerHead>, LedgerError> {
        Ok(self
            .list_anchors(container_instance_id)
            .await?
            .last()
            .map(|a| ContainerHead {
                container_batch_id: a.header.container_batch_id,
                container_batch_hash: a.header.container_batch_hash,
            }))
    }

    async fn status(&self) -> Result<LedgerStatus, LedgerError>;
}
