//! Gas per anchored batch, for `conanchor-tui bench --ledger evm`: a gas count read from
//! receipts, deterministic for a given contract and batch shape (not a timing).

use std::time::{SystemTime, UNIX_EPOCH};

use conanchor_store::{merkle_root, BatchHeader, Hash32};
use serde::Serialize;

use super::EvmLedger;
use crate::LedgerError;

/// Gas of two anchoring transactions of `batches_per_tx` batches each: the first opens a
/// new container instance (its head slot goes from zero to set), the second continues it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GasMeasurement {
    pub batches_per_tx: usize,
    pub first_tx_gas: u64,
    pub next_tx_gas: u64,
}

impl GasMeasurement {
    /// Gas per batch when the transaction starts a new container.
    pub fn first_per_batch(&self) -> u64 {
        self.first_tx_gas / self.batches_per_tx.max(1) as u64
    }

    /// Gas per batch for a container that already has anchors (the steady state).
    pub fn per_batch(&self) -> u64 {
        self.next_tx_gas / self.batches_per_tx.max(1) as u64
    }
}

/// Anchors `2 × n` synthetic batches of a fresh container instance (a 64-hex id, as the
/// runtime gives) in two transactions of `n` and reports their gas. Needs an authorized key.
pub async fn measure_gas(ledger: &EvmLedger, n: usize) -> Result<GasMeasurement, LedgerError> {
    let n = n.max(1);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let cid = Hash32::sha256(format!("conanchor-bench-{nanos}-{n}").as_bytes()).to_hex();
    let batches = synthetic_batches(&cid, 1, Hash32::ZERO, 2 * n, 10);
    let (first, next) = batches.split_at(n);
    let first = ledger
        .send_anchor(&first.iter().collect::<Vec<_>>())
        .await?;
    let next = ledger.send_anchor(&next.iter().collect::<Vec<_>>()).await?;
    Ok(GasMeasurement {
        batches_per_tx: n,
        first_tx_gas: first.receipt.gas_used,
        next_tx_gas: next.receipt.gas_used,
    })
}

/// `count` sealed batch headers of `cid`, numbered from `first_id`, chained from `previous`,
/// each over `events_per_batch` synthetic leaves (real Merkle roots and batch hashes).
pub fn synthetic_batches(
    cid: &str,
    first_id: u64,
    previous: Hash32,
    count: usize,
    events_per_batch: u64,
) -> Vec<BatchHeader> {
    let start_ns = 1_710_000_000_000_000_000u64;
    let mut prev = previous;
    let mut out = Vec::with_capacity(count);
    for k in 0..count as u64 {
        let id = first_id + k;
        let first_seq = (id - 1) * events_per_batch + 1;
        let last_seq = first_seq + events_per_batch - 1;
        let leaves: Vec<Hash32> = (first_seq..=last_seq)
            .map(|s| Hash32::sha256(format!("{cid}/{s}").as_bytes()))
            .collect();
        let mut h = BatchHeader {
            container_instance_id: cid.to_string(),
            container_batch_id: id,
            first_container_seq: first_seq,
            last_container_seq: last_seq,
            first_global_seq: first_seq * 3,
            last_global_seq: last_seq * 3,
            event_count: events_per_batch,
            dropped_event_count: 0,
            start_time_ns: start_ns + first_seq * 1_000_000,
            end_time_ns: start_ns + last_seq * 1_000_000,
            previous_container_batch_hash: prev,
            merkle_root: merkle_root(&leaves).unwrap_or(Hash32::ZERO),
            container_batch_hash: Hash32::ZERO,
            collector_id: "collector-1".into(),
        };
        h.container_batch_hash = h.compute_hash();
        prev = h.container_batch_hash;
        out.push(h);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_batches_chain_by_hash() {
        let b = synthetic_batches("c", 1, Hash32::ZERO, 3, 4);
        assert_eq!(b[0].previous_container_batch_hash, Hash32::ZERO);
        for w in b.windows(2) {
            assert_eq!(
                w[1].previous_container_batch_hash,
                w[0].container_batch_hash
            );
            assert_eq!(w[1].container_batch_id, w[0].container_batch_id + 1);
            assert_eq!(w[1].first_container_seq, w[0].last_container_seq + 1);
        }
        assert!(b.iter().all(|h| h.compute_hash() == h.container_batch_hash));
    }
}
