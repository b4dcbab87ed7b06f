//! `ledger deploy|status|authorize`: manage the anchoring ledger.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use conanchor_ledger::evm::{self, EvmLedger};

use crate::ledgers::{Backend, LedgerArgs};

const EXAMPLES: &str = "Examples:
  conanchor-tui ledger status --data-dir ./data
  conanchor-tui ledger deploy --ledger-backend besu --besu-rpc-url http://127.0.0.1:8545 --besu-key-file .anvil/dev-key --address-file ./data/besu-contract-address
  conanchor-tui ledger authorize 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 --ledger-backend besu --besu-contract-address 0x… --besu-key-file owner.key
  conanchor-tui ledger status --ledger-backend besu --besu-contract-address $(cat data/besu-contract-address)";

#[derive(Debug, Clone, Args)]
#[command(after_help = EXAMPLES)]
pub struct LedgerCmd {
    #[command(subcommand)]
    pub action: LedgerAction,
}

#[derive(Debug, Clone, Subcommand)]
pub enum LedgerAction {
    /// Deploy AnchorRegistry (the deploying key is authorized to anchor); prints the address.
    Deploy {
        /// Also write the address to this file.
        #[arg(long, env = "BESU_ADDRESS_FILE")]
        address_file: Option<PathBuf>,
        #[command(flatten)]
        ledger: LedgerArgs,
    },
    /// Show the ledger: head, anchors, chain validity (and for EVM: chain id, code, our key).
    Status {
        #[arg(long, default_value = "./data")]
        data_dir: PathBuf,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        ledger: LedgerArgs,
    },
    /// Authorize another collector address to anchor (owner key required).
    Authorize {
        /// The collector's address (0x…).
        address: String,
        #[command(flatten)]
        ledger: LedgerArgs,
    },
}

pub async fn run(cmd: LedgerCmd) -> Result<()> {
    match cmd.action {
        LedgerAction::Deploy {
            address_file,
            ledger,
        } => {
            if ledger.ledger_backend != Backend::Besu {
                bail!("deploy is for the EVM ledger: add --ledger-backend besu (the mock ledger needs no deployment)");
            }
            let cfg = ledger.evm_config(false)?;
            if cfg.private_key.is_none() {
                bail!("deploy needs a funded key: set CONANCHOR_BESU_PRIVATE_KEY or pass --besu-key-file");
            }
            let address = evm::deploy(&cfg).await?;
            let text = format!("{address:#x}");
            if let Some(path) = address_file {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("creating {}", dir.display()))?;
                }
                std::fs::write(&path, format!("{text}\n"))
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            println!("{text}");
            Ok(())
        }
        LedgerAction::Status {
            data_dir,
            json,
            ledger,
        } => {
            let l = ledger.open(&data_dir).await?;
            let status = l.status().await?;
            let chain = l.verify_chain().await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({ "status": status, "chain": chain })
                    )?
                );
                return Ok(());
            }
            println!("backend        {}", status.backend);
            println!("location       {}", status.location);
            if let Some(id) = status.chain_id {
                println!("chain id       {id}");
            }
            println!("head height    {}", status.head_height);
            println!("anchors        {}", status.anchor_count);
            for (k, v) in &status.details {
                println!("{k:<14} {v}");
            }
            if chain.is_valid() {
                println!(
                    "chain          valid ({} blocks checked)",
                    chain.blocks_checked
                );
            } else {
                println!("chain          INVALID");
                for p in &chain.problems {
                    println!("  {p}");
                }
            }
            Ok(())
        }
        LedgerAction::Authorize { address, ledger } => {
            if ledger.ledger_backend != Backend::Besu {
                bail!("authorize is for the EVM ledger: add --ledger-backend besu");
            }
            let addr = address.parse().map_err(|_| {
                anyhow::anyhow!(
                    "{address:?} is not an address: expected 0x followed by 40 hex characters"
                )
            })?;
            let l = EvmLedger::connect(ledger.evm_config(true)?).await?;
            let tx = l.authorize(addr).await?;
            println!("authorized {address} (tx {tx})");
            Ok(())
        }
    }
}
