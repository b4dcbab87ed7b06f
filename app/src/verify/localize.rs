//! Localization: which stored events of a failed batch differ from the anchored leaf list.
//!
//! Only used when the stored leaf list reproduces the anchored Merkle root, so the list is
//! as good as the anchor itself. Matching is by leaf hash (content, including its sequence
//! numbers); order is storage order.

use std::collections::HashMap;

use conanchor_store::{Hash32, LeafRow, LogTagRef};

use super::report::{Finding, FindingKind};

pub fn localize(batch_id: u64, expected: &[LogTagRef], actual: &[LeafRow]) -> Vec<Finding> {
    // Expected positions by hash (a hash may repeat only for identical events).
    let mut by_hash: HashMap<Hash32, Vec<usize>> = HashMap::new();
    for (i, t) in expected.iter().enumerate().rev() {
        by_hash.entry(t.hash).or_default().push(i);
    }
    let mut consumed = vec![false; expected.len()];
    // (actual position, expected position) for intact events.
    let mut matched: Vec<(usize, usize)> = Vec::new();
    let mut unmatched: Vec<usize> = Vec::new();
    for (j, a) in actual.iter().enumerate() {
        match by_hash.get_mut(&a.hash).and_then(|v| v.pop()) {
            Some(i) => {
                consumed[i] = true;
                matched.push((j, i));
            }
            None => unmatched.push(j),
        }
    }
    let mut findings = Vec::new();
    // An unmatched stored event that sits at the sequence number of an unmatched expected
    // leaf replaced it: MODIFIED. Otherwise it was INSERTED.
    let mut expected_by_seq: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, t) in expected.iter().enumerate().rev() {
        if !consumed[i] {
            expected_by_seq.entry(t.container_seq).or_default().push(i);
        }
    }
    for j in unmatched {
        let a = &actual[j];
        match expected_by_seq
            .get_mut(&a.container_seq)
            .and_then(|v| v.pop())
        {
            Some(i) => {
                consumed[i] = true;
                findings.push(Finding {
                    batch_id,
                    kind: FindingKind::Modified,
                    container_seq: a.container_seq,
                    global_seq: Some(expected[i].global_seq),
                    expected_position: Some(i),
                    actual_position: Some(j),
                    expected_leaf: Some(expected[i].hash.to_hex()),
                    actual_leaf: Some(a.hash.to_hex()),
                });
            }
            None => findings.push(Finding {
                batch_id,
                kind: FindingKind::Inserted,
                container_seq: a.container_seq,
                global_seq: Some(a.global_seq),
                expected_position: None,
                actual_position: Some(j),
                expected_leaf: None,
                actual_leaf: Some(a.hash.to_hex()),
            }),
        }
    }
    for (i, t) in expected.iter().enumerate() {
        if !consumed[i] {
            findings.push(Finding {
                batch_id,
                kind: FindingKind::Deleted,
                container_seq: t.container_seq,
                global_seq: Some(t.global_seq),
                expected_position: Some(i),
                actual_position: None,
                expected_leaf: Some(t.hash.to_hex()),
                actual_leaf: None,
            });
        }
    }
    // Intact events out of their anchored order: each one whose rank among the intact
    // events differs from its rank in the anchored order moved.
    let mut ranks: Vec<usize> = matched.iter().map(|&(_, i)| i).collect();
    ranks.sort_unstable();
    for (r, &(j, i)) in matched.iter().enumerate() {
        if ranks[r] != i {
            findings.push(Finding {
                batch_id,
                kind: FindingKind::Reordered,
                container_seq: expected[i].container_seq,
                global_seq: Some(expected[i].global_seq),
                expected_position: Some(i),
                actual_position: Some(j),
                expected_leaf: Some(expected[i].hash.to_hex()),
                actual_leaf: Some(actual[j].hash.to_hex()),
            });
        }
    }
    findings.sort_by_key(|f| (f.container_seq, f.kind));
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(seq: u64, h: &str) -> LogTagRef {
        LogTagRef {
            global_seq: seq + 100,
            container_seq: seq,
            hash: Hash32::sha256(h.as_bytes()),
        }
    }

    fn leaf(seq: u64, h: &str) -> LeafRow {
        LeafRow {
            container_seq: seq,
            global_seq: seq + 100,
            timestamp_ns: 0,
            hash: Hash32::sha256(h.as_bytes()),
        }
    }

    fn kinds(f: &[Finding]) -> Vec<(FindingKind, u64)> {
        f.iter().map(|f| (f.kind, f.container_seq)).collect()
    }

    fn expected() -> Vec<LogTagRef> {
        vec![tag(1, "a"), tag(2, "b"), tag(3, "c"), tag(4, "d")]
    }

    #[test]
    fn intact_batch_has_no_findings() {
        let actual = vec![leaf(1, "a"), leaf(2, "b"), leaf(3, "c"), leaf(4, "d")];
        assert!(localize(1, &expected(), &actual).is_empty());
    }

    #[test]
    fn modified_event() {
        let actual = vec![leaf(1, "a"), leaf(2, "B"), leaf(3, "c"), leaf(4, "d")];
        assert_eq!(
            kinds(&localize(1, &expected(), &actual)),
            [(FindingKind::Modified, 2)]
        );
    }

    #[test]
    fn deleted_event() {
        let actual = vec![leaf(1, "a"), leaf(3, "c"), leaf(4, "d")];
        assert_eq!(
            kinds(&localize(1, &expected(), &actual)),
            [(FindingKind::Deleted, 2)]
        );
    }

    #[test]
    fn inserted_event() {
        let actual = vec![
            leaf(1, "a"),
            leaf(2, "b"),
            leaf(2, "x"),
            leaf(3, "c"),
            leaf(4, "d"),
        ];
        assert_eq!(
            kinds(&localize(1, &expected(), &actual)),
            [(FindingKind::Inserted, 2)]
        );
    }

    #[test]
    fn swapped_events_are_two_reorders() {
        let actual = vec![leaf(1, "a"), leaf(3, "c"), leaf(2, "b"), leaf(4, "d")];
        assert_eq!(
            kinds(&localize(1, &expected(), &actual)),
            [(FindingKind::Reordered, 2), (FindingKind::Reordered, 3)]
        );
    }
}
