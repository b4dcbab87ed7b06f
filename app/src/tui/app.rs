//! The workstation's state. Only the event loop mutates it: from keys and clicks
//! ([`App::handle_crossterm`]), from the tap and ticks, and from background results
//! ([`App::apply`]). Both return the [`Action`]s the loop must start.

use std::time::Instant;

use conanchor_ledger::anchorer::AnchorerStats;
use ratatui::crossterm::event::{
    Event as CrosstermEvent, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton,
    MouseEventKind,
};
use ratatui::layout::{Position, Rect};

use super::event::{Action, AppEvent, LedgerSnapshot, VerifyScope};
use super::model::{pending_row, Containers, BATCH_WINDOW};
use super::panels::{attack, batches, diff, help, ledger, live, verify};
use super::toast::{Level, Toasts};
use crate::pipeline::TapMsg;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Live,
    Batches,
    Verify,
    Attack,
    Ledger,
    Diff,
}

impl Tab {
    pub const ALL: [Tab; 6] = [
        Tab::Live,
        Tab::Batches,
        Tab::Verify,
        Tab::Attack,
        Tab::Ledger,
        Tab::Diff,
    ];

    pub fn title(&self) -> &'static str {
        match self {
            Tab::Live => "Live",
            Tab::Batches => "Batches",
            Tab::Verify => "Verify",
            Tab::Attack => "Attack",
            Tab::Ledger => "Ledger",
            Tab::Diff => "Diff",
        }
    }

    fn index(&self) -> usize {
        Tab::ALL.iter().position(|t| t == self).unwrap_or(0)
    }
}

/// What a click can land on; panels register these while rendering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hit {
    Tab(Tab),
    /// A row of a panel's list (its index in the panel's own list).
    Row(Tab, usize),
    Container(usize),
    Button(Button),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Button {
    Attack(usize),
    Restore,
    VerifySelected,
    VerifyAll,
    ConfirmYes,
    ConfirmNo,
}

/// Where the evidence comes from, for the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    LiveLsm,
    LiveTracepoint,
    Synthetic,
    Replay(String),
    /// Following a Falco or Tetragon JSON lines file (the label says which and where).
    Ingest(String),
}

impl Mode {
    pub fn label(&self) -> String {
        match self {
            Mode::LiveLsm => "live LSM".into(),
            Mode::LiveTracepoint => "live tracepoint".into(),
            Mode::Synthetic => "synthetic".into(),
            Mode::Replay(f) => format!("replay {f}"),
            Mode::Ingest(label) => label.clone(),
        }
    }
}

/// Session-wide counters for the header.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    pub events: u64,
    pub events_per_sec: u64,
    pub drops: u64,
    pub pending_anchors: u64,
    pub anchorer: AnchorerStats,
    pub pipeline_error: Option<String>,
    /// Events that reached the view through the tap (a full tap skips some; the store
    /// has them all).
    pub view_events: u64,
    last_events: u64,
}

pub struct App {
    pub mode: Mode,
    pub banner: Option<String>,
    pub data_dir: String,
    pub ledger_backend: String,
    pub tab: Tab,
    pub containers: Containers,
    pub selected: usize,
    pub live: live::State,
    pub batches: batches::State,
    pub verify: verify::State,
    pub diff: diff::State,
    pub attack: attack::State,
    pub ledger: Option<Result<LedgerSnapshot, String>>,
    pub totals: Totals,
    pub toasts: Toasts,
    pub show_help: bool,
    pub hits: Vec<(Rect, Hit)>,
    pub should_quit: bool,
    /// Set while quitting: the final frame says what is being flushed.
    pub closing: Option<String>,
    pub store_inflight: bool,
    pub ledger_inflight: bool,
    last_second: Instant,
}

impl App {
    pub fn new(mode: Mode, data_dir: &str, ledger_backend: &str) -> App {
        App {
            mode,
            banner: None,
            data_dir: data_dir.to_string(),
            ledger_backend: ledger_backend.to_string(),
            tab: Tab::Live,
            containers: Containers::default(),
            selected: 0,
            live: live::State::default(),
            batches: batches::State::default(),
            verify: verify::State::default(),
            diff: diff::State::default(),
            attack: attack::State::default(),
            ledger: None,
            totals: Totals::default(),
            toasts: Toasts::default(),
            show_help: false,
            hits: Vec::new(),
            should_quit: false,
            closing: None,
            store_inflight: false,
            ledger_inflight: false,
            last_second: Instant::now(),
        }
    }

    pub fn selected_container(&self) -> Option<&str> {
        self.containers.get(self.selected).map(|c| c.id.as_str())
    }

    /// Applies one tap message (an appended event or a sealed batch).
    pub fn on_tap(&mut self, msg: TapMsg) {
        match msg {
            TapMsg::Event(ev) => {
                self.totals.view_events += 1;
                if let Some(i) = self.containers.push_event(*ev) {
                    self.inserted_container(i);
                }
            }
            TapMsg::Sealed(h) => {
                if let Some(i) = self.containers.note_sealed(&h) {
                    self.inserted_container(i);
                }
                if self.batches.container.as_deref() == Some(h.container_instance_id.as_str()) {
                    self.batches.push_front(pending_row(&h), BATCH_WINDOW);
                }
            }
        }
    }

    /// Keeps the selection on the same container when one is inserted before it.
    fn inserted_container(&mut self, i: usize) {
        if self.containers.len() > 1 && i <= self.selected {
            self.selected += 1;
        }
    }

    /// Once per tick: session counters, rates and toasts.
    pub fn on_tick(&mut self, now: Instant) {
        self.toasts.expire(now);
        let elapsed = now.duration_since(self.last_second);
        if elapsed.as_millis() >= 1000 {
            self.containers.roll_second();
            let secs = elapsed.as_secs_f64().max(0.001);
            self.totals.events_per_sec =
                ((self.totals.events.saturating_sub(self.totals.last_events)) as f64 / secs) as u64;
            self.totals.last_events = self.totals.events;
            self.last_second = now;
        }
    }

    /// The pipeline's and the anchorer's counters (read by the loop each tick).
    pub fn set_counters(
        &mut self,
        events: u64,
        drops: u64,
        error: Option<String>,
        anchorer: AnchorerStats,
    ) {
        self.totals.events = events;
        self.totals.drops = drops;
        self.totals.pipeline_error = error;
        self.totals.anchorer = anchorer;
    }

    /// Applies a background result; returns follow-up work.
    pub fn apply(&mut self, ev: AppEvent) -> Vec<Action> {
        let mut actions = Vec::new();
        match ev {
            AppEvent::Store {
                pending_anchors,
                containers,
                batches,
            } => {
                self.store_inflight = false;
                self.totals.pending_anchors = pending_anchors;
                for i in self.containers.apply_totals(&containers) {
                    self.inserted_container(i);
                }
                if let Some((cid, rows)) = batches {
                    if self.selected_container() == Some(cid.as_str()) {
                        self.batches.replace(cid, rows);
                    }
                }
            }
            AppEvent::StoreError(e) => {
                self.store_inflight = false;
                tracing::warn!(error = %e, "store refresh failed");
                self.totals.pipeline_error = Some(e);
            }
            AppEvent::Ledger(r) => {
                self.ledger_inflight = false;
                self.ledger = Some(r);
            }
            AppEvent::VerifyProgress { done, total } => self.verify.progress(done, total),
            AppEvent::VerifyDone(r) => {
                if let Some((container, batch_id)) = self.verify.finish(r) {
                    self.diff.loading(&container, batch_id);
                    actions.push(Action::Diff {
                        container,
                        batch_id,
                    });
                }
            }
            AppEvent::DiffReady(r) => self.diff.ready(r),
            AppEvent::AttackDone(r) => {
                self.attack.busy = false;
                match r {
                    Ok(o) => {
                        self.toasts.push(
                            Level::Success,
                            format!("attack {} done", o.kind),
                            format!("{} — expect {}", o.description, o.kind.expected_findings()),
                        );
                        let cid = o.container_instance_id.clone();
                        self.attack.last = Some(o);
                        self.tab = Tab::Verify;
                        actions.push(self.start_verify(VerifyScope::Container(cid), true));
                    }
                    Err(e) => self.toasts.push(Level::Error, "attack failed", e),
                }
            }
            AppEvent::RestoreDone(r) => {
                self.attack.busy = false;
                match r {
                    Ok(lines) if lines.is_empty() => self.toasts.push(
                        Level::Info,
                        "restore",
                        "nothing to restore: no attack is journaled",
                    ),
                    Ok(lines) => {
                        self.toasts
                            .push(Level::Success, "restored", lines.join("; "));
                        self.attack.last = None;
                        self.tab = Tab::Verify;
                        let scope = match self.selected_container() {
                            Some(c) => VerifyScope::Container(c.to_string()),
                            None => VerifyScope::All,
                        };
                        actions.push(self.start_verify(scope, false));
                    }
                    Err(e) => self.toasts.push(Level::Error, "restore failed", e),
                }
            }
        }
        actions
    }

    /// Marks verification as running and returns the action that runs it.
    pub fn start_verify(&mut self, scope: VerifyScope, open_diff: bool) -> Action {
        self.verify.start(scope.clone(), open_diff);
        Action::Verify(scope)
    }

    /// Opens the diff view of one batch (loading in the background).
    pub fn open_diff(&mut self, container: String, batch_id: u64) -> Action {
        self.diff.loading(&container, batch_id);
        self.tab = Tab::Diff;
        Action::Diff {
            container,
            batch_id,
        }
    }

    pub fn select_container(&mut self, i: usize) -> Vec<Action> {
        if i >= self.containers.len() || i == self.selected && self.batches.container.is_some() {
            return Vec::new();
        }
        self.selected = i;
        self.live.follow();
        self.batches.clear();
        vec![Action::RefreshStore]
    }

    /// Keys, mouse and resize.
    pub fn handle_crossterm(&mut self, ev: CrosstermEvent) -> Vec<Action> {
        match ev {
            CrosstermEvent::Key(k) if k.kind != KeyEventKind::Release => self.handle_key(k),
            CrosstermEvent::Mouse(m) => match m.kind {
                MouseEventKind::Down(MouseButton::Left) => self.click(m.column, m.row),
                MouseEventKind::ScrollDown => self.handle_key(KeyEvent::from(KeyCode::Down)),
                MouseEventKind::ScrollUp => self.handle_key(KeyEvent::from(KeyCode::Up)),
                _ => Vec::new(),
            },
            _ => Vec::new(),
        }
    }

    pub fn handle_key(&mut self, k: KeyEvent) -> Vec<Action> {
        if k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char('c') {
            return vec![Action::Quit];
        }
        if self.show_help {
            return help::handle_key(self, k);
        }
        if self.attack.confirm.is_some() {
            return attack::handle_confirm_key(self, k);
        }
        match k.code {
            KeyCode::Char('q') => return vec![Action::Quit],
            KeyCode::Char('?') => {
                self.show_help = true;
                return Vec::new();
            }
            KeyCode::Tab => {
                self.tab = Tab::ALL[(self.tab.index() + 1) % Tab::ALL.len()];
                return Vec::new();
            }
            KeyCode::BackTab => {
                self.tab = Tab::ALL[(self.tab.index() + Tab::ALL.len() - 1) % Tab::ALL.len()];
                return Vec::new();
            }
            KeyCode::Char(c @ '1'..='6') => {
                self.tab = Tab::ALL[(c as u8 - b'1') as usize];
                return Vec::new();
            }
            _ => {}
        }
        match self.tab {
            Tab::Live => live::handle_key(self, k),
            Tab::Batches => batches::handle_key(self, k),
            Tab::Verify => verify::handle_key(self, k),
            Tab::Attack => attack::handle_key(self, k),
            Tab::Ledger => ledger::handle_key(self, k),
            Tab::Diff => diff::handle_key(self, k),
        }
    }

    fn click(&mut self, x: u16, y: u16) -> Vec<Action> {
        if self.show_help {
            self.show_help = false;
            return Vec::new();
        }
        let Some(hit) = self
            .hits
            .iter()
            .rev()
            .find(|(r, _)| r.contains(Position::new(x, y)))
            .map(|(_, h)| *h)
        else {
            return Vec::new();
        };
        if self.attack.confirm.is_some()
            && !matches!(hit, Hit::Button(Button::ConfirmYes | Button::ConfirmNo))
        {
            return Vec::new();
        }
        match hit {
            Hit::Tab(t) => {
                self.tab = t;
                Vec::new()
            }
            Hit::Container(i) => self.select_container(i),
            Hit::Row(Tab::Batches, i) => batches::click_row(self, i),
            Hit::Row(Tab::Verify, i) => verify::click_row(self, i),
            Hit::Row(Tab::Diff, i) => {
                self.diff.selected = i;
                Vec::new()
            }
            Hit::Row(Tab::Live, i) => live::click_row(self, i),
            Hit::Row(_, _) => Vec::new(),
            Hit::Button(b) => attack::press(self, b),
        }
    }
}
