//! The EVM ledger: batch commitments anchored in the `AnchorRegistry` contract
//! (`contracts/AnchorRegistry.sol`) on any Ethereum JSON-RPC node (Hyperledger Besu, anvil,
//! …), through alloy over HTTP.
//!
//! What is on chain, per batch: a `BatchAnchored` event with the canonical batch bytes of
//! evidence format v1 (topics: `keccak256(container_instance_id)`, batch id), and per
//! container instance one storage slot, its head (last batch id and the first 24 bytes of
//! its hash). The contract computes `container_batch_hash = sha256(canonical)` itself and
//! only accepts a batch that extends its container's head, so anchors are never overwritten
//! and the chain has no gaps. [`EvmLedger`] rebuilds every [`AnchorRecord`] from the logs
//! (the transaction hash is its `tx_id`) and checks the logs against the heads.
//!
//! Only standard JSON-RPC is used (`eth_call`, `eth_getLogs`, `eth_sendRawTransaction`, …):
//! transactions are signed locally, as legacy or EIP-1559 transactions, and also on free-gas
//! networks (gas price 0). Receipts are polled with a timeout, so nodes that seal blocks on
//! a timer (QBFT, `anvil --block-time`) work like automining ones.
//!
//! [`AnchorRecord`]: conanchor_store::AnchorRecord

mod bench;
mod codec;
mod contract;
mod index;
mod ledger;
mod rpc;

use std::fmt;
use std::path::Path;
use std::time::Duration;

pub use alloy::primitives::Address;
pub use bench::{measure_gas, synthetic_batches, GasMeasurement};
pub use codec::decode_canonical_batch;
pub use contract::{container_key, ARTIFACT_META, CREATION_CODE_HEX, RUNTIME_CODE_HEX};
pub use ledger::{deploy, EvmLedger};

use crate::LedgerError;

/// Environment variable holding the hex private key that signs anchoring transactions.
pub const KEY_ENV: &str = "CONANCHOR_BESU_PRIVATE_KEY";

/// A private key held as text; never shown by `Debug` or `Display`.
#[derive(Clone)]
pub struct SecretKey(String);

impl SecretKey {
    pub fn new(hex: impl Into<String>) -> SecretKey {
        SecretKey(hex.into().trim().to_string())
    }

    /// `CONANCHOR_BESU_PRIVATE_KEY`, when set and not empty.
    pub fn from_env() -> Option<SecretKey> {
        std::env::var(KEY_ENV)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(SecretKey::new)
    }

    /// The first line of a key file (`--besu-key-file`).
    pub fn from_file(path: &Path) -> Result<SecretKey, LedgerError> {
        let text = std::fs::read_to_string(path).map_err(|source| LedgerError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let key = text.lines().next().unwrap_or("").trim();
        if key.is_empty() {
            return Err(LedgerError::Config(format!(
                "key file {} is empty; it must hold a hex private key",
                path.display()
            )));
        }
        Ok(SecretKey::new(key))
    }

    /// The key file when one is given, else the environment.
    pub fn from_file_or_env(path: Option<&Path>) -> Result<Option<SecretKey>, LedgerError> {
        match path {
            Some(p) => SecretKey::from_file(p).map(Some),
            None => Ok(SecretKey::from_env()),
        }
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// How transaction fees are set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GasMode {
    /// EIP-1559 when the latest block has a base fee, legacy otherwise.
    #[default]
    Auto,
    /// Type-0 transactions with `eth_gasPrice`.
    Legacy,
    /// Type-2 transactions: `maxFeePerGas = 2 × base fee + priority fee`.
    Eip1559,
}

/// How to reach the node and the registry.
#[derive(Debug, Clone)]
pub struct EvmConfig {
    /// JSON-RPC over HTTP, e.g. `http://127.0.0.1:8545`.
    pub rpc_url: String,
    /// Expected chain id; `None` or `Some(0)` reads it from the node.
    pub chain_id: Option<u64>,
    /// The `AnchorRegistry` address (`0x…`); needed by everything but [`deploy`].
    pub contract_address: Option<String>,
    /// Signs anchoring (and deploy/authorize) transactions; reading needs none.
    pub private_key: Option<SecretKey>,
    /// How long to wait for a receipt; longer than the network's block period.
    pub receipt_timeout: Duration,
    /// Blocks a receipt must have (1 = included in a block).
    pub confirmations: u64,
    /// How often to poll for receipts.
    pub poll_interval: Duration,
    /// Limit for one JSON-RPC request; past it the node counts as unreachable.
    pub rpc_timeout: Duration,
    /// Batches per anchoring transaction (larger calls are split).
    pub max_batches_per_tx: usize,
    pub gas_mode: GasMode,
    /// Widest block range of one `eth_getLogs` (Besu refuses more than 5000 by default).
    pub log_block_range: u64,
}

impl EvmConfig {
    pub fn new(rpc_url: impl Into<String>) -> EvmConfig {
        EvmConfig {
            rpc_url: rpc_url.into(),
            chain_id: None,
            contract_address: None,
            private_key: None,
            receipt_timeout: Duration::from_secs(60),
            confirmations: 1,
            poll_interval: Duration::from_millis(200),
            rpc_timeout: Duration::from_secs(10),
            max_batches_per_tx: 64,
            gas_mode: GasMode::Auto,
            log_block_range: 5000,
        }
    }

    pub fn with_contract(mut self, address: impl Into<String>) -> EvmConfig {
        self.contract_address = Some(address.into());
        self
    }

    pub fn with_key(mut self, key: SecretKey) -> EvmConfig {
        self.private_key = Some(key);
        self
    }

    pub fn with_chain_id(mut self, chain_id: u64) -> EvmConfig {
        self.chain_id = Some(chain_id);
        self
    }

    pub(crate) fn expected_chain_id(&self) -> Option<u64> {
        self.chain_id.filter(|&c| c != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_key_is_never_shown() {
        let key = SecretKey::new(format!("  0x{}\n", "5e".repeat(32)));
        let cfg = EvmConfig::new("http://127.0.0.1:8545").with_key(key.clone());
        let shown = format!("{cfg:?} {key:?}");
        assert!(!shown.contains("5e5e"), "{shown}");
        assert!(shown.contains("<redacted>"));
        assert_eq!(key.expose().len(), 66, "trimmed");
    }

    #[test]
    fn chain_id_zero_means_read_from_node() {
        let cfg = EvmConfig::new("http://127.0.0.1:8545");
        assert_eq!(cfg.expected_chain_id(), None);
        assert_eq!(cfg.clone().with_chain_id(0).expected_chain_id(), None);
        assert_eq!(cfg.with_chain_id(1337).expected_chain_id(), Some(1337));
    }
}
