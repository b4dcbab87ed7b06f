//! Kernel drops recorded after a container's last sealed batch (no open events to seal
//! them with) are durable in the store and reported by verify as PENDING_DROPS until the
//! container's next batch anchors them.

mod common;

use conanchor_store::{Event, Store, Writer, WriterConfig};

#[test]
fn drops_after_the_last_batch_are_reported_until_anchored() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    let r = common::run(&[
        "generate",
        "--data-dir",
        d,
        "--container-id",
        "c1",
        "--count",
        "20",
        "--batch-size",
        "10",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    // the live source's path: drops for a container whose batches are all sealed
    let store = Store::open_existing(&data).unwrap();
    let mut writer = Writer::open(
        store,
        WriterConfig {
            batch_size: 10,
            collector_id: "collector-1".into(),
        },
    )
    .unwrap();
    let template = Event {
        container_instance_id: "c1".into(),
        container_id: "c1".into(),
        cgroup_id: "40000".into(),
        ..Event::default()
    };
    writer.add_drops(&template, 7).unwrap();
    writer.commit(1).unwrap();
    drop(writer);

    let (code, report) = common::verify_json(&data, &[]);
    assert_eq!(code, 0, "warnings do not fail verify: {report}");
    assert_eq!(report["status"], "OK", "{report}");
    let pending = common::warnings_of(&report, "PENDING_DROPS");
    assert_eq!(pending.len(), 1, "{report}");
    assert_eq!(pending[0]["count"], 7, "{report}");
}
