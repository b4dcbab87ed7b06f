//! `bench --tui` through the real binary, short and slow: it runs the workstation's loop on
//! a test backend, ingests the events, draws frames and reports them as JSON.

mod common;

#[test]
fn bench_tui_reports_frames_events_and_memory() {
    let r = common::run(&[
        "bench",
        "--tui",
        "--tui-rate",
        "2000",
        "--tui-seconds",
        "2.5",
        "--containers",
        "3",
        "--batch-size",
        "100",
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON on stdout");
    let n = |k: &str| v[k].as_f64().unwrap_or_else(|| panic!("{k} in {v}"));
    assert!(n("frames") >= 10.0, "about 10 frames a second: {v}");
    assert!(n("events_sent") >= 2000.0, "{v}");
    assert!(n("events_ingested") >= 2000.0, "{v}");
    assert!(n("events_in_view") >= 2000.0, "{v}");
    assert!(
        n("frame_ms_p50") > 0.0 && n("frame_ms_p99") >= n("frame_ms_p50"),
        "{v}"
    );
    assert!(n("frame_ms_max") >= n("frame_ms_p99"), "{v}");
    assert!(n("peak_rss_bytes") > 0.0, "{v}");
    assert_eq!(v["width"], 160);
    assert_eq!(v["height"], 45);
    assert_eq!(v["verify_runs_finished"], 1, "the verify-all finished: {v}");
    let outcome = v["verify_outcome"].as_str().unwrap();
    assert!(outcome.starts_with("OK"), "{outcome}");
}
