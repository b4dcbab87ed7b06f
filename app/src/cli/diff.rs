//! `diff`: one batch as aligned rows, anchored leaf vs stored event, with field-level
//! before/after for modified events when an authentic original is known.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use conanchor_store::open_evidence;

use crate::attack::{AttackTarget, JournalSource};
use crate::diff::{self, Baseline, BatchDiff, BatchSummary, CopySource, DiffRow, OriginalSource};
use crate::ledgers::LedgerArgs;
use crate::verify::{self, LedgerView, VerifyOptions};

const EXAMPLES: &str = "Examples:
  conanchor-tui diff --data-dir ./data --container-id demo-container            # first failed batch
  conanchor-tui diff --data-dir ./data --container-id demo-container --batch 2
  conanchor-tui diff --data-dir ./data --container-id demo-container --batch 2 --authentic ./evidence-monday
  conanchor-tui diff --data-dir ./evidence --container-id demo-container --batch 1 --json
Originals of modified events come from --authentic DIR (an earlier export or data dir; only
content whose leaf hash matches the anchor is shown) or else from the attack journal.
Exit status: 0 the batch matches its anchor, 1 it differs, 2 could not run.";

#[derive(Debug, Clone, Args)]
#[command(after_help = EXAMPLES)]
pub struct DiffArgs {
    /// A data dir (conanchor.db) or an exported directory.
    #[arg(long, default_value = "./data")]
    pub data_dir: PathBuf,
    /// The container instance.
    #[arg(long, visible_alias = "container-instance-id")]
    pub container_id: String,
    /// The batch (default: the first one verify fails, else the first anchored).
    #[arg(long)]
    pub batch: Option<u64>,
    /// Another copy of the evidence to take originals from (an export or a data dir).
    #[arg(long)]
    pub authentic: Option<PathBuf>,
    /// Print the diff as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub ledger: LedgerArgs,
}

/// Builds the diff the command prints (also used by tests).
pub async fn build(args: &DiffArgs) -> Result<BatchDiff> {
    if !args.data_dir.exists() {
        bail!(
            "data dir {} does not exist; check --data-dir",
            args.data_dir.display()
        );
    }
    conanchor_store::check_container_id(&args.container_id)?;
    let mut reader = open_evidence(&args.data_dir)?;
    let ledger = args.ledger.open(&args.data_dir).await?;
    let view = LedgerView::fetch(ledger.as_ref(), Some(vec![args.container_id.clone()])).await?;
    let cid = args.container_id.as_str();
    let batch = match args.batch {
        Some(b) => b,
        None => {
            let opts = VerifyOptions {
                container_instance_id: Some(cid.to_string()),
                ..VerifyOptions::default()
            };
            let report = verify::verify(reader.as_mut(), &view, &opts, &mut |_, _| {})?;
            report
                .containers
                .iter()
                .flat_map(|c| c.batches.iter())
                .find(|b| b.status == verify::Status::Failed)
                .map(|b| b.batch_id)
                .unwrap_or(1)
        }
    };
    let mut copy;
    let mut journal;
    let originals: Option<&mut dyn OriginalSource> = match &args.authentic {
        Some(dir) => {
            copy = CopySource::open(dir)
                .with_context(|| format!("opening the authentic copy {}", dir.display()))?;
            Some(&mut copy)
        }
        None => {
            journal = JournalSource::open(&args.data_dir, AttackTarget::detect(&args.data_dir))
                .context("reading the attack journal")?;
            if journal.is_empty() {
                None
            } else {
                Some(&mut journal)
            }
        }
    };
    diff::diff_batch(reader.as_mut(), &view, cid, batch, originals)
}

pub async fn run(args: DiffArgs) -> Result<u8> {
    let d = build(&args).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&d)?);
    } else {
        print!("{}", render(&d));
    }
    Ok(if d.is_intact() { 0 } else { 1 })
}

fn short(h: &str) -> &str {
    &h[..12.min(h.len())]
}

fn summary_line(s: &BatchSummary) -> String {
    s.describe() + &s.problems().concat()
}

fn event_text(r: &DiffRow) -> String {
    match (&r.stored_event, &r.original_event) {
        (Some(e), _) | (None, Some(e)) => {
            format!("{} {} {}", e.event_type, e.comm, e.path)
        }
        (None, None) => "-".to_string(),
    }
}

/// The diff as aligned text (what `diff` prints without --json).
pub fn render(d: &BatchDiff) -> String {
    let mut out = String::new();
    let verdict = if d.is_intact() {
        "MATCHES ITS ANCHOR"
    } else {
        "DIFFERS"
    };
    let against = match d.baseline {
        Baseline::StoredLeafList => {
            "aligned against the stored leaf list, which reproduces the anchored root"
        }
        Baseline::AuthenticCopy => {
            "aligned against the authentic copy's leaf list, which reproduces the anchored root"
        }
        Baseline::UnanchoredLeafList => "aligned against the stored leaf list (not anchored)",
        Baseline::None => "not localized: nothing reproduces the anchored root",
    };
    out.push_str(&format!(
        "batch {} of {}: {verdict} ({against})\n",
        d.batch_id, d.container_instance_id
    ));
    match &d.anchor {
        Some(a) => out.push_str(&format!("  anchored: {}\n", summary_line(a))),
        None => out.push_str("  anchored: (no anchor)\n"),
    }
    match &d.stored {
        Some(s) => out.push_str(&format!("  stored:   {}\n", summary_line(s))),
        None => out.push_str("  stored:   (missing)\n"),
    }
    if let Some(src) = &d.authentic_source {
        out.push_str(&format!("  originals: {}\n", src.verdict));
    }
    if !d.header_fields.is_empty() {
        out.push_str(&format!(
            "\n  {:<30} {:<14} {:<14}\n",
            "header field", "anchored", "stored"
        ));
        for f in &d.header_fields {
            let (a, s) = if f.anchored.len() == 64 {
                (short(&f.anchored), short(&f.stored))
            } else {
                (f.anchored.as_str(), f.stored.as_str())
            };
            out.push_str(&format!("  {:<30} {:<14} {:<14}\n", f.name, a, s));
        }
    }
    if let Some(orig) = &d.original_anchor {
        out.push_str(&format!(
            "  the journal holds the anchor as it was before the ledger edit: merkle_root {}, batch hash {}\n",
            orig.merkle_root.short(),
            orig.container_batch_hash.short()
        ));
    }
    out.push_str(&format!(
        "\n  {:>3}  {:>8}  {:<12}  {:<12}  {:<9}  {}\n",
        "#", "seq", "anchored", "stored", "status", "event"
    ));
    for r in &d.rows {
        let status = match (r.kind, d.localized) {
            (Some(k), _) => k.as_str(),
            (None, true) => "ok",
            (None, false) if r.stored_leaf.is_none() => "missing",
            (None, false) => "?",
        };
        out.push_str(&format!(
            "  {:>3}  {:>8}  {:<12}  {:<12}  {:<9}  {}\n",
            r.position,
            r.container_seq,
            r.anchored_leaf.as_deref().map_or("-", short),
            r.stored_leaf.as_deref().map_or("-", short),
            status,
            event_text(r)
        ));
        let from = d
            .authentic_source
            .as_ref()
            .map(|s| s.label.as_str())
            .unwrap_or("the source");
        for f in &r.field_changes {
            out.push_str(&format!(
                "  {:>3}  {:>8}  {}: {:?} -> {:?}   (original from the {from})\n",
                "", "", f.name, f.anchored, f.stored
            ));
        }
        if r.kind == Some(crate::verify::FindingKind::Deleted) && r.original_event.is_some() {
            out.push_str(&format!(
                "  {:>3}  {:>8}  deleted event recovered from the {from}\n",
                "", ""
            ));
        }
    }
    if !d.notes.is_empty() {
        out.push_str("\n  notes:\n");
        for n in &d.notes {
            out.push_str(&format!("   - {n}\n"));
        }
    }
    out
}
