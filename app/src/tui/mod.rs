//! The workstation (`conanchor-tui` with no subcommand): the collector embedded, panels
//! over live events, batches, verification, attacks, the ledger and diffs.
//!
//! One event loop ([`run`]): it draws, then waits for a tick, input or a background result,
//! and applies it to the [`App`]. Everything slow (SQLite, verification, attacks, ledger
//! calls) runs in tasks ([`tasks`]) that post [`event::AppEvent`]s back; the pipeline's tap
//! is drained on each tick into bounded per-container windows.

pub mod app;
pub mod args;
pub mod event;
pub mod model;
pub mod panels;
pub mod tasks;
pub mod terminal;
pub mod toast;
pub mod ui;
pub mod worker;

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::sync::mpsc;

pub use app::App;
pub use args::TuiArgs;
use event::{Action, Event};
pub use worker::Worker;

use crate::collector::Collector;
use crate::pipeline::{PipelineConfig, TapMsg};

/// Capacity of the tap; a full tap drops view updates, never evidence.
pub const TAP_CAPACITY: usize = 65_536;
/// Most tap messages applied per drain (every 10 ms and in each frame), so a backlog (after
/// a stall) never makes one long pause: up to ~200,000 events/s reach the view, and past
/// that the tap fills and skips view updates (the store has every event).
pub const TAP_PER_DRAIN: usize = 2_000;
const TICK: Duration = Duration::from_millis(100);
/// Between frames the tap is drained this often, so no frame has to apply a whole tick's
/// worth of events (at 50,000 events/s that is ~500 per drain instead of ~5,000 per frame).
const TAP_EVERY: Duration = Duration::from_millis(10);
const STORE_EVERY: Duration = Duration::from_millis(1000);
const LEDGER_EVERY: Duration = Duration::from_millis(2500);

/// Entry point from `main`: a runtime, the workstation, an exit code (2 = could not run).
pub fn main(args: TuiArgs) -> ExitCode {
    let Some(rt) = crate::util::runtime() else {
        return ExitCode::from(2);
    };
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            terminal::restore();
            eprintln!("error: {}", crate::one_line(&e));
            ExitCode::from(2)
        }
    }
}

fn init_logging(args: &TuiArgs) -> Result<()> {
    let path = args
        .log_file
        .clone()
        .unwrap_or_else(|| args.data_dir.join("conanchor-tui.log"));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("opening the log file {}", path.display()))?;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CONANCHOR_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init();
    Ok(())
}

/// Runs the workstation until `q`, Ctrl-C or SIGTERM; then stops the source, flushes and
/// anchors partial batches, and restores the terminal.
pub async fn run(args: TuiArgs) -> Result<()> {
    anyhow::ensure!(args.batch_size > 0, "--batch-size must be at least 1");
    args.source_choice()?;
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating the data dir {}", args.data_dir.display()))?;
    init_logging(&args)?;
    // the probe loads (or the replay file is read) before the store opens
    let prepared = args::prepare_source(&args).await?;
    let ledger = args.ledger.open(&args.data_dir).await?;
    let (tap_tx, mut tap_rx) = mpsc::channel(TAP_CAPACITY);
    let mut cfg = PipelineConfig::new(args.batch_size, args.batch_interval, &args.collector_id);
    cfg.tap = Some(tap_tx);
    let collector = Collector::start(&args.data_dir, ledger.clone(), cfg).await?;
    let source = args::start_source(&args, prepared, collector.sender()?)?;
    tracing::info!(mode = ?source.mode, data_dir = %args.data_dir.display(), "workstation started");

    let mut app = App::new(
        source.mode.clone(),
        &args.data_dir.display().to_string(),
        ledger.backend(),
    );
    app.banner = source.banner.clone();
    let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
    let worker = Worker::new(tx.clone(), &args, ledger);
    let input_stop = Arc::new(AtomicBool::new(false));
    spawn_input(tx.clone(), input_stop.clone());

    let mut guard = terminal::setup().context("taking over the terminal")?;
    let looped = event_loop(
        &mut guard.terminal,
        &mut app,
        &worker,
        &collector,
        &mut tap_rx,
        &mut rx,
        LoopHooks::default(),
    )
    .await;
    input_stop.store(true, Ordering::Relaxed);

    app.closing = Some("stopping: sealing partial batches and anchoring what is pending …".into());
    let _ = guard.terminal.draw(|f| ui::draw(f, &mut app));
    if let Err(e) = source.stop().await {
        tracing::warn!(error = %crate::one_line(&e), "stopping the source");
    }
    drop(tap_rx);
    let finished = collector.finish().await;
    drop(guard);
    looped?;
    let summary = finished?;
    tracing::info!(
        events = summary.events,
        batches = summary.batches_sealed,
        "workstation stopped"
    );
    Ok(())
}

fn spawn_input(tx: mpsc::UnboundedSender<Event>, stop: Arc<AtomicBool>) {
    use ratatui::crossterm::event as ct;
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            match ct::poll(Duration::from_millis(100)) {
                Ok(true) => match ct::read() {
                    Ok(e) => {
                        if tx.send(Event::Crossterm(e)).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "reading terminal input failed");
                        break;
                    }
                },
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "polling terminal input failed");
                    break;
                }
            }
        }
    });
}

/// Applies the waiting tap messages, at most [`TAP_PER_DRAIN`].
pub fn drain_tap(app: &mut App, tap: &mut mpsc::Receiver<TapMsg>) -> usize {
    let mut n = 0;
    while n < TAP_PER_DRAIN {
        match tap.try_recv() {
            Ok(m) => app.on_tap(m),
            Err(_) => break,
        }
        n += 1;
    }
    n
}

/// What drives the loop besides the terminal (the bench): a deadline, and an observer
/// called after each frame with the time from waking up to the drawn frame; it may ask for
/// actions (switching panels, starting a verification) like a user would.
#[derive(Default)]
pub struct LoopHooks<'a> {
    pub until: Option<Instant>,
    #[allow(clippy::type_complexity)]
    pub on_frame: Option<&'a mut (dyn FnMut(&mut App, FrameInfo) -> Vec<Action> + Send)>,
}

/// One frame as the loop saw it.
#[derive(Debug, Clone, Copy, Default)]
pub struct FrameInfo {
    /// From waking up (tick, input or a result) to the drawn frame.
    pub total: Duration,
    /// Of which drawing.
    pub draw: Duration,
    /// Tap messages applied since the previous frame (between frames and in this one).
    pub tap_msgs: usize,
    /// The longest tap drain between the previous frame and this one (the loop is busy then
    /// too: input waits at most this long plus a frame).
    pub drain_max: Duration,
}

/// Draws, waits for a tick, input or a background result, applies it, repeats; returns on
/// quit, SIGINT/SIGTERM or the hooks' deadline.
#[allow(clippy::too_many_arguments)]
pub async fn event_loop<B: ratatui::backend::Backend>(
    terminal: &mut ratatui::Terminal<B>,
    app: &mut App,
    worker: &Worker,
    collector: &Collector,
    tap: &mut mpsc::Receiver<TapMsg>,
    rx: &mut mpsc::UnboundedReceiver<Event>,
    mut hooks: LoopHooks<'_>,
) -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last_store = Instant::now() - STORE_EVERY;
    let mut last_ledger = Instant::now() - LEDGER_EVERY;
    let mut woke: Option<Instant> = None;
    let deadline = async {
        match hooks.until {
            Some(t) => tokio::time::sleep_until(t.into()).await,
            None => std::future::pending::<()>().await,
        }
    };
    tokio::pin!(deadline);
    let mut tap_every = tokio::time::interval(TAP_EVERY);
    tap_every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut tap_msgs = 0;
    let mut drain_max = Duration::ZERO;
    loop {
        let draw_start = Instant::now();
        terminal
            .draw(|f| ui::draw(f, app))
            .map_err(|e| anyhow::anyhow!("drawing the screen: {e}"))?;
        let mut actions: Vec<Action> = Vec::new();
        if let (Some(t0), Some(f)) = (woke, hooks.on_frame.as_mut()) {
            let info = FrameInfo {
                total: t0.elapsed(),
                draw: draw_start.elapsed(),
                tap_msgs,
                drain_max,
            };
            actions.extend(f(app, info));
        }
        tap_msgs = 0;
        drain_max = Duration::ZERO;
        for a in actions.drain(..) {
            worker.dispatch(app, a);
        }
        let first = loop {
            tokio::select! {
                _ = tick.tick() => break Event::Tick,
                _ = tap_every.tick() => {
                    // applied without drawing; the next tick draws
                    let t0 = Instant::now();
                    tap_msgs += drain_tap(app, tap);
                    drain_max = drain_max.max(t0.elapsed());
                }
                Some(e) = rx.recv() => break e,
                _ = term.recv() => return Ok(()),
                _ = int.recv() => return Ok(()),
                _ = &mut deadline => return Ok(()),
            }
        };
        woke = Some(Instant::now());
        let mut events = vec![first];
        while let Ok(e) = rx.try_recv() {
            events.push(e);
        }
        for ev in events {
            match ev {
                Event::Tick => {
                    tap_msgs += drain_tap(app, tap);
                    let p = collector.pipeline_stats();
                    app.set_counters(p.events, p.drops, p.last_error, collector.anchorer_stats());
                    let now = Instant::now();
                    app.on_tick(now);
                    if now.duration_since(last_store) >= STORE_EVERY {
                        last_store = now;
                        actions.push(Action::RefreshStore);
                    }
                    if now.duration_since(last_ledger) >= LEDGER_EVERY {
                        last_ledger = now;
                        actions.push(Action::RefreshLedger);
                    }
                }
                Event::Crossterm(e) => actions.extend(app.handle_crossterm(e)),
                Event::App(e) => actions.extend(app.apply(e)),
            }
        }
        for a in actions {
            if a == Action::Quit {
                return Ok(());
            }
            worker.dispatch(app, a);
        }
    }
}
