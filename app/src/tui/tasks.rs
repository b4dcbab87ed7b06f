//! Background work: each function runs off the render loop (SQLite on blocking threads)
//! and returns the [`AppEvent`] that carries its result. Tests call them directly.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use conanchor_ledger::{Ledger, MockChain};
use conanchor_store::rusqlite::{params, OptionalExtension};
use conanchor_store::{open_evidence, Store};

use super::event::{AnchorRow, AppEvent, BatchRow, ContainerTotals, LedgerSnapshot, VerifyScope};
use super::model::BATCH_WINDOW;
use crate::attack::{self, AttackSpec, AttackTarget, AttackType, JournalSource, RestoreScope};
use crate::diff::{self, OriginalSource};
use crate::ledgers::{Backend, LedgerArgs};
use crate::verify::{self, LedgerView, VerifyOptions};

/// Anchors listed in the Ledger panel.
const RECENT_ANCHORS: usize = 40;

fn msg(e: anyhow::Error) -> String {
    crate::one_line(&e)
}

/// Totals per container, outbox depth and the newest batches of `selected` (blocking).
pub fn read_store(data_dir: &Path, selected: Option<&str>) -> AppEvent {
    match read_store_inner(data_dir, selected) {
        Ok(ev) => ev,
        Err(e) => AppEvent::StoreError(msg(e)),
    }
}

fn read_store_inner(data_dir: &Path, selected: Option<&str>) -> Result<AppEvent> {
    let mut store = Store::open_existing(data_dir)?;
    let conn = store.connection();
    let pending: i64 = conn.query_row("SELECT count(*) FROM anchor_outbox", [], |r| r.get(0))?;
    let mut stmt = conn.prepare_cached(
        "SELECT container_instance_id, next_container_seq, open_dropped, last_seen_ns FROM containers",
    )?;
    let containers = stmt
        .query_map([], |r| {
            Ok(ContainerTotals {
                container_instance_id: r.get(0)?,
                events: r.get::<_, i64>(1)?.saturating_sub(1).max(0) as u64,
                open_dropped: r.get::<_, i64>(2)?.max(0) as u64,
                last_seen_ns: r.get::<_, i64>(3)?.max(0) as u64,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    drop(stmt);
    let batches = match selected {
        Some(cid) => Some((cid.to_string(), batch_rows(conn, cid)?)),
        None => None,
    };
    Ok(AppEvent::Store {
        pending_anchors: pending.max(0) as u64,
        containers,
        batches,
    })
}

fn batch_rows(conn: &conanchor_store::rusqlite::Connection, cid: &str) -> Result<Vec<BatchRow>> {
    let key: Option<i64> = conn
        .query_row(
            "SELECT id FROM containers WHERE container_instance_id = ?1",
            [cid],
            |r| r.get(0),
        )
        .optional()?;
    let Some(key) = key else {
        return Ok(Vec::new());
    };
    let mut stmt = conn.prepare_cached(
        "SELECT container_batch_id, first_container_seq, last_container_seq, event_count, \
         dropped_event_count, merkle_root, end_time_ns, tx_id, block_height FROM batches \
         WHERE container = ?1 ORDER BY container_batch_id DESC LIMIT ?2",
    )?;
    let u = |v: i64| v.max(0) as u64;
    let rows = stmt
        .query_map(params![key, BATCH_WINDOW as i64], |r| {
            let tx: Option<String> = r.get(7)?;
            let height: Option<i64> = r.get(8)?;
            Ok(BatchRow {
                batch_id: u(r.get(0)?),
                first_seq: u(r.get(1)?),
                last_seq: u(r.get(2)?),
                event_count: u(r.get(3)?),
                dropped: u(r.get(4)?),
                merkle_root: r.get(5)?,
                end_time_ns: u(r.get(6)?),
                anchored: tx.zip(height.map(u)),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// A ledger that sees edits made by other processes (the attack lab): a fresh mock chain
/// each time, the session's client for an EVM ledger.
pub fn fresh_ledger(
    args: &LedgerArgs,
    data_dir: &Path,
    shared: &Arc<dyn Ledger>,
) -> Result<Arc<dyn Ledger>> {
    match args.ledger_backend {
        Backend::Mock => Ok(Arc::new(MockChain::open(&args.mock_path(data_dir))?)),
        Backend::Besu => Ok(shared.clone()),
    }
}

/// Status, chain validity and the latest anchors.
pub async fn read_ledger(ledger: Arc<dyn Ledger>, selected: Option<String>) -> AppEvent {
    AppEvent::Ledger(read_ledger_inner(ledger, selected).await.map_err(msg))
}

async fn read_ledger_inner(
    ledger: Arc<dyn Ledger>,
    selected: Option<String>,
) -> Result<LedgerSnapshot> {
    let status = ledger.status().await.context("reading the ledger status")?;
    let chain = ledger
        .verify_chain()
        .await
        .context("checking the ledger chain")?;
    // The mock chain is local: list every container's anchors. An EVM ledger is asked
    // about the selected container only (one RPC round per container).
    let containers = if status.backend == "mock" {
        ledger.list_containers().await?
    } else {
        selected.into_iter().collect()
    };
    let mut recent: Vec<AnchorRow> = Vec::new();
    for cid in containers {
        push_anchors(&mut recent, ledger.list_anchors(&cid).await?);
    }
    recent.sort_by_key(|a| std::cmp::Reverse(a.block_height));
    recent.truncate(RECENT_ANCHORS);
    Ok(LedgerSnapshot {
        status,
        chain_problems: chain.problems,
        blocks_checked: chain.blocks_checked,
        recent,
    })
}

fn push_anchors(out: &mut Vec<AnchorRow>, list: Vec<conanchor_store::AnchorRecord>) {
    let start = list.len().saturating_sub(RECENT_ANCHORS);
    for a in &list[start..] {
        out.push(AnchorRow {
            block_height: a.block_height.unwrap_or(0),
            tx_id: a.tx_id.clone().unwrap_or_default(),
            container_instance_id: a.header.container_instance_id.clone(),
            batch_id: a.header.container_batch_id,
            event_count: a.header.event_count,
        });
    }
}

/// Fetches the ledger view, then verifies on a blocking thread with a fresh store reader.
pub async fn verify(
    ledger: Arc<dyn Ledger>,
    data_dir: &Path,
    scope: VerifyScope,
    progress: impl FnMut(u64, u64) + Send + 'static,
) -> AppEvent {
    AppEvent::VerifyDone(
        verify_inner(ledger, data_dir, scope, progress)
            .await
            .map_err(msg),
    )
}

async fn verify_inner(
    ledger: Arc<dyn Ledger>,
    data_dir: &Path,
    scope: VerifyScope,
    mut progress: impl FnMut(u64, u64) + Send + 'static,
) -> Result<verify::VerifyReport> {
    let cid = match &scope {
        VerifyScope::Container(c) => Some(c.clone()),
        VerifyScope::All => None,
    };
    let view = LedgerView::fetch(ledger.as_ref(), cid.clone().map(|c| vec![c])).await?;
    let dir = data_dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut reader = open_evidence(&dir)?;
        let opts = VerifyOptions {
            container_instance_id: cid,
            ..VerifyOptions::default()
        };
        verify::verify(reader.as_mut(), &view, &opts, &mut progress)
    })
    .await
    .context("the verification task stopped")?
}

/// The diff of one batch, with originals from the attack journal.
pub async fn diff(
    ledger: Arc<dyn Ledger>,
    data_dir: &Path,
    cid: String,
    batch_id: u64,
) -> AppEvent {
    let r = async {
        let view = LedgerView::fetch(ledger.as_ref(), Some(vec![cid.clone()])).await?;
        let dir = data_dir.to_path_buf();
        tokio::task::spawn_blocking(move || {
            let mut reader = open_evidence(&dir)?;
            let mut journal = JournalSource::open(&dir, AttackTarget::detect(&dir))?;
            let originals: Option<&mut dyn OriginalSource> = if journal.is_empty() {
                None
            } else {
                Some(&mut journal)
            };
            diff::diff_batch(reader.as_mut(), &view, &cid, batch_id, originals).map(Box::new)
        })
        .await
        .context("the diff task stopped")?
    }
    .await;
    AppEvent::DiffReady(r.map_err(msg))
}

/// Runs one attack (blocking).
pub fn attack(
    data_dir: &Path,
    mock_chain: &Path,
    kind: AttackType,
    cid: &str,
    batch: Option<u64>,
) -> AppEvent {
    let mut spec = AttackSpec::new(data_dir, cid, kind);
    spec.batch = batch;
    spec.mock_chain = mock_chain.to_path_buf();
    AppEvent::AttackDone(attack::run_attack(&spec).map_err(msg))
}

/// Undoes the last journaled attack (blocking).
pub fn restore(data_dir: &Path) -> AppEvent {
    AppEvent::RestoreDone(
        attack::restore(data_dir, AttackTarget::Sqlite, RestoreScope::Last).map_err(msg),
    )
}
