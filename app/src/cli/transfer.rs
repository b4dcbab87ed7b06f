//! `export` and `import`: the seed's directory layout for evidence bundles.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use conanchor_ledger::mock::MOCK_CHAIN_FILE;
use conanchor_store::{export, ExportDir, Store};

use crate::ledgers::{Backend, LedgerArgs};

#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Example:\n  conanchor-tui export --data-dir ./data --out ./evidence\n\
Writes logs/<container_instance_id>.jsonl, batches/<container_instance_id>/batch_<id>.json and a copy of the mock ledger at ledger/mock_chain.jsonl."
)]
pub struct ExportArgs {
    #[arg(long, default_value = "./data")]
    pub data_dir: PathBuf,
    /// Output directory (created; existing files are replaced).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub ledger: LedgerArgs,
}

#[derive(Debug, Clone, Args)]
#[command(after_help = "Example:\n  conanchor-tui import --from ./evidence --data-dir ./case-42")]
pub struct ImportArgs {
    /// The exported directory.
    #[arg(long)]
    pub from: PathBuf,
    /// A new data dir to create.
    #[arg(long)]
    pub data_dir: PathBuf,
}

pub fn export_cmd(args: ExportArgs) -> Result<()> {
    let mut store = Store::open_existing(&args.data_dir)?;
    let summary = export::export(&mut store, &args.out)
        .with_context(|| format!("exporting to {}", args.out.display()))?;
    if args.ledger.ledger_backend == Backend::Mock {
        let src = args.ledger.mock_path(&args.data_dir);
        if src.is_file() {
            let dst = args.out.join(MOCK_CHAIN_FILE);
            if let Some(dir) = dst.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            std::fs::copy(&src, &dst)
                .with_context(|| format!("copying the mock ledger to {}", dst.display()))?;
        }
    }
    eprintln!(
        "exported {} containers, {} events, {} batches to {}",
        summary.containers,
        summary.events,
        summary.batches,
        args.out.display()
    );
    Ok(())
}

pub fn import_cmd(args: ImportArgs) -> Result<()> {
    if Store::exists_in(&args.data_dir) {
        bail!(
            "{} already holds a store; import into a new --data-dir",
            args.data_dir.display()
        );
    }
    let mut src = ExportDir::open(&args.from)?;
    let mut store = Store::create(&args.data_dir)?;
    let summary = match export::import(&mut src, &mut store) {
        Ok(s) => s,
        Err(e) => {
            drop(store);
            // Leave no half-imported store behind.
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(
                    args.data_dir
                        .join(format!("{}{suffix}", conanchor_store::DB_FILE)),
                );
            }
            return Err(e.into());
        }
    };
    let chain = args.from.join(MOCK_CHAIN_FILE);
    let dst = args.data_dir.join(MOCK_CHAIN_FILE);
    if chain.is_file() && !dst.exists() {
        if let Some(dir) = dst.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::copy(&chain, &dst).with_context(|| format!("copying {}", chain.display()))?;
    }
    eprintln!(
        "imported {} containers, {} events, {} batches into {}",
        summary.containers,
        summary.events,
        summary.batches,
        args.data_dir.display()
    );
    Ok(())
}
