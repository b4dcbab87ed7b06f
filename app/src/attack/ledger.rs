//! `tamper-ledger`: edit one anchor in the mock chain file, as someone with write access to
//! the ledger's storage would. The block keeps its stated hash, so the chain no longer
//! verifies (`LEDGER_CHAIN_INVALID`).

use std::path::Path;

use anyhow::{bail, Context, Result};
use conanchor_ledger::mock::Block;
use conanchor_store::BatchHeader;

use super::files;
use super::journal::UndoOp;
use super::tamper;

/// Rewrites the `merkle_root` of the block anchoring `cid`/`batch_id` in the chain at
/// `root/chain` (or `chain` if absolute). Returns the undo op and the anchor before/after.
pub fn tamper(
    root: &Path,
    chain: &Path,
    cid: &str,
    batch_id: u64,
) -> Result<(UndoOp, BatchHeader, BatchHeader)> {
    let full = files::resolve(root, chain);
    if !full.is_file() {
        bail!(
            "no mock chain at {}: tamper-ledger only works on the mock ledger (pass --mock-chain FILE)",
            full.display()
        );
    }
    let lines = files::read_lines(&full)?;
    let found = lines.iter().enumerate().find_map(|(i, l)| {
        let block: Block = serde_json::from_str(l).ok()?;
        (block.anchor.container_instance_id == cid && block.anchor.container_batch_id == batch_id)
            .then_some((i, block))
    });
    let Some((index, mut block)) = found else {
        bail!(
            "batch {batch_id} of {cid} is not anchored on the mock chain {} (still pending?)",
            full.display()
        );
    };
    let old = block.anchor.clone();
    block.anchor.merkle_root = tamper::tampered_root(&old.merkle_root);
    let new = block.anchor.clone();
    let line = serde_json::to_string(&block).context("encoding the edited block")?;
    let op = files::splice(root, chain, index, 1, vec![line])?;
    Ok((op, old, new))
}

/// `merkle_root a -> b at height h`.
pub fn describe(old: &BatchHeader, new: &BatchHeader) -> String {
    old.differing_fields(new)
        .into_iter()
        .map(|f| match f {
            "merkle_root" => format!(
                "merkle_root {} -> {}",
                old.merkle_root.short(),
                new.merkle_root.short()
            ),
            other => format!("{other} changed"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}
