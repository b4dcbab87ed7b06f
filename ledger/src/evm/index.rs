//! An in-memory index of the registry's `BatchAnchored` logs, brought up to date
//! incrementally (`eth_getLogs` over bounded block ranges) and rebuilt when the chain under
//! it changed (a reorg, or a dev node reset).

use std::collections::{BTreeMap, HashMap};

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{Address, B256};
use alloy::providers::Provider;
use alloy::rpc::types::{Filter, Log};
use alloy::sol_types::SolEvent;
use conanchor_store::{AnchorRecord, Hash32};

use super::codec::decode_canonical_batch;
use super::contract::{container_key, AnchorRegistry::BatchAnchored};
use super::rpc::Node;
use crate::LedgerError;

#[derive(Default)]
pub(crate) struct LogIndex {
    /// Last block read, and its hash (to notice that the chain changed under us).
    synced_to: Option<(u64, B256)>,
    /// container_instance_id -> batch id -> the first anchor logged for it.
    pub anchors: BTreeMap<String, BTreeMap<u64, AnchorRecord>>,
    /// containerKey -> container_instance_id.
    pub keys: HashMap<B256, String>,
    /// Logs that are not well-formed anchors, or repeat one (the contract prevents both).
    pub problems: Vec<String>,
    pub count: u64,
}

impl LogIndex {
    pub fn get(&self, cid: &str, batch_id: u64) -> Option<&AnchorRecord> {
        self.anchors.get(cid).and_then(|m| m.get(&batch_id))
    }

    /// The last block whose logs are indexed.
    pub fn synced_block(&self) -> Option<u64> {
        self.synced_to.map(|(b, _)| b)
    }

    /// Reads the logs of blocks not seen yet, from `start_block` (the registry's deploy
    /// block) on; returns the latest block number.
    pub async fn sync(
        &mut self,
        node: &Node,
        contract: Address,
        start_block: u64,
        range: u64,
    ) -> Result<u64, LedgerError> {
        let latest = node.block_number().await?;
        if let Some((block, hash)) = self.synced_to {
            let same = block <= latest && self.block_hash(node, block).await? == Some(hash);
            if !same {
                tracing::warn!(
                    block,
                    "the chain changed under the log index; rebuilding it"
                );
                *self = LogIndex::default();
            }
        }
        let mut from = self.synced_to.map(|(b, _)| b + 1).unwrap_or(start_block);
        if from > latest {
            return Ok(latest);
        }
        let range = range.max(1);
        while from <= latest {
            let to = latest.min(from.saturating_add(range - 1));
            let filter = Filter::new()
                .address(contract)
                .event_signature(BatchAnchored::SIGNATURE_HASH)
                .from_block(from)
                .to_block(to);
            let logs = node
                .rpc("eth_getLogs", node.provider.get_logs(&filter))
                .await?;
            for log in &logs {
                self.ingest(log);
            }
            from = to + 1;
        }
        let hash = self.block_hash(node, latest).await?.ok_or_else(|| {
            LedgerError::Other(format!(
                "the node has no block {latest} although it reported it"
            ))
        })?;
        self.synced_to = Some((latest, hash));
        Ok(latest)
    }

    async fn block_hash(&self, node: &Node, number: u64) -> Result<Option<B256>, LedgerError> {
        let block = node
            .rpc(
                "eth_getBlockByNumber",
                node.provider
                    .get_block_by_number(BlockNumberOrTag::Number(number)),
            )
            .await?;
        Ok(block.map(|b| b.header.hash))
    }

    fn ingest(&mut self, log: &Log) {
        if log.removed {
            return;
        }
        let at = format!(
            "log of tx {} in block {}",
            log.transaction_hash
                .map(|h| h.to_string())
                .unwrap_or_default(),
            log.block_number.unwrap_or_default()
        );
        let event = match BatchAnchored::decode_log_data(log.data()) {
            Ok(e) => e,
            Err(e) => {
                self.problems
                    .push(format!("{at}: not a BatchAnchored event: {e}"));
                return;
            }
        };
        let header = match decode_canonical_batch(&event.canonicalBatch) {
            Ok(h) => h,
            Err(e) => {
                self.problems
                    .push(format!("{at}: canonical batch bytes: {e}"));
                return;
            }
        };
        let cid = header.container_instance_id.clone();
        if container_key(&cid) != event.containerKey
            || header.container_batch_id != event.batchId
            || header.container_batch_hash != Hash32(event.batchHash.0)
        {
            self.problems.push(format!(
                "{at}: topics or hash disagree with the logged batch {cid}/{}",
                header.container_batch_id
            ));
            return;
        }
        let record = AnchorRecord {
            tx_id: log.transaction_hash.map(|h| h.to_string()),
            block_height: log.block_number,
            header,
        };
        let batch_id = record.header.container_batch_id;
        self.keys.insert(event.containerKey, cid.clone());
        let per_container = self.anchors.entry(cid.clone()).or_default();
        if let Some(first) = per_container.get(&batch_id) {
            self.problems.push(format!(
                "batch {cid}/{batch_id} is logged twice (tx {} and {})",
                first.tx_id.as_deref().unwrap_or("?"),
                record.tx_id.as_deref().unwrap_or("?")
            ));
            return;
        }
        per_container.insert(batch_id, record);
        self.count += 1;
    }
}
