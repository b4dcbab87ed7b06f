//! `attack`: tamper with stored evidence on purpose (demos, self-tests), or undo it.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use conanchor_store::{open_evidence, EvidenceReader};

use crate::attack::{self, AttackSpec, AttackTarget, AttackType, RestoreScope};
use crate::ledgers::LedgerArgs;

const EXAMPLES: &str = "Examples:
  conanchor-tui attack --data-dir ./data --container-id demo-container --type modify-log
  conanchor-tui attack --data-dir ./data --container-id demo-container --type delete-log --batch 2 --seq 14
  conanchor-tui attack --data-dir ./data --container-id demo-container --type rollback-container
  conanchor-tui attack --data-dir ./data --container-id demo-container --type forge-batch
  conanchor-tui attack --data-dir ./data --container-id demo-container --type tamper-ledger
  conanchor-tui attack --data-dir ./evidence --container-id demo-container --type reorder-log --target export
  conanchor-tui attack --data-dir ./data --restore          # undo the last attack
  conanchor-tui attack --data-dir ./data --restore all      # undo every attack
  conanchor-tui attack --data-dir ./data --journal          # list journaled attacks
Defaults: the container's first sealed batch (the last one for rollback-container) and its
first event. Every attack is journaled with before/after content (SQLite: the
attack_journal table; export: .conanchor/attack_journal.jsonl); verify never reads it.";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RestoreArg {
    /// The most recent attack not yet undone.
    Last,
    /// Every attack, newest first.
    All,
}

#[derive(Debug, Clone, Args)]
#[command(after_help = EXAMPLES)]
pub struct AttackArgs {
    /// A data dir (conanchor.db) or, with --target export, an exported directory.
    #[arg(long, default_value = "./data")]
    pub data_dir: PathBuf,
    /// The container instance to attack (default: the first stored one).
    #[arg(long, visible_alias = "container-instance-id")]
    pub container_id: Option<String>,
    /// The attack.
    #[arg(long = "type", value_enum, required_unless_present_any = ["restore", "journal"])]
    pub kind: Option<AttackType>,
    /// Batch to attack (default: the first sealed one; the last one for rollback-container,
    /// which removes this batch and every later one).
    #[arg(long)]
    pub batch: Option<u64>,
    /// container_seq of the event to attack (default: the batch's first).
    #[arg(long)]
    pub seq: Option<u64>,
    /// Which copy to tamper with (default: sqlite when the dir has conanchor.db, else export).
    #[arg(long, value_enum)]
    pub target: Option<AttackTarget>,
    /// Undo the last attack (or `all`) instead of attacking.
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "last", conflicts_with_all = ["kind", "journal"])]
    pub restore: Option<RestoreArg>,
    /// List the journaled attacks.
    #[arg(long, conflicts_with = "kind")]
    pub journal: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Mock chain file (default: <data-dir>/ledger/mock_chain.jsonl).
    #[arg(long)]
    pub mock_chain: Option<PathBuf>,
}

fn default_container(args: &AttackArgs) -> Result<String> {
    if let Some(id) = &args.container_id {
        return Ok(id.clone());
    }
    let mut reader: Box<dyn EvidenceReader> = open_evidence(&args.data_dir)?;
    match reader.container_ids()?.into_iter().next() {
        Some(id) => Ok(id),
        None => bail!(
            "{} holds no container; generate or collect evidence first",
            args.data_dir.display()
        ),
    }
}

pub fn run(args: AttackArgs) -> Result<u8> {
    if !args.data_dir.is_dir() {
        bail!(
            "data dir {} does not exist; check --data-dir",
            args.data_dir.display()
        );
    }
    let target = args
        .target
        .unwrap_or_else(|| AttackTarget::detect(&args.data_dir));
    if args.journal {
        let entries = attack::journal_entries(&args.data_dir, target)?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&entries)?);
        } else if entries.is_empty() {
            println!("no journaled attacks in {}", args.data_dir.display());
        } else {
            for e in &entries {
                println!(
                    "#{:<4} {:<19} {:<9} {}",
                    e.id,
                    e.attack,
                    if e.restored { "restored" } else { "active" },
                    e.description
                );
            }
        }
        return Ok(0);
    }
    if let Some(scope) = args.restore {
        let scope = match scope {
            RestoreArg::Last => RestoreScope::Last,
            RestoreArg::All => RestoreScope::All,
        };
        let lines = attack::restore(&args.data_dir, target, scope)?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&lines)?);
        } else if lines.is_empty() {
            println!("nothing to restore: no active attack in the journal");
        } else {
            for l in &lines {
                println!("{l}");
            }
        }
        return Ok(0);
    }
    let Some(kind) = args.kind else {
        bail!("pass --type (see --help), --restore or --journal");
    };
    let cid = default_container(&args)?;
    let ledger = LedgerArgs {
        mock_chain: args.mock_chain.clone(),
        ..LedgerArgs::default()
    };
    let spec = AttackSpec {
        data_dir: args.data_dir.clone(),
        container_instance_id: cid,
        kind,
        batch: args.batch,
        seq: args.seq,
        target,
        mock_chain: ledger.mock_path(&args.data_dir),
    };
    let outcome = attack::run_attack(&spec)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    } else {
        println!(
            "attack {} ({}): {}",
            outcome.kind,
            target.as_str(),
            outcome.description
        );
        for d in &outcome.details {
            println!("  - {d}");
        }
        println!("  verify should now report: {}", outcome.expected);
        println!(
            "  undo with: conanchor-tui attack --data-dir {} --restore",
            args.data_dir.display()
        );
    }
    Ok(0)
}
