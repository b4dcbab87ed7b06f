//! Rows of a batch diff: aligned against a trusted leaf list, or (when none reproduces the
//! anchored root) the stored events as they are.

use std::collections::{BTreeSet, HashMap};

use conanchor_store::{Event, Hash32, LeafRow, LogTagRef};

use super::{event_field_changes, DiffRow};
use crate::verify::localize::localize;
use crate::verify::FindingKind;

fn row(seq: u64) -> DiffRow {
    DiffRow {
        position: 0,
        container_seq: seq,
        anchored_position: None,
        stored_position: None,
        anchored_leaf: None,
        stored_leaf: None,
        kind: None,
        stored_event: None,
        original_event: None,
        field_changes: Vec::new(),
    }
}

pub(super) fn aligned_rows(
    batch_id: u64,
    expected: &[LogTagRef],
    leaves: &[LeafRow],
    events: &[Event],
    originals: &HashMap<Hash32, &Event>,
) -> Vec<DiffRow> {
    let findings = localize(batch_id, expected, leaves);
    let mut used_expected = vec![false; expected.len()];
    let mut used_actual = vec![false; leaves.len()];
    let mut pairs: Vec<(Option<usize>, Option<usize>, Option<FindingKind>)> = Vec::new();
    for f in &findings {
        if let Some(i) = f.expected_position {
            used_expected[i] = true;
        }
        if let Some(j) = f.actual_position {
            used_actual[j] = true;
        }
        pairs.push((f.expected_position, f.actual_position, Some(f.kind)));
    }
    // Intact events: the remaining expected leaves, matched by hash in storage order.
    let mut free: HashMap<Hash32, Vec<usize>> = HashMap::new();
    for (j, l) in leaves.iter().enumerate().rev() {
        if !used_actual[j] {
            free.entry(l.hash).or_default().push(j);
        }
    }
    for (i, t) in expected.iter().enumerate() {
        if used_expected[i] {
            continue;
        }
        let j = free.get_mut(&t.hash).and_then(Vec::pop);
        pairs.push((Some(i), j, None));
    }
    pairs
        .into_iter()
        .map(|(i, j, kind)| {
            let seq = i
                .map(|i| expected[i].container_seq)
                .or_else(|| j.map(|j| leaves[j].container_seq))
                .unwrap_or(0);
            let mut r = row(seq);
            r.anchored_position = i;
            r.stored_position = j;
            r.anchored_leaf = i.map(|i| expected[i].hash.to_hex());
            r.stored_leaf = j.map(|j| leaves[j].hash.to_hex());
            r.kind = kind;
            r.stored_event = j.and_then(|j| events.get(j).cloned());
            if matches!(kind, Some(FindingKind::Modified | FindingKind::Deleted)) {
                r.original_event =
                    i.and_then(|i| originals.get(&expected[i].hash).map(|e| (*e).clone()));
            }
            if let (Some(o), Some(s)) = (&r.original_event, &r.stored_event) {
                r.field_changes = event_field_changes(o, s);
            }
            r
        })
        .collect()
}

pub(super) fn unaligned_rows(
    first: u64,
    last: u64,
    leaves: &[LeafRow],
    events: &[Event],
    originals: &[Event],
) -> Vec<DiffRow> {
    // Sequence numbers of the range with no stored event at all get a row of their own.
    let present: BTreeSet<u64> = leaves.iter().map(|l| l.container_seq).collect();
    let missing = (first..=last)
        .filter(|s| !present.contains(s))
        .take(10_000)
        .map(|seq| {
            let mut r = row(seq);
            r.original_event = originals.iter().find(|o| o.container_seq == seq).cloned();
            r
        });
    leaves
        .iter()
        .enumerate()
        .map(|(j, l)| {
            let mut r = row(l.container_seq);
            r.stored_position = Some(j);
            r.stored_leaf = Some(l.hash.to_hex());
            r.stored_event = events.get(j).cloned();
            // Only where the seq is unambiguous: one stored event, one differing original.
            let unique = leaves
                .iter()
                .filter(|x| x.container_seq == l.container_seq)
                .count()
                == 1;
            let original = originals
                .iter()
                .find(|o| o.container_seq == l.container_seq && o.leaf_hash() != l.hash)
                .filter(|_| unique);
            if let (Some(o), Some(s)) = (original, &r.stored_event) {
                r.original_event = Some(o.clone());
                r.field_changes = event_field_changes(o, s);
            }
            r
        })
        .chain(missing)
        .collect()
}
