//! Verification: the ledger is the source of truth.
//!
//! For each container instance, walk the anchors on the ledger (not the store's batches,
//! which an attacker can roll back), and check the stored batch and events against each.
//! Ledger data is fetched first ([`LedgerView::fetch`], async); the check itself
//! ([`verify`]) is synchronous so it can run on a blocking thread next to SQLite.

pub mod localize;
pub mod report;

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use conanchor_ledger::{ChainCheck, ContainerHead, Ledger};
use conanchor_store::{merkle_root, AnchorRecord, EvidenceReader, Hash32, MerkleAccumulator};

pub use report::{
    BatchResult, ContainerReport, Failure, FailureType, Finding, FindingKind, Status, VerifyReport,
    Warning, WarningKind,
};

/// Which batches to check. `from_batch` 0 or 1 = the first; `to_batch` 0 = the latest
/// anchored (the ledger's head, so a rolled-back tail is still checked).
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    pub container_instance_id: Option<String>,
    pub from_batch: u64,
    pub to_batch: u64,
}

/// What the ledger says, fetched once per run.
#[derive(Debug, Clone, Default)]
pub struct LedgerView {
    pub backend: String,
    pub chain: ChainCheck,
    pub anchors: BTreeMap<String, Vec<AnchorRecord>>,
    pub heads: BTreeMap<String, ContainerHead>,
}

impl LedgerView {
    /// Reads the anchors of `containers` (all the ledger knows when `None`).
    pub async fn fetch(ledger: &dyn Ledger, containers: Option<Vec<String>>) -> Result<LedgerView> {
        let chain = ledger
            .verify_chain()
            .await
            .context("checking the ledger chain")?;
        let ids = match containers {
            Some(ids) => ids,
            None => ledger
                .list_containers()
                .await
                .context("listing anchored containers")?,
        };
        let mut anchors = BTreeMap::new();
        let mut heads = BTreeMap::new();
        for cid in ids {
            let list = ledger
                .list_anchors(&cid)
                .await
                .with_context(|| format!("reading the anchors of {cid}"))?;
            if let Some(head) = ledger
                .container_head(&cid)
                .await
                .with_context(|| format!("reading the ledger head of {cid}"))?
            {
                heads.insert(cid.clone(), head);
            }
            anchors.insert(cid, list);
        }
        Ok(LedgerView {
            backend: ledger.backend().to_string(),
            chain,
            anchors,
            heads,
        })
    }
}

/// What the stored events of one anchored batch amount to.
#[derive(Debug, Clone, Default)]
pub struct BatchDigest {
    pub count: u64,
    /// Sequence numbers of the anchored range with no stored event (at most 11 kept).
    pub missing: Vec<u64>,
    pub root: Option<Hash32>,
}

impl BatchDigest {
    fn from_leaves(first: u64, last: u64, leaves: &[conanchor_store::LeafRow]) -> BatchDigest {
        let mut acc = Accumulator::new(first, last);
        for l in leaves {
            acc.push(l);
        }
        acc.finish()
    }
}

/// Streams one batch's stored leaves: root, count and which seqs are present.
struct Accumulator {
    first: u64,
    last: u64,
    merkle: MerkleAccumulator,
    present: Vec<u64>,
}

impl Accumulator {
    fn new(first: u64, last: u64) -> Accumulator {
        let span = last.saturating_sub(first).saturating_add(1).min(1 << 32);
        Accumulator {
            first,
            last,
            merkle: MerkleAccumulator::new(),
            present: vec![0u64; span.div_ceil(64) as usize],
        }
    }

    fn push(&mut self, l: &conanchor_store::LeafRow) {
        self.merkle.push(&l.hash);
        let off = l.container_seq.wrapping_sub(self.first);
        if let Some(word) = self.present.get_mut((off / 64) as usize) {
            *word |= 1 << (off % 64);
        }
    }

    fn finish(&self) -> BatchDigest {
        let mut missing = Vec::new();
        let mut seq = self.first;
        'outer: for word in &self.present {
            for bit in 0..64 {
                if seq > self.last {
                    break 'outer;
                }
                if word & (1 << bit) == 0 {
                    missing.push(seq);
                    if missing.len() > 10 {
                        break 'outer;
                    }
                }
                seq += 1;
            }
        }
        BatchDigest {
            count: self.merkle.len(),
            missing,
            root: self.merkle.root(),
        }
    }
}

/// One sequential pass over every stored event, digesting each anchored batch in range.
/// `None` when the reader has no such pass (then each batch is read on its own).
fn scan_digests(
    reader: &mut dyn EvidenceReader,
    view: &LedgerView,
    ids: &[String],
    opts: &VerifyOptions,
) -> Result<Option<BTreeMap<(String, u64), BatchDigest>>> {
    // Per container: anchored ranges sorted by first seq, non-overlapping, each with the
    // accumulator of its batch.
    type Ranges = Vec<(u64, u64, u64, Accumulator)>;
    let mut ranges: std::collections::HashMap<String, Ranges> = Default::default();
    let wanted: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
    for (cid, anchors) in &view.anchors {
        if !wanted.contains(cid.as_str()) {
            continue;
        }
        let mut r: Vec<(u64, u64, u64)> = anchors
            .iter()
            .map(|a| &a.header)
            .filter(|h| h.container_batch_id >= opts.from_batch.max(1))
            .filter(|h| opts.to_batch == 0 || h.container_batch_id <= opts.to_batch)
            .map(|h| {
                (
                    h.first_container_seq,
                    h.last_container_seq,
                    h.container_batch_id,
                )
            })
            .collect();
        r.sort_unstable();
        let disjoint = r.windows(2).all(|w| w[0].1 < w[1].0) && r.iter().all(|x| x.0 <= x.1);
        if disjoint && !r.is_empty() {
            let with_acc = r
                .into_iter()
                .map(|(f, l, id)| (f, l, id, Accumulator::new(f, l)))
                .collect();
            ranges.insert(cid.clone(), with_acc);
        }
    }
    // The reader numbers containers densely for the pass: resolve each index to its
    // ranges once (a string look-up per event would cost more than hashing it).
    // `None` until the index is first seen; then the container's ranges, if it has any.
    let mut slots: Vec<Option<Option<(String, Ranges)>>> = Vec::new();
    let supported = reader.scan_leaves(&mut |index, cid, leaf| {
        if index >= slots.len() {
            slots.resize_with(index + 1, || None);
        }
        let slot = slots[index].get_or_insert_with(|| ranges.remove_entry(cid));
        let Some((_, r)) = slot.as_mut() else {
            return;
        };
        let i = r.partition_point(|x| x.0 <= leaf.container_seq);
        if i == 0 {
            return;
        }
        let (_, last, _, acc) = &mut r[i - 1];
        if leaf.container_seq <= *last {
            acc.push(leaf);
        }
    })?;
    // Back with the containers that have anchors but no stored event (empty accumulators).
    ranges.extend(slots.into_iter().flatten().flatten());
    if !supported {
        return Ok(None);
    }
    Ok(Some(
        ranges
            .into_iter()
            .flat_map(|(cid, r)| {
                r.into_iter()
                    .map(move |(_, _, id, acc)| ((cid.clone(), id), acc.finish()))
            })
            .collect(),
    ))
}

/// Progress callback: (batches done, batches in total).
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// Verifies the evidence in `reader` against `view`.
pub fn verify(
    reader: &mut dyn EvidenceReader,
    view: &LedgerView,
    opts: &VerifyOptions,
    progress: Progress<'_>,
) -> Result<VerifyReport> {
    let ids: Vec<String> = match &opts.container_instance_id {
        Some(id) => vec![id.clone()],
        None => {
            let stored: Vec<String> = reader.container_ids()?;
            let mut set: BTreeSet<String> = stored.iter().cloned().collect();
            if view.backend == "mock" {
                // The mock chain belongs to this evidence: every container on it is ours.
                set.extend(view.anchors.keys().cloned());
            } else {
                // A shared chain holds other collectors' containers too: take those anchored
                // by a collector this evidence knows (so a container deleted from the store
                // entirely is still checked).
                let mut collectors = BTreeSet::new();
                for cid in &stored {
                    if let Some(first) = reader.batch_ids(cid)?.first() {
                        if let Some(Ok(b)) = reader.batch(cid, *first)? {
                            collectors.insert(b.header.collector_id);
                        }
                    }
                }
                for (cid, anchors) in &view.anchors {
                    if anchors
                        .iter()
                        .any(|a| collectors.contains(&a.header.collector_id))
                    {
                        set.insert(cid.clone());
                    }
                }
            }
            set.into_iter().collect()
        }
    };
    let total: u64 = ids
        .iter()
        .map(|id| view.anchors.get(id).map_or(0, |a| a.len() as u64))
        .sum();
    // Verifying everything: one sequential pass beats a look-up per batch.
    let digests = if ids.len() > 1 {
        scan_digests(reader, view, &ids, opts)?
    } else {
        None
    };
    let mut done = 0u64;
    let mut containers = Vec::with_capacity(ids.len());
    for cid in &ids {
        let report = verify_container(reader, view, cid, opts, digests.as_ref(), &mut |n| {
            done += n;
            progress(done, total);
        })?;
        containers.push(report);
    }
    let failed = containers.iter().filter(|c| c.failed()).count() as u64;
    Ok(VerifyReport {
        status: if failed > 0 {
            Status::Failed
        } else {
            Status::Ok
        },
        evidence: reader.kind().to_string(),
        ledger_backend: view.backend.clone(),
        verified_batches: containers.iter().map(|c| c.verified_batches).sum(),
        verified_events: containers.iter().map(|c| c.verified_events).sum(),
        failed_containers: failed,
        containers,
    })
}

struct Ctx {
    failures: Vec<Failure>,
    warnings: Vec<Warning>,
}

impl Ctx {
    fn fail(&mut self, batch_id: u64, kind: FailureType, message: String) {
        self.failures.push(Failure {
            batch_id,
            kind,
            message,
        });
    }
}

fn verify_container(
    reader: &mut dyn EvidenceReader,
    view: &LedgerView,
    cid: &str,
    opts: &VerifyOptions,
    digests: Option<&BTreeMap<(String, u64), BatchDigest>>,
    tick: &mut dyn FnMut(u64),
) -> Result<ContainerReport> {
    let mut ctx = Ctx {
        failures: Vec::new(),
        warnings: Vec::new(),
    };
    for problem in &view.chain.problems {
        ctx.fail(0, FailureType::LedgerChainInvalid, problem.clone());
    }
    for problem in reader.load_problems(cid)? {
        ctx.fail(0, FailureType::LogLoadFailed, problem);
    }
    let empty = Vec::new();
    let anchors = view.anchors.get(cid).unwrap_or(&empty);
    let by_id: BTreeMap<u64, &AnchorRecord> = anchors
        .iter()
        .map(|a| (a.header.container_batch_id, a))
        .collect();
    let stored_ids: BTreeSet<u64> = reader.batch_ids(cid)?.into_iter().collect();
    let pending: BTreeSet<u64> = reader.pending_batch_ids(cid)?.into_iter().collect();
    let ledger_latest = by_id
        .keys()
        .next_back()
        .copied()
        .unwrap_or(0)
        .max(view.heads.get(cid).map_or(0, |h| h.container_batch_id));
    let from = opts.from_batch.max(1);
    let to = if opts.to_batch == 0 {
        ledger_latest
    } else {
        opts.to_batch
    };

    if let Some(head) = view.heads.get(cid) {
        match by_id.get(&head.container_batch_id) {
            Some(a) if a.header.container_batch_hash == head.container_batch_hash => {}
            _ => ctx.fail(
                head.container_batch_id,
                FailureType::AnchorNotFound,
                format!(
                    "the ledger head of {cid} is batch {} ({}), but no matching anchor record was found",
                    head.container_batch_id,
                    head.container_batch_hash.short()
                ),
            ),
        }
    }

    let mut batches = Vec::new();
    let mut findings = Vec::new();
    let mut verified_batches = 0u64;
    let mut verified_events = 0u64;
    let mut dropped = 0u64;
    for id in from..=to {
        let before = ctx.failures.len();
        let Some(anchor) = by_id.get(&id) else {
            if id > ledger_latest && pending.contains(&id) {
                continue; // reported with the pending warning below
            }
            let message = if stored_ids.contains(&id) {
                format!(
                    "batch {id} is stored and sealed but has no anchor on the {} ledger",
                    view.backend
                )
            } else {
                format!(
                    "batch {id} has no anchor on the {} ledger and is not stored",
                    view.backend
                )
            };
            ctx.fail(id, FailureType::AnchorNotFound, message);
            batches.push(result_for(id, &ctx.failures[before..], 0, None));
            continue;
        };
        tick(1);
        let prev_anchor_hash = if id == 1 {
            Some(Hash32::ZERO)
        } else {
            by_id.get(&(id - 1)).map(|a| a.header.container_batch_hash)
        };
        let digest = digests.and_then(|d| d.get(&(cid.to_string(), id)));
        let event_count = check_batch(
            reader,
            cid,
            anchor,
            digest,
            prev_anchor_hash,
            &mut ctx,
            &mut findings,
        )?;
        dropped += anchor.header.dropped_event_count;
        verified_batches += 1;
        verified_events += event_count;
        batches.push(result_for(
            id,
            &ctx.failures[before..],
            anchor.header.event_count,
            anchor.block_height,
        ));
    }

    if dropped > 0 {
        ctx.warnings.push(Warning {
            batch_id: None,
            kind: WarningKind::DroppedEvents,
            count: dropped,
            message: format!("{dropped} events were dropped by the kernel (ring buffer full); the loss itself is anchored"),
        });
    }
    let waiting: Vec<u64> = pending
        .iter()
        .copied()
        .filter(|id| !by_id.contains_key(id))
        .collect();
    if !waiting.is_empty() {
        ctx.warnings.push(Warning {
            batch_id: waiting.first().copied(),
            kind: WarningKind::PendingAnchor,
            count: waiting.len() as u64,
            message: format!(
                "{} sealed batches are still waiting to be anchored (batches {}..={})",
                waiting.len(),
                waiting[0],
                waiting[waiting.len() - 1]
            ),
        });
    }
    let unsealed = reader.unsealed_count(cid)?;
    if unsealed > 0 {
        ctx.warnings.push(Warning {
            batch_id: None,
            kind: WarningKind::UnsealedEvents,
            count: unsealed,
            message: format!("{unsealed} events are stored but not sealed into a batch yet"),
        });
    }
    let pending_drops = reader.pending_drops(cid)?;
    if pending_drops > 0 {
        ctx.warnings.push(Warning {
            batch_id: None,
            kind: WarningKind::PendingDrops,
            count: pending_drops,
            message: format!(
                "{pending_drops} events dropped by the kernel after the last sealed batch are recorded but not anchored yet (they go into this container's next batch)"
            ),
        });
    }

    Ok(ContainerReport {
        container_instance_id: cid.to_string(),
        from_batch: from,
        to_batch: to,
        status: if ctx.failures.is_empty() {
            Status::Ok
        } else {
            Status::Failed
        },
        verified_batches,
        failures: ctx.failures,
        findings,
        warnings: ctx.warnings,
        batches,
        verified_events,
    })
}

fn result_for(
    id: u64,
    failures: &[Failure],
    event_count: u64,
    block_height: Option<u64>,
) -> BatchResult {
    let mut kinds: Vec<FailureType> = failures.iter().map(|f| f.kind).collect();
    kinds.dedup();
    BatchResult {
        batch_id: id,
        status: if kinds.is_empty() {
            Status::Ok
        } else {
            Status::Failed
        },
        event_count,
        failures: kinds,
        block_height,
    }
}

/// Checks one anchored batch; returns the number of stored events it covered.
fn check_batch(
    reader: &mut dyn EvidenceReader,
    cid: &str,
    anchor: &AnchorRecord,
    digest: Option<&BatchDigest>,
    prev_anchor_hash: Option<Hash32>,
    ctx: &mut Ctx,
    findings: &mut Vec<Finding>,
) -> Result<u64> {
    let a = &anchor.header;
    let id = a.container_batch_id;
    let where_ = anchor
        .block_height
        .map(|h| format!(" at block {h}"))
        .unwrap_or_default();

    // The ledger's own record must be self-consistent and chained.
    if a.compute_hash() != a.container_batch_hash {
        ctx.fail(id, FailureType::AnchorMetadataMismatch, format!(
            "the anchored record of batch {id}{where_} does not hash to its own container_batch_hash"
        ));
    }
    if let Some(prev) = prev_anchor_hash {
        if a.previous_container_batch_hash != prev {
            ctx.fail(
                id,
                FailureType::PreviousBatchHashMismatch,
                format!(
                    "anchored batch {id} chains to {} but the anchored batch {} has hash {}",
                    a.previous_container_batch_hash.short(),
                    id.saturating_sub(1),
                    prev.short()
                ),
            );
        }
    }

    // The stored batch metadata.
    let stored = match reader.batch(cid, id)? {
        None => {
            ctx.fail(
                id,
                FailureType::BatchMissing,
                format!(
                "batch {id} is anchored{where_} but missing from the store (rollback or truncation)"
            ),
            );
            None
        }
        Some(Err(reason)) => {
            ctx.fail(id, FailureType::LogLoadFailed, reason);
            None
        }
        Some(Ok(b)) => Some(b),
    };
    if let Some(b) = &stored {
        let h = &b.header;
        if h.compute_hash() != h.container_batch_hash {
            ctx.fail(
                id,
                FailureType::BatchHashMismatch,
                format!(
                    "stored batch {id}: its fields hash to {}, not to its container_batch_hash {}",
                    h.compute_hash().short(),
                    h.container_batch_hash.short()
                ),
            );
        }
        if h.container_batch_hash != a.container_batch_hash {
            ctx.fail(
                id,
                FailureType::BatchHashMismatch,
                format!(
                    "stored batch {id} has container_batch_hash {}, the ledger anchored {}",
                    h.container_batch_hash.short(),
                    a.container_batch_hash.short()
                ),
            );
        }
        let fields: Vec<&str> = h
            .differing_fields(a)
            .into_iter()
            .filter(|f| *f != "container_batch_hash")
            .collect();
        if !fields.is_empty() {
            ctx.fail(
                id,
                FailureType::AnchorMetadataMismatch,
                format!(
                    "stored batch {id} differs from its anchor in: {}",
                    fields.join(", ")
                ),
            );
        }
    }

    // The stored events, in the anchored sequence range, in storage order.
    let (first, last) = (a.first_container_seq, a.last_container_seq);
    let digest = match digest {
        Some(d) => d.clone(),
        None => BatchDigest::from_leaves(first, last, &reader.leaves_in_range(cid, first, last)?),
    };
    let count = digest.count;
    if stored.is_none() && count == 0 {
        // The whole batch is gone: BATCH_MISSING (or LOG_LOAD_FAILED) says it all.
        return Ok(0);
    }
    if count != a.event_count {
        ctx.fail(
            id,
            FailureType::EventCountMismatch,
            format!(
                "batch {id} anchored {} events (seq {first}..={last}), the store has {count}",
                a.event_count
            ),
        );
    }
    if !digest.missing.is_empty() {
        let shown: Vec<String> = digest.missing.iter().take(10).map(u64::to_string).collect();
        let more = if digest.missing.len() > 10 {
            ", …"
        } else {
            ""
        };
        ctx.fail(
            id,
            FailureType::SequenceGap,
            format!(
                "batch {id} is missing container_seq {}{more}",
                shown.join(", ")
            ),
        );
    }
    let root = digest.root;
    if root != Some(a.merkle_root) {
        ctx.fail(
            id,
            FailureType::MerkleRootMismatch,
            format!(
                "batch {id}: the stored events give Merkle root {}, the ledger anchored {}",
                root.map_or_else(|| "(no events)".to_string(), |r| r.short()),
                a.merkle_root.short()
            ),
        );
        match stored.as_ref().map(|b| b.tag_refs()) {
            Some(tags) if merkle_root(&tags.iter().map(|t| t.hash).collect::<Vec<_>>()) == Some(a.merkle_root) => {
                let leaves = reader.leaves_in_range(cid, first, last)?;
                findings.extend(localize::localize(id, &tags, &leaves));
            }
            _ => ctx.warnings.push(Warning {
                batch_id: Some(id),
                kind: WarningKind::NotLocalized,
                count: 0,
                message: format!(
                    "batch {id}: the stored leaf list does not reproduce the anchored root either (forged or lost batch metadata); compare with an authentic copy (`conanchor-tui diff`)"
                ),
            }),
        }
    }
    Ok(count)
}
