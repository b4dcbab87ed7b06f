//! Snapshots of every workstation panel, rendered into ratatui's TestBackend from real
//! evidence: events generated through the real pipeline into a temporary store, anchored on
//! a real mock chain, a real attack, real verification and a real diff. Hashes, tx ids,
//! timestamps and the temporary path are scrubbed (same width, so the layout is kept).

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use conanchor::attack::AttackType;
use conanchor::collector::Collector;
use conanchor::pipeline::{PipelineConfig, TapMsg};
use conanchor::sources::synthetic::{self, SyntheticConfig, SyntheticContainer};
use conanchor::tui::app::{App, Mode, Tab};
use conanchor::tui::event::{Action, VerifyScope};
use conanchor::tui::{tasks, ui};
use conanchor_ledger::{Ledger, MockChain};
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::Terminal;
use tokio::sync::mpsc;

const W: u16 = 160;
const H: u16 = 45;

/// Replaces clock times, hex runs of 8+ characters with a letter (or 12+ digits) and the
/// temporary directory, keeping widths.
fn scrub(text: &str, dir: &Path) -> String {
    let dir = dir.display().to_string();
    let text = text.replace(&dir, &"D".repeat(dir.len()));
    let chars: Vec<char> = text.chars().collect();
    let mut out = chars.clone();
    // hh:mm:ss.mmm
    let pat = "dd:dd:dd.ddd";
    let mut i = 0;
    while i + pat.len() <= chars.len() {
        let ok = pat.chars().zip(&chars[i..]).all(|(p, c)| match p {
            'd' => c.is_ascii_digit(),
            p => p == *c,
        });
        if ok {
            for (k, c) in "HH:MM:SS.mmm".chars().enumerate() {
                out[i + k] = c;
            }
            i += pat.len();
        } else {
            i += 1;
        }
    }
    let is_hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
    let mut i = 0;
    while i < out.len() {
        if is_hex(out[i]) {
            let start = i;
            while i < out.len() && is_hex(out[i]) {
                i += 1;
            }
            let run = &out[start..i];
            let letters = run.iter().any(|c| c.is_ascii_alphabetic());
            if (run.len() >= 8 && letters) || run.len() >= 12 {
                for c in &mut out[start..i] {
                    *c = 'x';
                }
            }
        } else {
            i += 1;
        }
    }
    out.into_iter().collect()
}

fn screen(app: &mut App, dir: &Path) -> String {
    let mut t = Terminal::new(TestBackend::new(W, H)).unwrap();
    t.draw(|f| ui::draw(f, app)).unwrap();
    let buf = t.backend().buffer().clone();
    let mut lines = Vec::new();
    for y in 0..H {
        let mut line = String::new();
        for x in 0..W {
            line.push_str(buf[(x, y)].symbol());
        }
        lines.push(line.trim_end().to_string());
    }
    scrub(&lines.join("\n"), dir)
}

/// Events for `container` through the real pipeline (batch size 5, partial batches flushed
/// and anchored on finish); returns what the tap saw.
async fn collect(dir: &Path, container: &str, count: u64) -> Vec<TapMsg> {
    let (tap_tx, mut tap_rx) = mpsc::channel(100_000);
    let mut cfg = PipelineConfig::new(5, Duration::from_secs(3600), "collector-1");
    cfg.tap = Some(tap_tx);
    let ledger: Arc<dyn Ledger> = Arc::new(MockChain::open(&MockChain::path_in(dir)).unwrap());
    let collector = Collector::start(dir, ledger, cfg).await.unwrap();
    let source = synthetic::spawn(
        SyntheticConfig {
            containers: SyntheticContainer::named(container, 1),
            rate: 0,
            count_per_container: Some(count),
            seed: 7,
        },
        collector.sender().unwrap(),
        Arc::new(AtomicBool::new(false)),
    );
    tokio::task::spawn_blocking(move || source.join().unwrap())
        .await
        .unwrap();
    collector.finish().await.unwrap();
    let mut msgs = Vec::new();
    while let Ok(m) = tap_rx.try_recv() {
        msgs.push(m);
    }
    msgs
}

fn mock(dir: &Path) -> Arc<dyn Ledger> {
    Arc::new(MockChain::open(&MockChain::path_in(dir)).unwrap())
}

/// Runs the actions a key or result asked for, the way the workstation's worker does, and
/// applies their results.
async fn run_actions(app: &mut App, dir: &Path, mut actions: Vec<Action>) {
    while let Some(a) = actions.pop() {
        let ev = match a {
            Action::RefreshStore => tasks::read_store(dir, app.selected_container()),
            Action::RefreshLedger => {
                tasks::read_ledger(mock(dir), app.selected_container().map(str::to_string)).await
            }
            Action::Verify(scope) => tasks::verify(mock(dir), dir, scope, |_, _| {}).await,
            Action::Diff {
                container,
                batch_id,
            } => tasks::diff(mock(dir), dir, container, batch_id).await,
            Action::Attack {
                kind,
                container,
                batch_id,
            } => tasks::attack(dir, &MockChain::path_in(dir), kind, &container, batch_id),
            Action::Restore => tasks::restore(dir),
            Action::Quit => continue,
        };
        actions.extend(app.apply(ev));
    }
}

fn key(app: &mut App, code: KeyCode) -> Vec<Action> {
    app.handle_key(KeyEvent::from(code))
}

fn new_app() -> App {
    App::new(Mode::Synthetic, "./data", "mock")
}

#[test]
fn every_panel_renders_with_no_data() {
    let dir = tempfile::Builder::new().prefix("snap").tempdir().unwrap();
    let mut app = new_app();
    app.banner =
        Some("live probe unavailable: not running as root — showing synthetic events".into());
    for tab in Tab::ALL {
        app.tab = tab;
        insta::assert_snapshot!(
            format!("empty_{}", tab.title().to_lowercase()),
            screen(&mut app, dir.path())
        );
    }
    app.show_help = true;
    insta::assert_snapshot!("help", screen(&mut app, dir.path()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panels_over_real_evidence_through_an_attack_and_restore() {
    let tmp = tempfile::Builder::new().prefix("snap").tempdir().unwrap();
    let dir = tmp.path();
    // One container at a time, so batches land on the chain in a fixed order.
    let mut taps = collect(dir, "web-1", 12).await;
    taps.extend(collect(dir, "web-2", 12).await);

    let mut app = new_app();
    for m in taps {
        app.on_tap(m);
    }
    app.containers.roll_second();
    run_actions(
        &mut app,
        dir,
        vec![Action::RefreshStore, Action::RefreshLedger],
    )
    .await;
    assert_eq!(app.selected_container(), Some("web-1"));
    assert_eq!(
        app.batches.rows.len(),
        3,
        "12 events at batch size 5: 5, 5 and a flushed 2"
    );

    app.tab = Tab::Live;
    insta::assert_snapshot!("live", screen(&mut app, dir));
    key(&mut app, KeyCode::Right);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    insta::assert_snapshot!("live_event_selected", screen(&mut app, dir));

    app.tab = Tab::Batches;
    insta::assert_snapshot!("batches", screen(&mut app, dir));

    app.tab = Tab::Ledger;
    insta::assert_snapshot!("ledger", screen(&mut app, dir));

    app.tab = Tab::Verify;
    let a = key(&mut app, KeyCode::Char('a'));
    assert_eq!(a, vec![Action::Verify(VerifyScope::All)]);
    insta::assert_snapshot!("verify_running", screen(&mut app, dir));
    run_actions(&mut app, dir, a).await;
    assert!(!app.verify.report().unwrap().failed());
    insta::assert_snapshot!("verify_ok", screen(&mut app, dir));

    // The attack: select modify-log, Enter opens the confirm popup, y runs it.
    app.tab = Tab::Attack;
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    assert_eq!(app.attack.confirm, Some(AttackType::ModifyLog));
    insta::assert_snapshot!("attack_confirm", screen(&mut app, dir));
    let a = key(&mut app, KeyCode::Char('y'));
    run_actions(&mut app, dir, a).await;
    assert_eq!(
        app.tab,
        Tab::Verify,
        "verify re-runs by itself after an attack"
    );
    let report = app.verify.report().unwrap();
    assert!(report.failed());
    assert_eq!(
        report.failure_types(),
        vec![conanchor::verify::FailureType::MerkleRootMismatch]
    );
    app.toasts = Default::default();
    insta::assert_snapshot!("verify_failed", screen(&mut app, dir));

    let a = key(&mut app, KeyCode::Enter);
    run_actions(&mut app, dir, a).await;
    assert_eq!(app.tab, Tab::Diff);
    insta::assert_snapshot!("diff_modified", screen(&mut app, dir));

    app.tab = Tab::Attack;
    insta::assert_snapshot!("attack_after", screen(&mut app, dir));
    let a = key(&mut app, KeyCode::Char('r'));
    run_actions(&mut app, dir, a).await;
    assert!(
        !app.verify.report().unwrap().failed(),
        "restored evidence verifies OK"
    );
    app.toasts = Default::default();
    insta::assert_snapshot!("verify_restored", screen(&mut app, dir));

    // A failure the stored leaf list cannot localize: a forged batch.
    app.tab = Tab::Attack;
    for _ in 0..5 {
        key(&mut app, KeyCode::Down);
    }
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.attack.confirm, Some(AttackType::ForgeBatch));
    let a = key(&mut app, KeyCode::Char('y'));
    run_actions(&mut app, dir, a).await;
    let a = key(&mut app, KeyCode::Enter);
    run_actions(&mut app, dir, a).await;
    app.toasts = Default::default();
    insta::assert_snapshot!("diff_forged", screen(&mut app, dir));
}
