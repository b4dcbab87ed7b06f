//! The diff of one batch: the anchored leaf list beside the stored events, row by row, with
//! field-level before/after for modified events when an authentic original is known.
//!
//! A library type only (no printing): `conanchor-tui diff` renders it as text or JSON and
//! the TUI's diff view renders the same model.
//!
//! Trust: rows are aligned against a leaf list only when that list reproduces the anchored
//! Merkle root (the stored `log_tags`, or else an authentic copy's). Original content, from
//! the attack journal or another copy of the evidence, is shown only for events whose leaf
//! hash equals an anchored leaf, so it is authentic whatever its source; the journal is
//! display-only and never decides anything.

mod rows;
mod source;

use std::collections::HashMap;

use anyhow::{bail, Result};
use conanchor_store::{merkle_root, BatchHeader, Event, EvidenceReader, Hash32, LogTagRef};
use serde::{Deserialize, Serialize};

use crate::verify::{FindingKind, LedgerView};
use rows::{aligned_rows, unaligned_rows};
pub use source::{CopySource, OriginalSource};

/// One field that differs: the anchored/original value and the stored one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDiff {
    pub name: String,
    /// The anchored value (header fields) or the authentic original (event fields).
    pub anchored: String,
    pub stored: String,
}

/// A batch as one side holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchSummary {
    #[serde(flatten)]
    pub header: BatchHeader,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tx_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_height: Option<u64>,
    /// Its committed fields hash to its own `container_batch_hash`.
    pub self_consistent: bool,
    /// For the stored side: its leaf list reproduces its own `merkle_root`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leaf_list_consistent: Option<bool>,
}

/// Where original content comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// The attack journal of the evidence itself (what the attack lab recorded).
    Journal,
    /// Another copy of the evidence (an earlier export or data dir).
    Copy,
}

/// The copy the originals came from, and whether it is authentic for this batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthenticSource {
    /// `attack journal` or `export at DIR`.
    pub label: String,
    pub kind: SourceKind,
    /// Its leaf list (or its events) for this batch reproduces the anchored Merkle root;
    /// `None` when it holds nothing for the whole batch (e.g. the journal of one edit).
    pub matches_anchor: Option<bool>,
    /// Rows whose original content it supplied (each checked against the anchored leaf).
    pub originals_used: usize,
    /// One sentence for people: which copy is authentic.
    pub verdict: String,
}

/// What the rows were aligned against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Baseline {
    /// The stored leaf list, which reproduces the anchored root.
    StoredLeafList,
    /// The authentic source's leaf list, which reproduces the anchored root.
    AuthenticCopy,
    /// The stored leaf list of a batch with no anchor (nothing vouches for it).
    UnanchoredLeafList,
    /// Nothing reproduces the anchored root: rows are the stored events, unclassified.
    None,
}

/// One row: an anchored leaf and/or a stored event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffRow {
    /// Row index in display order.
    pub position: usize,
    pub container_seq: u64,
    /// Position in the anchored leaf list (0-based).
    pub anchored_position: Option<usize>,
    /// Position among the stored events of the batch, in storage order.
    pub stored_position: Option<usize>,
    pub anchored_leaf: Option<String>,
    pub stored_leaf: Option<String>,
    /// `None` = intact (when the diff is localized).
    pub kind: Option<FindingKind>,
    pub stored_event: Option<Event>,
    /// The authentic original (its leaf hash equals the anchored leaf).
    pub original_event: Option<Event>,
    /// Original vs stored, field by field (modified events with a known original).
    pub field_changes: Vec<FieldDiff>,
}

/// The diff of one batch of one container instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchDiff {
    pub container_instance_id: String,
    pub batch_id: u64,
    pub anchor: Option<BatchSummary>,
    pub stored: Option<BatchSummary>,
    /// Anchored vs stored batch metadata, only the fields that differ.
    pub header_fields: Vec<FieldDiff>,
    /// The anchor as it was before a journaled ledger edit, when the journal has it.
    pub original_anchor: Option<BatchHeader>,
    pub baseline: Baseline,
    /// Rows are classified (MODIFIED/DELETED/INSERTED/REORDERED or intact).
    pub localized: bool,
    pub rows: Vec<DiffRow>,
    pub authentic_source: Option<AuthenticSource>,
    pub notes: Vec<String>,
}

impl BatchSummary {
    /// One line of facts: events, seq range, root, batch hash and block when known.
    pub fn describe(&self) -> String {
        let h = &self.header;
        let mut out = format!(
            "{} events (seq {}..={}), merkle_root {}, batch hash {}",
            h.event_count,
            h.first_container_seq,
            h.last_container_seq,
            h.merkle_root.short(),
            h.container_batch_hash.short()
        );
        if let Some(b) = self.block_height {
            out.push_str(&format!(", block {b}"));
        }
        out
    }

    /// What is wrong with the batch on its own, each as " — ..." to append to
    /// [`BatchSummary::describe`].
    pub fn problems(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if !self.self_consistent {
            out.push(" — does NOT hash to its own batch hash");
        }
        if self.leaf_list_consistent == Some(false) {
            out.push(" — leaf list does NOT give its merkle_root");
        }
        out
    }
}

impl BatchDiff {
    /// Nothing differs: the stored batch is exactly what was anchored.
    pub fn is_intact(&self) -> bool {
        self.anchor.is_some()
            && self.header_fields.is_empty()
            && self.localized
            && self.rows.iter().all(|r| r.kind.is_none())
    }

    pub fn changed_rows(&self) -> impl Iterator<Item = &DiffRow> {
        self.rows.iter().filter(|r| r.kind.is_some())
    }
}

/// Event fields that differ between `original` and `stored`, in the format's field order.
pub fn event_field_changes(original: &Event, stored: &Event) -> Vec<FieldDiff> {
    let mut out = Vec::new();
    macro_rules! cmp {
        ($($f:ident),*) => {$(
            if original.$f != stored.$f {
                out.push(FieldDiff {
                    name: stringify!($f).to_string(),
                    anchored: original.$f.to_string(),
                    stored: stored.$f.to_string(),
                });
            }
        )*};
    }
    cmp!(
        global_seq,
        container_seq,
        timestamp_ns,
        event_type,
        pid,
        tgid,
        uid,
        gid,
        comm,
        path,
        extra,
        flags,
        retval,
        cgroup_id,
        container_id,
        container_instance_id,
        risk,
        policy
    );
    out
}

fn header_values(h: &BatchHeader) -> Vec<(&'static str, String)> {
    vec![
        ("container_instance_id", h.container_instance_id.clone()),
        ("container_batch_id", h.container_batch_id.to_string()),
        ("first_container_seq", h.first_container_seq.to_string()),
        ("last_container_seq", h.last_container_seq.to_string()),
        ("first_global_seq", h.first_global_seq.to_string()),
        ("last_global_seq", h.last_global_seq.to_string()),
        ("event_count", h.event_count.to_string()),
        ("dropped_event_count", h.dropped_event_count.to_string()),
        ("start_time_ns", h.start_time_ns.to_string()),
        ("end_time_ns", h.end_time_ns.to_string()),
        (
            "previous_container_batch_hash",
            h.previous_container_batch_hash.to_hex(),
        ),
        ("merkle_root", h.merkle_root.to_hex()),
        ("container_batch_hash", h.container_batch_hash.to_hex()),
        ("collector_id", h.collector_id.clone()),
    ]
}

/// Committed header fields that differ, anchored vs stored.
pub fn header_field_changes(anchored: &BatchHeader, stored: &BatchHeader) -> Vec<FieldDiff> {
    header_values(anchored)
        .into_iter()
        .zip(header_values(stored))
        .filter(|((_, a), (_, s))| a != s)
        .map(|((name, a), (_, s))| FieldDiff {
            name: name.to_string(),
            anchored: a,
            stored: s,
        })
        .collect()
}

fn root_of(tags: &[LogTagRef]) -> Option<Hash32> {
    merkle_root(&tags.iter().map(|t| t.hash).collect::<Vec<_>>())
}

/// Leaf list of events in `container_seq` order (what a seal would have committed).
fn tags_of(events: &[Event]) -> Vec<LogTagRef> {
    let mut sorted: Vec<&Event> = events.iter().collect();
    sorted.sort_by_key(|e| e.container_seq);
    sorted
        .iter()
        .map(|e| LogTagRef {
            global_seq: e.global_seq,
            container_seq: e.container_seq,
            hash: e.leaf_hash(),
        })
        .collect()
}

/// Builds the diff of `batch_id` of `cid`: the ledger's anchor (from `view`) against the
/// stored evidence in `reader`, with originals from `originals` where it has authentic ones.
pub fn diff_batch(
    reader: &mut dyn EvidenceReader,
    view: &LedgerView,
    cid: &str,
    batch_id: u64,
    mut originals: Option<&mut dyn OriginalSource>,
) -> Result<BatchDiff> {
    let mut notes = Vec::new();
    let anchor = view.anchors.get(cid).and_then(|list| {
        list.iter()
            .find(|a| a.header.container_batch_id == batch_id)
    });
    let stored = match reader.batch(cid, batch_id)? {
        Some(Ok(b)) => Some(b),
        Some(Err(reason)) => {
            notes.push(format!("the stored batch cannot be read: {reason}"));
            None
        }
        None => None,
    };
    if anchor.is_none() && stored.is_none() {
        bail!(
            "batch {batch_id} of {cid} is neither anchored on the {} ledger nor stored in {}",
            view.backend,
            reader.location().display()
        );
    }
    let anchor_summary = anchor.map(|a| BatchSummary {
        self_consistent: a.header.compute_hash() == a.header.container_batch_hash,
        header: a.header.clone(),
        tx_id: a.tx_id.clone(),
        block_height: a.block_height,
        leaf_list_consistent: None,
    });
    let stored_tags = stored.as_ref().map(|b| b.tag_refs());
    let stored_summary = stored.as_ref().map(|b| BatchSummary {
        self_consistent: b.header.compute_hash() == b.header.container_batch_hash,
        header: b.header.clone(),
        tx_id: b.tx_id.clone(),
        block_height: b.block_height,
        leaf_list_consistent: Some(
            stored_tags.as_deref().and_then(root_of) == Some(b.header.merkle_root),
        ),
    });
    let header_fields = match (&anchor_summary, &stored_summary) {
        (Some(a), Some(s)) => header_field_changes(&a.header, &s.header),
        _ => Vec::new(),
    };
    match (&anchor_summary, &stored_summary) {
        (None, _) => notes.push(format!(
            "batch {batch_id} has no anchor on the {} ledger: nothing vouches for the stored copy",
            view.backend
        )),
        (Some(a), None) => notes.push(format!(
            "batch {batch_id} is anchored{} but missing from the store (rollback or truncation)",
            a.block_height
                .map(|h| format!(" at block {h}"))
                .unwrap_or_default()
        )),
        (Some(a), Some(s)) => {
            if !a.self_consistent {
                notes.push("the anchored record does not hash to its own container_batch_hash: the ledger entry itself was altered".to_string());
            }
            if !header_fields.is_empty()
                && s.self_consistent
                && s.leaf_list_consistent == Some(true)
            {
                notes.push("the stored batch metadata is internally consistent but differs from its anchor: it was forged (recomputed) in the store, or the anchor was altered".to_string());
            }
        }
    }
    for p in view.chain.problems.iter().take(3) {
        notes.push(format!("ledger: {p}"));
    }

    let header_range = anchor_summary
        .as_ref()
        .or(stored_summary.as_ref())
        .map(|s| (s.header.first_container_seq, s.header.last_container_seq))
        .unwrap_or((0, 0));
    let (first, last) = header_range;
    let leaves = reader.leaves_in_range(cid, first, last)?;
    let events = reader.events_in_range(cid, first, last)?;

    // Originals, checked against the anchor.
    let anchored_root = anchor.map(|a| a.header.merkle_root);
    let mut source_leaf_list: Option<Vec<LogTagRef>> = None;
    let mut source_matches: Option<bool> = None;
    let mut original_events: Vec<Event> = Vec::new();
    let mut original_anchor = None;
    if let Some(src) = originals.as_deref_mut() {
        original_events = src.original_events(cid, first, last)?;
        original_anchor = src.original_anchor(cid, batch_id)?;
        let list = src.original_leaf_list(cid, batch_id)?;
        let from_events = (src.kind() == SourceKind::Copy && !original_events.is_empty())
            .then(|| tags_of(&original_events));
        for candidate in list.into_iter().chain(from_events) {
            let ok = anchored_root.is_some() && root_of(&candidate) == anchored_root;
            source_matches = Some(source_matches.unwrap_or(false) || ok);
            if ok && source_leaf_list.is_none() {
                source_leaf_list = Some(candidate);
            }
        }
    }

    let (baseline, expected): (Baseline, Option<Vec<LogTagRef>>) =
        match (&stored_tags, anchored_root) {
            (Some(tags), Some(root)) if root_of(tags) == Some(root) => {
                (Baseline::StoredLeafList, Some(tags.clone()))
            }
            (Some(tags), None) => (Baseline::UnanchoredLeafList, Some(tags.clone())),
            _ => match source_leaf_list {
                Some(list) => (Baseline::AuthenticCopy, Some(list)),
                None => (Baseline::None, None),
            },
        };
    if baseline == Baseline::None {
        notes.push(
            "neither the stored leaf list nor an authentic copy reproduces the anchored Merkle root: events cannot be classified one by one (pass --authentic DIR with an earlier copy)"
                .to_string(),
        );
    }

    let by_hash: HashMap<Hash32, &Event> =
        original_events.iter().map(|e| (e.leaf_hash(), e)).collect();
    let mut rows = match &expected {
        Some(expected) => aligned_rows(batch_id, expected, &leaves, &events, &by_hash),
        None => unaligned_rows(first, last, &leaves, &events, &original_events),
    };
    rows.sort_by_key(|r| {
        (
            r.container_seq,
            r.anchored_position.unwrap_or(usize::MAX),
            r.stored_position.unwrap_or(usize::MAX),
        )
    });
    for (i, r) in rows.iter_mut().enumerate() {
        r.position = i;
    }
    if expected.is_none() && rows.iter().any(|r| r.original_event.is_some()) {
        notes.push("originals shown beside unclassified rows come from the source at the same container_seq and are not vouched for by the anchor".to_string());
    }

    let authentic_source = originals.map(|src| {
        let used = rows.iter().filter(|r| r.original_event.is_some()).count();
        let label = src.label();
        let verdict = match (src.kind(), source_matches) {
            (_, Some(true)) => format!(
                "{label}: its leaf list for batch {batch_id} reproduces the anchored Merkle root: it is the authentic copy"
            ),
            (SourceKind::Copy, Some(false)) => format!(
                "{label}: does not reproduce the anchored Merkle root of batch {batch_id}: not authentic either; only its events whose leaf hash matches an anchored leaf are shown"
            ),
            (SourceKind::Copy, None) => format!("{label}: holds nothing for batch {batch_id}"),
            (SourceKind::Journal, _) if used > 0 && expected.is_some() => format!(
                "{label}: original content of {used} event(s), each matching its anchored leaf hash"
            ),
            (SourceKind::Journal, _) if used > 0 => format!(
                "{label}: original content of {used} event(s) at the same container_seq, not checked against the anchor (nothing reproduces the anchored root)"
            ),
            (SourceKind::Journal, _) => {
                format!("{label}: no original content recorded for batch {batch_id}")
            }
        };
        AuthenticSource {
            label,
            kind: src.kind(),
            matches_anchor: source_matches,
            originals_used: used,
            verdict,
        }
    });

    Ok(BatchDiff {
        container_instance_id: cid.to_string(),
        batch_id,
        anchor: anchor_summary,
        stored: stored_summary,
        header_fields,
        original_anchor,
        localized: expected.is_some(),
        baseline,
        rows,
        authentic_source,
        notes,
    })
}
