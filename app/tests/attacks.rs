//! The attack lab against real evidence: every attack type, on the SQLite store and on an
//! exported directory, is caught by verify with the exact failure types and the localized
//! sequence numbers; `restore` brings verify back to OK; clean data never raises an alarm.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use conanchor::attack::{
    self, AttackOutcome, AttackSpec, AttackTarget, AttackType, JournalSource, RestoreScope,
};
use conanchor::cli::collect::{generate, GenerateArgs};
use conanchor::diff::{diff_batch, Baseline, CopySource, OriginalSource, SourceKind};
use conanchor::ledgers::LedgerArgs;
use conanchor::verify::{
    verify, ContainerReport, FailureType, FindingKind, LedgerView, Status, VerifyOptions,
    VerifyReport,
};
use conanchor_ledger::MockChain;
use conanchor_store::{merkle_root, open_evidence, Hash32, Store};

use FailureType::*;

/// Two containers (`demo-1`, `demo-2`) of 30 events each, in batches of 10: three batches.
const CID: &str = "demo-1";
const OTHER: &str = "demo-2";

async fn generate_into(dir: &Path, containers: usize, count: u64, batch_size: usize) {
    generate(GenerateArgs {
        data_dir: dir.to_path_buf(),
        container_id: "demo".into(),
        count,
        batch_size,
        containers,
        collector_id: "collector-1".into(),
        seed: 7,
        workflow_log: false,
        fresh: false,
        ledger: LedgerArgs::default(),
    })
    .await
    .expect("generate");
}

/// A fresh data dir, or an export of one, ready to attack.
async fn evidence(target: AttackTarget) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    generate_into(&data, 2, 30, 10).await;
    match target {
        AttackTarget::Sqlite => (tmp, data),
        AttackTarget::Export => {
            let out = tmp.path().join("evidence");
            export_to(&data, &out);
            (tmp, out)
        }
    }
}

fn export_to(data: &Path, out: &Path) {
    let mut store = Store::open_existing(data).unwrap();
    conanchor_store::export::export(&mut store, out).unwrap();
    let chain = out.join("ledger/mock_chain.jsonl");
    std::fs::create_dir_all(chain.parent().unwrap()).unwrap();
    std::fs::copy(MockChain::path_in(data), chain).unwrap();
}

async fn view_of(dir: &Path) -> LedgerView {
    let chain = MockChain::open(&MockChain::path_in(dir)).unwrap();
    LedgerView::fetch(&chain, None).await.unwrap()
}

async fn check(dir: &Path) -> VerifyReport {
    let view = view_of(dir).await;
    let mut reader = open_evidence(dir).unwrap();
    verify(
        reader.as_mut(),
        &view,
        &VerifyOptions::default(),
        &mut |_, _| {},
    )
    .unwrap()
}

fn container<'a>(r: &'a VerifyReport, cid: &str) -> &'a ContainerReport {
    r.containers
        .iter()
        .find(|c| c.container_instance_id == cid)
        .unwrap()
}

fn failure_types(c: &ContainerReport) -> BTreeSet<FailureType> {
    c.failures.iter().map(|f| f.kind).collect()
}

fn findings(c: &ContainerReport) -> Vec<(FindingKind, u64)> {
    c.findings
        .iter()
        .map(|f| (f.kind, f.container_seq))
        .collect()
}

fn spec(dir: &Path, target: AttackTarget, kind: AttackType) -> AttackSpec {
    let mut s = AttackSpec::new(dir, CID, kind);
    s.target = target;
    s
}

fn assert_ok(r: &VerifyReport, context: &str) {
    assert_eq!(
        r.status,
        Status::Ok,
        "{context}: {:#?}",
        r.containers
            .iter()
            .flat_map(|c| c.failures.iter())
            .collect::<Vec<_>>()
    );
}

/// Attacks, verifies, checks the expectation, restores the attack and verifies OK again.
async fn attack_verify_restore(
    target: AttackTarget,
    kind: AttackType,
    batch: Option<u64>,
    seq: Option<u64>,
    expect: impl FnOnce(&Path, &AttackOutcome, &ContainerReport),
) {
    let (_tmp, dir) = evidence(target).await;
    assert_ok(&check(&dir).await, "clean evidence");
    let mut s = spec(&dir, target, kind);
    s.batch = batch;
    s.seq = seq;
    let outcome = attack::run_attack(&s).unwrap();
    assert_eq!(outcome.kind, kind);
    assert!(!outcome.description.is_empty());
    let report = check(&dir).await;
    assert_eq!(
        report.status,
        Status::Failed,
        "{kind} on {target:?} not caught"
    );
    let c = container(&report, CID);
    expect(&dir, &outcome, c);
    if kind != AttackType::TamperLedger {
        // The ledger is shared, the store is per container: the other one is untouched.
        assert_eq!(container(&report, OTHER).status, Status::Ok);
    }
    let undone = attack::restore(&dir, target, RestoreScope::Last).unwrap();
    assert_eq!(undone.len(), 1, "{undone:?}");
    assert_ok(
        &check(&dir).await,
        &format!("after restoring {kind} on {target:?}"),
    );
    assert!(attack::restore(&dir, target, RestoreScope::Last)
        .unwrap()
        .is_empty());
}

fn set(types: &[FailureType]) -> BTreeSet<FailureType> {
    types.iter().copied().collect()
}

// ---- one test per attack type, on both targets ------------------------------------------

async fn modify(target: AttackTarget) {
    attack_verify_restore(
        target,
        AttackType::ModifyLog,
        Some(2),
        Some(15),
        |_, o, c| {
            assert_eq!((o.batch_id, o.container_seqs.as_slice()), (2, &[15][..]));
            assert_eq!(failure_types(c), set(&[MerkleRootMismatch]));
            assert!(c.failures.iter().all(|f| f.batch_id == 2));
            assert_eq!(findings(c), [(FindingKind::Modified, 15)]);
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn modify_log_is_one_modified_event_sqlite() {
    modify(AttackTarget::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn modify_log_is_one_modified_event_export() {
    modify(AttackTarget::Export).await;
}

async fn delete(target: AttackTarget) {
    attack_verify_restore(target, AttackType::DeleteLog, None, Some(4), |_, o, c| {
        assert_eq!(o.batch_id, 1);
        assert_eq!(
            failure_types(c),
            set(&[EventCountMismatch, SequenceGap, MerkleRootMismatch])
        );
        assert_eq!(findings(c), [(FindingKind::Deleted, 4)]);
        let gap = c.failures.iter().find(|f| f.kind == SequenceGap).unwrap();
        assert!(gap.message.contains("container_seq 4"), "{}", gap.message);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_log_is_a_gap_and_one_deleted_event_sqlite() {
    delete(AttackTarget::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_log_is_a_gap_and_one_deleted_event_export() {
    delete(AttackTarget::Export).await;
}

async fn insert(target: AttackTarget) {
    attack_verify_restore(target, AttackType::InsertLog, Some(3), None, |_, o, c| {
        assert_eq!((o.batch_id, o.container_seqs.as_slice()), (3, &[21][..]));
        assert_eq!(
            failure_types(c),
            set(&[EventCountMismatch, MerkleRootMismatch])
        );
        assert_eq!(findings(c), [(FindingKind::Inserted, 21)]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn insert_log_is_one_inserted_event_sqlite() {
    insert(AttackTarget::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn insert_log_is_one_inserted_event_export() {
    insert(AttackTarget::Export).await;
}

async fn reorder(target: AttackTarget) {
    attack_verify_restore(
        target,
        AttackType::ReorderLog,
        Some(1),
        Some(5),
        |_, o, c| {
            assert_eq!(o.container_seqs, [5, 6]);
            assert_eq!(failure_types(c), set(&[MerkleRootMismatch]));
            assert_eq!(
                findings(c),
                [(FindingKind::Reordered, 5), (FindingKind::Reordered, 6)]
            );
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reorder_log_is_two_reordered_events_sqlite() {
    reorder(AttackTarget::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reorder_log_is_two_reordered_events_export() {
    reorder(AttackTarget::Export).await;
}

async fn rollback(target: AttackTarget) {
    attack_verify_restore(
        target,
        AttackType::RollbackContainer,
        None,
        None,
        |dir, o, c| {
            assert_eq!(o.batch_id, 3, "default: the last sealed batch");
            assert_eq!(o.container_seqs, (21..=30).collect::<Vec<_>>());
            // Checked up to the ledger's head (--to-batch 0), so the vanished tail is caught.
            assert_eq!(c.to_batch, 3);
            assert!(
                c.failures.iter().all(|f| f.batch_id == 3),
                "{:?}",
                c.failures
            );
            // The whole batch is gone: BATCH_MISSING alone says it (no echo of count,
            // gap and root failures for events that are not there).
            assert_eq!(failure_types(c), set(&[BatchMissing]));
            let mut reader = open_evidence(dir).unwrap();
            assert_eq!(reader.batch_ids(CID).unwrap(), [1, 2]);
            assert!(reader.events_in_range(CID, 21, 1000).unwrap().is_empty());
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rollback_container_is_batch_missing_sqlite() {
    rollback(AttackTarget::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rollback_container_is_batch_missing_export() {
    rollback(AttackTarget::Export).await;
}

/// The forged store passes every check that does not involve the ledger.
fn assert_internally_consistent(dir: &Path, cid: &str) {
    let mut reader = open_evidence(dir).unwrap();
    let mut prev = Hash32::ZERO;
    for id in reader.batch_ids(cid).unwrap() {
        let b = reader.batch(cid, id).unwrap().unwrap().unwrap();
        let h = &b.header;
        assert_eq!(h.compute_hash(), h.container_batch_hash, "batch {id} hash");
        let tags: Vec<Hash32> = b.log_tags.iter().map(|t| t.hash).collect();
        assert_eq!(merkle_root(&tags), Some(h.merkle_root), "batch {id} root");
        assert_eq!(h.previous_container_batch_hash, prev, "batch {id} chain");
        let mut leaves = reader
            .leaves_in_range(cid, h.first_container_seq, h.last_container_seq)
            .unwrap();
        leaves.sort_by_key(|l| l.container_seq);
        let stored: Vec<Hash32> = leaves.iter().map(|l| l.hash).collect();
        assert_eq!(stored, tags, "batch {id}: events reproduce the leaf list");
        prev = h.container_batch_hash;
    }
}

async fn forge(target: AttackTarget) {
    attack_verify_restore(
        target,
        AttackType::ForgeBatch,
        Some(1),
        Some(3),
        |dir, o, c| {
            assert_eq!((o.batch_id, o.container_seqs.as_slice()), (1, &[3][..]));
            assert_internally_consistent(dir, CID);
            assert_eq!(
                failure_types(c),
                set(&[
                    BatchHashMismatch,
                    MerkleRootMismatch,
                    AnchorMetadataMismatch
                ])
            );
            // The forged batch and every re-chained one after it disagree with their anchors.
            let failed: BTreeSet<u64> = c.failures.iter().map(|f| f.batch_id).collect();
            assert_eq!(failed, [1, 2, 3].into());
            let root = c
                .failures
                .iter()
                .find(|f| f.kind == MerkleRootMismatch)
                .unwrap();
            assert_eq!(root.batch_id, 1);
            // The stored leaf list was rewritten, so verify cannot localize from it...
            assert!(c.findings.is_empty());
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn forge_batch_is_caught_only_by_the_ledger_sqlite() {
    forge(AttackTarget::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn forge_batch_is_caught_only_by_the_ledger_export() {
    forge(AttackTarget::Export).await;
}

async fn tamper_ledger(target: AttackTarget) {
    attack_verify_restore(
        target,
        AttackType::TamperLedger,
        Some(2),
        None,
        |_, o, c| {
            assert_eq!(o.batch_id, 2);
            assert!(failure_types(c).contains(&LedgerChainInvalid));
            assert_eq!(
                failure_types(c),
                set(&[
                    LedgerChainInvalid,
                    AnchorMetadataMismatch,
                    MerkleRootMismatch
                ])
            );
            let chain = c
                .failures
                .iter()
                .find(|f| f.kind == LedgerChainInvalid)
                .unwrap();
            assert!(chain.message.contains("block_hash"), "{}", chain.message);
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tamper_ledger_is_ledger_chain_invalid_sqlite() {
    tamper_ledger(AttackTarget::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tamper_ledger_is_ledger_chain_invalid_export() {
    tamper_ledger(AttackTarget::Export).await;
}

// ---- restore, journal, diff ---------------------------------------------------------------

/// Every file of an export, for byte-exact comparison (the journal excluded).
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.ends_with(".conanchor") {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

fn sqlite_dump(dir: &Path) -> Vec<String> {
    let mut store = Store::open_existing(dir).unwrap();
    let conn = store.connection();
    let mut out = Vec::new();
    for sql in [
        "SELECT * FROM events ORDER BY id",
        "SELECT * FROM batches ORDER BY container, container_batch_id",
        "SELECT * FROM anchor_outbox ORDER BY container, container_batch_id",
        "SELECT * FROM containers ORDER BY id",
    ] {
        let mut stmt = conn.prepare(sql).unwrap();
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                Ok((0..n)
                    .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                    .collect::<Vec<_>>()
                    .join("|"))
            })
            .unwrap();
        out.extend(rows.map(Result::unwrap));
    }
    out
}

async fn stacked_attacks_restore_exactly(target: AttackTarget) {
    let (_tmp, dir) = evidence(target).await;
    let before_tree = tree(&dir);
    let before_db = (target == AttackTarget::Sqlite).then(|| sqlite_dump(&dir));
    let chain_before = std::fs::read(MockChain::path_in(&dir)).unwrap();
    // Every attack on batch 2, one event each, then a rollback over all of it.
    let plan = [
        (AttackType::ModifyLog, Some(11)),
        (AttackType::DeleteLog, Some(12)),
        (AttackType::InsertLog, Some(13)),
        (AttackType::ReorderLog, Some(14)),
        (AttackType::ForgeBatch, Some(16)),
        (AttackType::TamperLedger, None),
        (AttackType::RollbackContainer, None),
    ];
    for (kind, seq) in plan {
        let mut s = spec(&dir, target, kind);
        s.batch = Some(2);
        s.seq = seq;
        attack::run_attack(&s).unwrap_or_else(|e| panic!("{kind}: {e:#}"));
    }
    let entries = attack::journal_entries(&dir, target).unwrap();
    assert_eq!(entries.len(), 7);
    assert!(entries.iter().all(|e| !e.restored));
    assert_eq!(check(&dir).await.status, Status::Failed);

    let undone = attack::restore(&dir, target, RestoreScope::All).unwrap();
    assert_eq!(undone.len(), 7);
    assert!(
        undone[0].contains("rollback-container"),
        "newest first: {undone:?}"
    );
    assert_ok(&check(&dir).await, "after restore all");
    assert_eq!(
        std::fs::read(MockChain::path_in(&dir)).unwrap(),
        chain_before
    );
    if let Some(db) = before_db {
        assert_eq!(
            sqlite_dump(&dir),
            db,
            "the store is byte-for-byte as before"
        );
    } else {
        assert_eq!(
            tree(&dir),
            before_tree,
            "the export is byte-for-byte as before"
        );
    }
    assert!(attack::journal_entries(&dir, target)
        .unwrap()
        .iter()
        .all(|e| e.restored));
}

#[tokio::test(flavor = "multi_thread")]
async fn all_attacks_stacked_then_restore_all_sqlite() {
    stacked_attacks_restore_exactly(AttackTarget::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn all_attacks_stacked_then_restore_all_export() {
    stacked_attacks_restore_exactly(AttackTarget::Export).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_targets_are_refused_with_a_reason() {
    let (_tmp, dir) = evidence(AttackTarget::Sqlite).await;
    let mut s = spec(&dir, AttackTarget::Sqlite, AttackType::ModifyLog);
    s.batch = Some(9);
    let e = attack::run_attack(&s).unwrap_err();
    assert!(format!("{e:#}").contains("no sealed batch 9"), "{e:#}");
    s.batch = Some(1);
    s.seq = Some(25);
    let e = attack::run_attack(&s).unwrap_err();
    assert!(format!("{e:#}").contains("outside batch 1"), "{e:#}");
    let mut s = spec(&dir, AttackTarget::Export, AttackType::ModifyLog);
    s.container_instance_id = CID.into();
    assert!(
        attack::run_attack(&s).is_err(),
        "a data dir is not an export"
    );
    let s = AttackSpec::new(&dir, "nope", AttackType::DeleteLog);
    let e = attack::run_attack(&s).unwrap_err();
    assert!(format!("{e:#}").contains("no sealed batch"), "{e:#}");
    assert!(attack::journal_entries(&dir, AttackTarget::Sqlite)
        .unwrap()
        .is_empty());
    assert_ok(&check(&dir).await, "refused attacks change nothing");
}

async fn diff_of(
    dir: &Path,
    batch: u64,
    originals: Option<&mut dyn OriginalSource>,
) -> conanchor::diff::BatchDiff {
    let view = view_of(dir).await;
    let mut reader = open_evidence(dir).unwrap();
    diff_batch(reader.as_mut(), &view, CID, batch, originals).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn diff_shows_the_journaled_original_of_a_modified_event() {
    let (_tmp, dir) = evidence(AttackTarget::Sqlite).await;
    let clean = diff_of(&dir, 2, None).await;
    assert!(clean.is_intact());
    assert_eq!(clean.rows.len(), 10);

    let mut s = spec(&dir, AttackTarget::Sqlite, AttackType::ModifyLog);
    s.batch = Some(2);
    s.seq = Some(12);
    attack::run_attack(&s).unwrap();
    let mut journal = JournalSource::open(&dir, AttackTarget::Sqlite).unwrap();
    let d = diff_of(&dir, 2, Some(&mut journal)).await;
    assert!(!d.is_intact());
    assert_eq!(d.baseline, Baseline::StoredLeafList);
    let changed: Vec<_> = d.changed_rows().collect();
    assert_eq!(changed.len(), 1);
    let r = changed[0];
    assert_eq!((r.kind, r.container_seq), (Some(FindingKind::Modified), 12));
    assert_eq!(r.field_changes.len(), 1);
    assert_eq!(r.field_changes[0].name, "path");
    assert!(r.field_changes[0].stored.ends_with("[tampered]"));
    let original = r.original_event.as_ref().unwrap();
    assert_eq!(original.path, r.field_changes[0].anchored);
    assert_eq!(
        original.leaf_hash().to_hex(),
        *r.anchored_leaf.as_ref().unwrap()
    );
    let src = d.authentic_source.as_ref().unwrap();
    assert_eq!(
        (src.label.as_str(), src.kind),
        ("attack journal", SourceKind::Journal)
    );
    assert_eq!(src.originals_used, 1);
    let text = conanchor::cli::diff::render(&d);
    assert!(
        text.contains("MODIFIED") && text.contains("attack journal"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn diff_of_a_forged_batch_names_the_authentic_copy() {
    let (tmp, dir) = evidence(AttackTarget::Sqlite).await;
    let earlier = tmp.path().join("earlier-export");
    export_to(&dir, &earlier);
    let mut s = spec(&dir, AttackTarget::Sqlite, AttackType::ForgeBatch);
    s.batch = Some(1);
    s.seq = Some(7);
    attack::run_attack(&s).unwrap();

    // Against an earlier export whose leaf list reproduces the anchored root.
    let mut copy = CopySource::open(&earlier).unwrap();
    let d = diff_of(&dir, 1, Some(&mut copy)).await;
    assert_eq!(d.baseline, Baseline::AuthenticCopy);
    let names: Vec<&str> = d.header_fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["merkle_root", "container_batch_hash"]);
    assert!(d.stored.as_ref().unwrap().self_consistent);
    let changed: Vec<_> = d
        .changed_rows()
        .map(|r| (r.kind, r.container_seq))
        .collect();
    assert_eq!(changed, [(Some(FindingKind::Modified), 7)]);
    let src = d.authentic_source.as_ref().unwrap();
    assert_eq!(src.matches_anchor, Some(true));
    assert!(src.label.starts_with("export at "), "{}", src.label);
    assert!(src.verdict.contains("authentic"), "{}", src.verdict);

    // The journal knows the forged batch's original leaf list too.
    let mut journal = JournalSource::open(&dir, AttackTarget::Sqlite).unwrap();
    let d = diff_of(&dir, 1, Some(&mut journal)).await;
    assert_eq!(d.baseline, Baseline::AuthenticCopy);
    let r = d.changed_rows().next().unwrap();
    assert_eq!(r.field_changes[0].name, "path");

    // A later batch was only re-chained: metadata differs, events are intact.
    let d = diff_of(&dir, 2, None).await;
    let names: Vec<&str> = d.header_fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        ["previous_container_batch_hash", "container_batch_hash"]
    );
    assert_eq!(d.changed_rows().count(), 0);

    // Without any authentic copy, the rows cannot be classified, and the diff says so.
    let d = diff_of(&dir, 1, None).await;
    assert_eq!(d.baseline, Baseline::None);
    assert!(!d.localized);
    assert!(d.notes.iter().any(|n| n.contains("--authentic")));
}

#[tokio::test(flavor = "multi_thread")]
async fn diff_recovers_deleted_and_rolled_back_events_from_the_journal() {
    let (_tmp, dir) = evidence(AttackTarget::Export).await;
    let mut s = spec(&dir, AttackTarget::Export, AttackType::DeleteLog);
    s.seq = Some(2);
    attack::run_attack(&s).unwrap();
    let mut journal = JournalSource::open(&dir, AttackTarget::Export).unwrap();
    let d = diff_of(&dir, 1, Some(&mut journal)).await;
    let r = d.changed_rows().next().unwrap();
    assert_eq!((r.kind, r.container_seq), (Some(FindingKind::Deleted), 2));
    assert!(r.stored_event.is_none());
    assert_eq!(r.original_event.as_ref().unwrap().container_seq, 2);

    attack::run_attack(&spec(
        &dir,
        AttackTarget::Export,
        AttackType::RollbackContainer,
    ))
    .unwrap();
    let mut journal = JournalSource::open(&dir, AttackTarget::Export).unwrap();
    let d = diff_of(&dir, 3, Some(&mut journal)).await;
    assert!(d.stored.is_none());
    assert_eq!(d.baseline, Baseline::AuthenticCopy);
    assert_eq!(d.rows.len(), 10);
    assert!(d
        .rows
        .iter()
        .all(|r| r.kind == Some(FindingKind::Deleted) && r.original_event.is_some()));
}

#[tokio::test(flavor = "multi_thread")]
async fn diff_of_a_tampered_anchor_shows_the_field_and_the_journaled_original() {
    let (_tmp, dir) = evidence(AttackTarget::Sqlite).await;
    attack::run_attack(&spec(&dir, AttackTarget::Sqlite, AttackType::TamperLedger)).unwrap();
    let mut journal = JournalSource::open(&dir, AttackTarget::Sqlite).unwrap();
    let d = diff_of(&dir, 1, Some(&mut journal)).await;
    assert!(!d.anchor.as_ref().unwrap().self_consistent);
    assert!(d.stored.as_ref().unwrap().self_consistent);
    let names: Vec<&str> = d.header_fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["merkle_root"]);
    let original = d.original_anchor.as_ref().unwrap();
    assert_eq!(
        original.merkle_root,
        d.stored.as_ref().unwrap().header.merkle_root
    );
    assert!(d.notes.iter().any(|n| n.contains("ledger entry itself")));
}

// ---- no false alarms -----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn clean_data_never_fails_50_containers_by_200_batches() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    generate_into(&data, 50, 400, 2).await;
    let report = check(&data).await;
    assert_ok(&report, "clean generated data");
    assert_eq!(report.containers.len(), 50);
    assert_eq!(report.verified_batches, 50 * 200);
    assert_eq!(report.verified_events, 50 * 400);
    assert!(report
        .containers
        .iter()
        .all(|c| c.findings.is_empty() && c.warnings.is_empty()));

    let out = tmp.path().join("evidence");
    export_to(&data, &out);
    let report = check(&out).await;
    assert_ok(&report, "clean export");
    assert_eq!(report.verified_events, 50 * 400);
}

// ---- the command line --------------------------------------------------------------------

fn tui(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_conanchor-tui"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn cli_attack_verify_diff_restore() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("data");
    let d = d.to_str().unwrap();
    let cid = "demo-container";
    let (code, _, err) = tui(&[
        "generate",
        "--data-dir",
        d,
        "--container-id",
        cid,
        "--count",
        "30",
        "--batch-size",
        "10",
    ]);
    assert_eq!(code, 0, "{err}");
    let verify = |json: bool| {
        let mut a = vec![
            "verify",
            "--data-dir",
            d,
            "--container-instance-id",
            cid,
            "--no-progress",
        ];
        if json {
            a.push("--json");
        }
        tui(&a)
    };
    assert_eq!(verify(false).0, 0);

    let (code, out, err) = tui(&[
        "attack",
        "--data-dir",
        d,
        "--container-id",
        cid,
        "--type",
        "modify-log",
        "--batch",
        "2",
        "--seq",
        "13",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("[tampered]") && out.contains("journaled as #1"),
        "{out}"
    );

    let (code, out, _) = verify(true);
    assert_eq!(code, 1, "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["status"], "FAILED");
    assert_eq!(json["failures"][0]["type"], "MERKLE_ROOT_MISMATCH");
    assert_eq!(json["findings"][0]["kind"], "MODIFIED");
    assert_eq!(json["findings"][0]["container_seq"], 13);

    let (code, out, err) = tui(&["diff", "--data-dir", d, "--container-instance-id", cid]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.starts_with("batch 2 of demo-container: DIFFERS"),
        "{out}"
    );
    assert!(
        out.contains("MODIFIED") && out.contains("(original from the attack journal)"),
        "{out}"
    );
    let (code, out, _) = tui(&[
        "diff",
        "--data-dir",
        d,
        "--container-id",
        cid,
        "--batch",
        "2",
        "--json",
    ]);
    assert_eq!(code, 1);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["authentic_source"]["label"], "attack journal");

    let (code, out, _) = tui(&["attack", "--data-dir", d, "--journal"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("modify-log") && out.contains("active"),
        "{out}"
    );
    let (code, out, err) = tui(&["attack", "--data-dir", d, "--restore"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("restored #1 modify-log"), "{out}");
    assert_eq!(verify(false).0, 0);
    let (code, _, _) = tui(&[
        "diff",
        "--data-dir",
        d,
        "--container-id",
        cid,
        "--batch",
        "2",
    ]);
    assert_eq!(code, 0);

    let (code, _, err) = tui(&["attack", "--data-dir", d, "--type", "bogus"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = tui(&[
        "attack",
        "--data-dir",
        d,
        "--container-id",
        cid,
        "--type",
        "delete-log",
        "--batch",
        "7",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.starts_with("error: ") && err.contains("no sealed batch 7"),
        "{err}"
    );
    let (code, out, _) = tui(&["attack", "--help"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("Examples") && out.contains("--container-instance-id"),
        "{out}"
    );
}
