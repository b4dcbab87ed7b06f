//! The headless command line of `conanchor-tui` (and the seed-compatible `collector` and
//! `verifier` binaries).

pub mod attack;
pub mod collect;
pub mod diff;
pub mod ledger;
pub mod transfer;
pub mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::bench::BenchArgs;

const ABOUT: &str = "ConAnchor: tamper-evident container runtime-security logs.\n\
Events are hashed, sealed into per-container Merkle batches chained by hash, and anchored \
on a ledger; `verify` proves the stored logs are exactly what was anchored, or pinpoints \
what was modified, deleted, inserted, reordered or rolled back.";

const EXAMPLES: &str = "Examples:
  conanchor-tui --source synthetic --data-dir ./data          # the workstation
  sudo conanchor-tui --data-dir ./data                        # the workstation on the live probe
  conanchor-tui generate --data-dir ./data --container-id demo-container --count 100 --batch-size 10
  conanchor-tui verify --data-dir ./data --container-instance-id demo-container
  conanchor-tui collect --source synthetic --rate 500 --data-dir ./data --workflow-log
  conanchor-tui export --data-dir ./data --out ./evidence
  conanchor-tui verify --data-dir ./evidence --json
  conanchor-tui bench --events 1000000";

#[derive(Debug, Parser)]
#[command(
    name = "conanchor-tui",
    version,
    about = ABOUT,
    after_help = EXAMPLES,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// With no subcommand: the workstation's flags.
    #[command(flatten)]
    pub tui: crate::tui::TuiArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate synthetic events through the real pipeline (no eBPF), seal and anchor them.
    Generate(collect::GenerateArgs),
    /// Run the collector until SIGINT/SIGTERM: events as JSONL on stdout, stored, sealed, anchored.
    Collect(collect::CollectArgs),
    /// Verify stored evidence against the ledger (exit 0 OK, 1 FAILED, 2 could not run).
    Verify(verify::VerifyArgs),
    /// Export the store to the seed's layout (logs/, batches/, ledger/) for auditors.
    Export(transfer::ExportArgs),
    /// Import an exported directory into a new SQLite data dir.
    Import(transfer::ImportArgs),
    /// Measure ingest and verify throughput, the SHA-256 limit and peak memory.
    Bench(BenchArgs),
    /// Deploy the EVM AnchorRegistry, show ledger status, authorize collectors.
    Ledger(ledger::LedgerCmd),
    /// Tamper with stored evidence on purpose (journaled), or undo it with --restore.
    Attack(attack::AttackArgs),
    /// Show one batch as anchored leaves vs stored events, with before/after of modified events.
    Diff(diff::DiffArgs),
}

/// Default data dir, as in the seed.
pub fn default_data_dir() -> PathBuf {
    PathBuf::from("./data")
}

/// Runs one command on a fresh runtime; errors print one line and exit 2.
pub fn run_command(command: Command) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CONANCHOR_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let Some(rt) = crate::util::runtime() else {
        return ExitCode::from(2);
    };
    let result: anyhow::Result<u8> = rt.block_on(async move {
        match command {
            Command::Generate(a) => collect::generate(a).await.map(|_| 0),
            Command::Collect(a) => collect::collect(a).await.map(|_| 0),
            Command::Verify(a) => verify::run(a).await,
            Command::Export(a) => transfer::export_cmd(a).map(|_| 0),
            Command::Import(a) => transfer::import_cmd(a).map(|_| 0),
            Command::Bench(a) => crate::bench::run(a).await.map(|_| 0),
            Command::Ledger(a) => ledger::run(a).await.map(|_| 0),
            Command::Attack(a) => attack::run(a),
            Command::Diff(a) => diff::run(a).await,
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {}", crate::one_line(&e));
            ExitCode::from(2)
        }
    }
}
