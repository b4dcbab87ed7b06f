//! Property tests: any single tampering with a batch's events changes its Merkle root, and a
//! forged root never verifies.

use conanchor_store::{inclusion_proof, merkle_root, verify_inclusion, Event, Hash32};
use proptest::prelude::*;

fn arb_event() -> impl Strategy<Value = Event> {
    (
        (any::<u64>(), any::<u64>(), any::<u64>(), "[a-z_]{1,9}"),
        (any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>()),
        ("[ -~]{0,16}", "[ -~]{0,40}", "[ -~]{0,20}"),
        (any::<u64>(), any::<i64>(), "[0-9]{1,12}"),
        (
            "[a-z0-9-]{1,20}",
            "[a-z0-9-]{1,20}",
            "high|medium|low",
            "[a-z-]{1,20}",
        ),
    )
        .prop_map(|(a, b, c, d, e)| Event {
            global_seq: a.0,
            container_seq: a.1,
            timestamp_ns: a.2,
            event_type: a.3,
            pid: b.0,
            tgid: b.1,
            uid: b.2,
            gid: b.3,
            comm: c.0,
            path: c.1,
            extra: c.2,
            flags: d.0,
            retval: d.1,
            cgroup_id: d.2,
            container_id: e.0,
            container_instance_id: e.1,
            risk: e.2,
            policy: e.3,
        })
}

fn root_of(events: &[Event]) -> Hash32 {
    merkle_root(&events.iter().map(Event::leaf_hash).collect::<Vec<_>>()).unwrap()
}

/// Changes field `which` (0..18) of `e` to a different value.
fn mutate(e: &mut Event, which: usize) {
    fn s(v: &mut String) {
        v.push('x');
    }
    match which {
        0 => e.global_seq = e.global_seq.wrapping_add(1),
        1 => e.container_seq = e.container_seq.wrapping_add(1),
        2 => e.timestamp_ns = e.timestamp_ns.wrapping_add(1),
        3 => s(&mut e.event_type),
        4 => e.pid = e.pid.wrapping_add(1),
        5 => e.tgid = e.tgid.wrapping_add(1),
        6 => e.uid = e.uid.wrapping_add(1),
        7 => e.gid = e.gid.wrapping_add(1),
        8 => s(&mut e.comm),
        9 => s(&mut e.path),
        10 => s(&mut e.extra),
        11 => e.flags = e.flags.wrapping_add(1),
        12 => e.retval = e.retval.wrapping_add(1),
        13 => s(&mut e.cgroup_id),
        14 => s(&mut e.container_id),
        15 => s(&mut e.container_instance_id),
        16 => s(&mut e.risk),
        _ => s(&mut e.policy),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_single_field_change_changes_the_root(
        events in prop::collection::vec(arb_event(), 1..20),
        idx in any::<prop::sample::Index>(),
        field in 0usize..18,
    ) {
        let before = root_of(&events);
        let mut tampered = events.clone();
        let i = idx.index(tampered.len());
        mutate(&mut tampered[i], field);
        prop_assert_ne!(root_of(&tampered), before);
    }

    #[test]
    fn deletion_changes_the_root(
        events in prop::collection::vec(arb_event(), 2..20),
        idx in any::<prop::sample::Index>(),
    ) {
        let before = root_of(&events);
        let mut tampered = events.clone();
        tampered.remove(idx.index(events.len()));
        prop_assert_ne!(root_of(&tampered), before);
    }

    #[test]
    fn insertion_changes_the_root(
        events in prop::collection::vec(arb_event(), 1..20),
        extra in arb_event(),
        idx in any::<prop::sample::Index>(),
    ) {
        let before = root_of(&events);
        let mut tampered = events.clone();
        tampered.insert(idx.index(events.len() + 1), extra);
        prop_assert_ne!(root_of(&tampered), before);
    }

    #[test]
    fn adjacent_swap_changes_the_root(
        events in prop::collection::vec(arb_event(), 2..20),
        idx in any::<prop::sample::Index>(),
    ) {
        let i = idx.index(events.len() - 1);
        prop_assume!(events[i] != events[i + 1]);
        let before = root_of(&events);
        let mut tampered = events.clone();
        tampered.swap(i, i + 1);
        prop_assert_ne!(root_of(&tampered), before);
    }

    #[test]
    fn forged_root_never_verifies(
        events in prop::collection::vec(arb_event(), 1..20),
        forged in any::<[u8; 32]>(),
        idx in any::<prop::sample::Index>(),
    ) {
        let leaves: Vec<Hash32> = events.iter().map(Event::leaf_hash).collect();
        let root = merkle_root(&leaves).unwrap();
        let forged = Hash32(forged);
        prop_assume!(forged != root);
        let i = idx.index(leaves.len());
        let proof = inclusion_proof(&leaves, i).unwrap();
        prop_assert!(verify_inclusion(&root, &leaves[i], i, leaves.len(), &proof));
        prop_assert!(!verify_inclusion(&forged, &leaves[i], i, leaves.len(), &proof));
    }
}
