//! `conanchor-tui bench --tui`: the workstation under load. Synthetic events at a fixed rate
//! go through the embedded collector (store, seal, anchor on the mock chain) into the
//! workstation's real model and event loop, drawn on ratatui's `TestBackend` at 160×45 at
//! the normal cadence; every frame's time (from the loop waking up to the drawn frame:
//! draining the tap, applying results, drawing) is recorded. Along the way the bench does
//! what a presenter does: it switches panels every second and verifies everything once.

use std::time::{Duration, Instant};

use anyhow::Result;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::bench::BenchArgs;
use crate::collector::Collector;
use crate::pipeline::PipelineConfig;
use crate::tui::app::{App, Tab};
use crate::tui::args::{start_source, PreparedSource, TuiArgs};
use crate::tui::event::{Action, Event, VerifyScope};
use crate::tui::{event_loop, FrameInfo, LoopHooks, Worker, TAP_CAPACITY};
use crate::util::peak_rss_bytes;

pub const WIDTH: u16 = 160;
pub const HEIGHT: u16 = 45;
/// The targets of issue #6.
pub const P99_TARGET_MS: f64 = 16.0;
pub const RSS_TARGET_BYTES: u64 = 200_000_000;

#[derive(Debug, Clone, Serialize)]
pub struct TuiBenchReport {
    pub target_events_per_sec: u64,
    pub seconds: f64,
    pub containers: usize,
    pub batch_size: usize,
    pub width: u16,
    pub height: u16,
    /// Events the source produced during the run.
    pub events_sent: u64,
    /// Events stored by the pipeline when the run ended (all are stored after the drain).
    pub events_ingested: u64,
    pub ingested_events_per_sec: f64,
    /// Events that reached the view through the tap.
    pub events_in_view: u64,
    pub batches_sealed: u64,
    pub frames: usize,
    pub frame_ms_p50: f64,
    pub frame_ms_p99: f64,
    pub frame_ms_max: f64,
    /// Drawing alone (part of the frame time).
    pub draw_ms_p99: f64,
    /// The longest tap drain between frames (every 10 ms; input waits at most this long
    /// plus a frame).
    pub tap_drain_ms_max: f64,
    pub peak_rss_bytes: Option<u64>,
    pub verify_runs_finished: u64,
    /// The verification's result (it runs while events keep coming).
    pub verify_outcome: String,
    pub p99_target_ms: f64,
    pub rss_target_bytes: u64,
    pub met_targets: bool,
}

/// The `q`-quantile of sorted values (nearest rank).
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// What the bench does between frames: a panel per second, one verification of all at
/// a third of the run; counts finished verifications.
struct Script {
    started: Instant,
    seconds: f64,
    frames: Vec<Duration>,
    draws: Vec<Duration>,
    drain_max: Duration,
    verify_started: bool,
    verify_runs: u64,
    was_running: bool,
}

impl Script {
    fn on_frame(&mut self, app: &mut App, f: FrameInfo) -> Vec<Action> {
        self.frames.push(f.total);
        self.draws.push(f.draw);
        self.drain_max = self.drain_max.max(f.drain_max);
        if std::env::var_os("CONANCHOR_FRAME_TRACE").is_some() {
            eprintln!(
                "frame {:>7.2} ms  draw {:>6.2} ms  drain max {:>6.2} ms  tap {:>6}  {:?}",
                ms(f.total),
                ms(f.draw),
                ms(f.drain_max),
                f.tap_msgs,
                app.tab
            );
        }
        let t = self.started.elapsed().as_secs_f64();
        let running = app.verify.is_running();
        if self.was_running && !running {
            self.verify_runs += 1;
        }
        self.was_running = running;
        let panel = Tab::ALL[(t as usize) % Tab::ALL.len()];
        app.tab = panel;
        if !self.verify_started && t >= self.seconds / 3.0 {
            self.verify_started = true;
            return vec![app.start_verify(VerifyScope::All, false)];
        }
        Vec::new()
    }
}

pub async fn run(args: &BenchArgs) -> Result<()> {
    anyhow::ensure!(
        args.tui_rate > 0 && args.tui_seconds > 0.0 && args.containers > 0,
        "--tui-rate, --tui-seconds and --containers must be positive"
    );
    let (dir, _tmp) = crate::bench::empty_bench_dir(args.data_dir.as_deref())?;
    let tui = TuiArgs {
        data_dir: dir.clone(),
        source: vec!["synthetic".into()],
        rate: args.tui_rate,
        containers: args.containers,
        batch_size: args.batch_size,
        batch_interval: Duration::from_secs(2),
        collector_id: "bench".into(),
        seed: 7,
        log_file: None,
        ledger: crate::ledgers::LedgerArgs::default(),
        live: Default::default(),
    };
    if !args.json {
        eprintln!(
            "bench --tui: {} events/s for {} s over {} containers (batch size {}) into the workstation at {WIDTH}x{HEIGHT}",
            args.tui_rate, args.tui_seconds, args.containers, args.batch_size
        );
    }
    let ledger = tui.ledger.open(&dir).await?;
    let (tap_tx, mut tap_rx) = mpsc::channel(TAP_CAPACITY);
    let mut cfg = PipelineConfig::new(tui.batch_size, tui.batch_interval, &tui.collector_id);
    cfg.tap = Some(tap_tx);
    let collector = Collector::start(&dir, ledger.clone(), cfg).await?;
    let prepared = PreparedSource::Synthetic { banner: None };
    let source = start_source(&tui, prepared, collector.sender()?)?;
    let mut app = App::new(source.mode.clone(), &dir.display().to_string(), "mock");
    let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
    let worker = Worker::new(tx, &tui, ledger);
    let mut terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT))
        .map_err(|e| anyhow::anyhow!("test backend: {e}"))?;

    let started = Instant::now();
    let mut script = Script {
        started,
        seconds: args.tui_seconds,
        frames: Vec::with_capacity(1024),
        draws: Vec::with_capacity(1024),
        drain_max: Duration::ZERO,
        verify_started: false,
        verify_runs: 0,
        was_running: false,
    };
    let mut observer = |app: &mut App, f: FrameInfo| script.on_frame(app, f);
    let hooks = LoopHooks {
        until: Some(started + Duration::from_secs_f64(args.tui_seconds)),
        on_frame: Some(&mut observer),
    };
    event_loop(
        &mut terminal,
        &mut app,
        &worker,
        &collector,
        &mut tap_rx,
        &mut rx,
        hooks,
    )
    .await?;
    let elapsed = started.elapsed().as_secs_f64();
    let ingested = collector.pipeline_stats().events;
    let sent = source.stop().await?;
    drop(tap_rx);
    let summary = collector.finish().await?;
    let rss = peak_rss_bytes();

    let mut frames = std::mem::take(&mut script.frames);
    frames.sort_unstable();
    let p99 = ms(quantile(&frames, 0.99));
    let mut draws = std::mem::take(&mut script.draws);
    draws.sort_unstable();
    let report = TuiBenchReport {
        target_events_per_sec: args.tui_rate,
        seconds: elapsed,
        containers: args.containers,
        batch_size: args.batch_size,
        width: WIDTH,
        height: HEIGHT,
        events_sent: sent,
        events_ingested: ingested,
        ingested_events_per_sec: ingested as f64 / elapsed,
        events_in_view: app.totals.view_events,
        batches_sealed: summary.batches_sealed,
        frames: frames.len(),
        frame_ms_p50: ms(quantile(&frames, 0.5)),
        frame_ms_p99: p99,
        frame_ms_max: ms(frames.last().copied().unwrap_or_default()),
        draw_ms_p99: ms(quantile(&draws, 0.99)),
        tap_drain_ms_max: ms(script.drain_max),
        peak_rss_bytes: rss,
        verify_runs_finished: script.verify_runs,
        verify_outcome: verify_outcome(&app),
        p99_target_ms: P99_TARGET_MS,
        rss_target_bytes: RSS_TARGET_BYTES,
        met_targets: p99 <= P99_TARGET_MS && rss.is_some_and(|r| r < RSS_TARGET_BYTES),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(())
}

fn verify_outcome(app: &App) -> String {
    use crate::tui::panels::verify::Run;
    match &app.verify.run {
        Run::Idle => "not run".into(),
        Run::Running { done, total, .. } => format!("still running ({done}/{total})"),
        Run::Done { report, .. } if report.failed() => {
            format!("FAILED {:?}", report.failure_types())
        }
        Run::Done { report, .. } => format!("OK ({} events)", report.verified_events),
        Run::Error(e) => format!("error: {e}"),
    }
}

fn print_report(r: &TuiBenchReport) {
    let mb = |b: Option<u64>| b.map_or("n/a".into(), |b| format!("{:.1} MB", b as f64 / 1e6));
    println!(
        "target                 {} events/s for {:.1} s, {} containers, batch size {}",
        r.target_events_per_sec, r.seconds, r.containers, r.batch_size
    );
    println!(
        "events                 {} sent, {} ingested ({:.0} events/s), {} reached the view",
        r.events_sent, r.events_ingested, r.ingested_events_per_sec, r.events_in_view
    );
    println!("batches sealed         {}", r.batches_sealed);
    println!(
        "frames ({}x{})        {} (p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; target p99 <= {} ms)",
        r.width,
        r.height,
        r.frames,
        r.frame_ms_p50,
        r.frame_ms_p99,
        r.frame_ms_max,
        r.p99_target_ms
    );
    println!(
        "drawing alone          p99 {:.2} ms; tap drains between frames max {:.2} ms",
        r.draw_ms_p99, r.tap_drain_ms_max
    );
    println!(
        "peak RSS               {} (target < {:.0} MB)",
        mb(r.peak_rss_bytes),
        r.rss_target_bytes as f64 / 1e6
    );
    println!(
        "verify during the run  {} finished: {}",
        r.verify_runs_finished, r.verify_outcome
    );
    println!(
        "targets                {}",
        if r.met_targets { "met" } else { "MISSED" }
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_by_nearest_rank() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(quantile(&v, 0.5), Duration::from_millis(50));
        assert_eq!(quantile(&v, 0.99), Duration::from_millis(99));
        assert_eq!(quantile(&v, 1.0), Duration::from_millis(100));
        assert_eq!(quantile(&[], 0.99), Duration::ZERO);
        assert_eq!(
            quantile(&[Duration::from_millis(7)], 0.99),
            Duration::from_millis(7)
        );
    }
}
