//! `verify`: check stored evidence (SQLite data dir or export) against the ledger.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use conanchor_store::{is_export_dir, open_evidence, Store};

use crate::ledgers::{Backend, LedgerArgs};
use crate::verify::{self, ContainerReport, LedgerView, Status, VerifyOptions, VerifyReport};

const EXAMPLES: &str = "Examples:
  conanchor-tui verify --data-dir ./data
  conanchor-tui verify --data-dir ./data --container-instance-id demo-container --from-batch 1 --to-batch 3
  conanchor-tui verify --data-dir ./evidence --json      # an exported directory
Exit status: 0 OK, 1 FAILED (tampering found), 2 could not run.";

#[derive(Debug, Clone, Args)]
#[command(after_help = EXAMPLES)]
pub struct VerifyArgs {
    /// A data dir (conanchor.db) or an exported directory (logs/, batches/, ledger/).
    #[arg(long, default_value = "./data")]
    pub data_dir: PathBuf,
    /// Verify one container instance (default: all).
    #[arg(long)]
    pub container_instance_id: Option<String>,
    /// First batch to verify (0 or 1 = the first).
    #[arg(long, default_value_t = 0)]
    pub from_batch: u64,
    /// Last batch to verify (0 = the ledger's latest, so a rolled-back tail is caught).
    #[arg(long, default_value_t = 0)]
    pub to_batch: u64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// No progress bar on stderr.
    #[arg(long)]
    pub no_progress: bool,
    #[command(flatten)]
    pub ledger: LedgerArgs,
}

/// The mock chain of an export lives at `<export>/ledger/mock_chain.jsonl`; of a data dir
/// at `<data-dir>/ledger/mock_chain.jsonl` — the same relative path.
fn check_ledger_present(args: &VerifyArgs) -> Result<()> {
    if args.ledger.ledger_backend == Backend::Mock {
        let path = args.ledger.mock_path(&args.data_dir);
        if !path.is_file() {
            anyhow::bail!(
                "no mock ledger at {}: verify needs the ledger the batches were anchored to (pass --mock-chain FILE, or --ledger-backend besu)",
                path.display()
            );
        }
    }
    Ok(())
}

pub async fn run_report(args: &VerifyArgs) -> Result<VerifyReport> {
    if !args.data_dir.exists() {
        anyhow::bail!(
            "data dir {} does not exist; check --data-dir",
            args.data_dir.display()
        );
    }
    if !Store::exists_in(&args.data_dir) && !is_export_dir(&args.data_dir) {
        anyhow::bail!(
            "no evidence in {}: expected conanchor.db (a data dir) or logs/ and batches/ (an export); check --data-dir",
            args.data_dir.display()
        );
    }
    check_ledger_present(args)?;
    let mut reader = open_evidence(&args.data_dir)?;
    let ledger = args.ledger.open(&args.data_dir).await?;
    let ids = args.container_instance_id.clone().map(|id| vec![id]);
    let view = LedgerView::fetch(ledger.as_ref(), ids).await?;
    let opts = VerifyOptions {
        container_instance_id: args.container_instance_id.clone(),
        from_batch: args.from_batch,
        to_batch: args.to_batch,
    };
    let show = !args.no_progress && std::io::stderr().is_terminal();
    let bar = indicatif::ProgressBar::new(0);
    if show {
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "verifying {bar:40} {pos}/{len} batches ({per_sec}, eta {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
    } else {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let view_ref = &view;
    let report = tokio::task::block_in_place(|| {
        verify::verify(reader.as_mut(), view_ref, &opts, &mut |done, total| {
            if done % 64 == 0 || done == total {
                bar.set_length(total);
                bar.set_position(done);
            }
        })
    })
    .context("verification could not run")?;
    bar.finish_and_clear();
    Ok(report)
}

/// Runs verify and prints; the exit code is 0 OK, 1 FAILED.
pub async fn run(args: VerifyArgs) -> Result<u8> {
    let report = run_report(&args).await?;
    if args.json {
        let json = match (&args.container_instance_id, report.containers.as_slice()) {
            (Some(_), [one]) => serde_json::to_string_pretty(one)?,
            _ => serde_json::to_string_pretty(&report)?,
        };
        println!("{json}");
    } else {
        print_table(&report, &args.data_dir);
    }
    Ok(if report.failed() { 1 } else { 0 })
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Ok => "OK",
        Status::Failed => "FAILED",
    }
}

fn print_container(c: &ContainerReport) {
    println!(
        "{:<8} {}  batches {}..={}  verified {} batches / {} events",
        status_word(c.status),
        c.container_instance_id,
        c.from_batch,
        c.to_batch,
        c.verified_batches,
        c.verified_events
    );
    for f in &c.failures {
        println!(
            "  FAIL  batch {:<5} {:<29} {}",
            f.batch_id,
            f.kind.as_str(),
            f.message
        );
    }
    for f in &c.findings {
        println!(
            "  EVENT batch {:<5} {:<10} container_seq {:<8} expected {}  actual {}",
            f.batch_id,
            f.kind.as_str(),
            f.container_seq,
            f.expected_leaf
                .as_deref()
                .map_or("-", |h| &h[..12.min(h.len())]),
            f.actual_leaf
                .as_deref()
                .map_or("-", |h| &h[..12.min(h.len())]),
        );
    }
    for w in &c.warnings {
        println!("  warn  {}", w.message);
    }
}

fn print_table(report: &VerifyReport, dir: &Path) {
    for c in &report.containers {
        print_container(c);
    }
    println!(
        "status: {}  ({} containers, {} failed; {} batches, {} events verified; evidence: {} at {}; ledger: {})",
        status_word(report.status),
        report.containers.len(),
        report.failed_containers,
        report.verified_batches,
        report.verified_events,
        report.evidence,
        dir.display(),
        report.ledger_backend
    );
}
