//! Choosing and opening the ledger backend from command-line flags.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use conanchor_ledger::evm::{EvmConfig, EvmLedger, SecretKey};
use conanchor_ledger::{Ledger, MockChain};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Backend {
    /// The local hash-chained file `<data-dir>/ledger/mock_chain.jsonl`.
    #[default]
    Mock,
    /// An Ethereum JSON-RPC chain (Hyperledger Besu, anvil, …) through AnchorRegistry.
    #[value(alias = "evm")]
    Besu,
}

/// Ledger flags shared by collect, generate, verify and the workstation.
#[derive(Debug, Clone, Args, Default)]
pub struct LedgerArgs {
    /// Where anchors go: mock (local file) or besu/evm (AnchorRegistry contract).
    #[arg(long, value_enum, default_value_t = Backend::Mock, env = "CONANCHOR_LEDGER_BACKEND")]
    pub ledger_backend: Backend,
    /// JSON-RPC URL of the EVM node.
    #[arg(long, default_value = "http://127.0.0.1:8545", env = "BESU_RPC_URL")]
    pub besu_rpc_url: String,
    /// Expected chain id (0 = read it from the node).
    #[arg(long, default_value_t = 0, env = "BESU_CHAIN_ID")]
    pub besu_chain_id: u64,
    /// Address of the deployed AnchorRegistry.
    #[arg(long, env = "BESU_CONTRACT_ADDRESS")]
    pub besu_contract_address: Option<String>,
    /// File holding the collector's private key (else CONANCHOR_BESU_PRIVATE_KEY).
    #[arg(long, env = "BESU_KEY_FILE")]
    pub besu_key_file: Option<PathBuf>,
    /// Mock chain file (default: <data-dir>/ledger/mock_chain.jsonl).
    #[arg(long)]
    pub mock_chain: Option<PathBuf>,
}

impl LedgerArgs {
    pub fn mock_path(&self, data_dir: &Path) -> PathBuf {
        self.mock_chain
            .clone()
            .unwrap_or_else(|| MockChain::path_in(data_dir))
    }

    /// Checks the flags without touching the ledger or the disk (no node is contacted):
    /// lets a command fail before it loads the probe or creates anything.
    pub fn check(&self) -> Result<()> {
        self.besu_config().map(|_| ())
    }

    /// The EVM configuration `open` connects with; `None` for the mock chain.
    fn besu_config(&self) -> Result<Option<EvmConfig>> {
        match self.ledger_backend {
            Backend::Mock => Ok(None),
            Backend::Besu => {
                let cfg = self.evm_config(true)?;
                if cfg.contract_address.is_none() {
                    bail!("--besu-contract-address (or BESU_CONTRACT_ADDRESS) is required with --ledger-backend besu; deploy one with `conanchor-tui ledger deploy`");
                }
                Ok(Some(cfg))
            }
        }
    }

    /// Opens the chosen ledger for the evidence in `data_dir`.
    pub async fn open(&self, data_dir: &Path) -> Result<Arc<dyn Ledger>> {
        match self.besu_config()? {
            None => Ok(Arc::new(MockChain::open(&self.mock_path(data_dir))?)),
            Some(cfg) => Ok(Arc::new(EvmLedger::connect(cfg).await?)),
        }
    }

    /// The EVM client configuration from the flags; the key from `--besu-key-file` or
    /// `CONANCHOR_BESU_PRIVATE_KEY` (never printed).
    pub fn evm_config(&self, with_contract: bool) -> Result<EvmConfig> {
        let mut cfg = EvmConfig::new(&self.besu_rpc_url);
        cfg.chain_id = Some(self.besu_chain_id);
        if with_contract {
            cfg.contract_address = self.besu_contract_address.clone();
        }
        cfg.private_key = SecretKey::from_file_or_env(self.besu_key_file.as_deref())?;
        Ok(cfg)
    }
}
