//! Verify: runs verification in the background (selected container or all) with progress;
//! results per batch with failure badges, failed batches first; Enter on a failed batch
//! opens the diff view.

use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Gauge, Paragraph, Row, Wrap};
use ratatui::Frame;

use super::{badge, fail_style, ok_style, scroll_offset, short};
use crate::tui::app::{App, Button, Hit, Tab};
use crate::tui::event::{Action, VerifyScope};
use crate::verify::{FailureType, Status, VerifyReport};

/// One result row: a batch of a container (batch 0 = not about one batch, e.g. the chain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultRow {
    pub container: String,
    pub batch_id: u64,
    pub status: Status,
    pub event_count: u64,
    pub block_height: Option<u64>,
    pub failures: Vec<FailureType>,
}

#[derive(Debug, Clone, Default)]
pub enum Run {
    #[default]
    Idle,
    Running {
        scope: VerifyScope,
        done: u64,
        total: u64,
    },
    Done {
        scope: VerifyScope,
        report: Box<VerifyReport>,
    },
    Error(String),
}

#[derive(Debug, Clone, Default)]
pub struct State {
    pub run: Run,
    pub rows: Vec<ResultRow>,
    pub selected: usize,
    /// Preload the diff of the first failed batch (after an attack).
    auto_diff: bool,
}

impl State {
    pub fn is_running(&self) -> bool {
        matches!(self.run, Run::Running { .. })
    }

    pub fn start(&mut self, scope: VerifyScope, auto_diff: bool) {
        self.run = Run::Running {
            scope,
            done: 0,
            total: 0,
        };
        self.auto_diff = auto_diff;
    }

    pub fn progress(&mut self, d: u64, t: u64) {
        if let Run::Running { done, total, .. } = &mut self.run {
            *done = d;
            *total = t;
        }
    }

    /// Stores the outcome; returns the diff to preload when asked to.
    pub fn finish(&mut self, result: Result<VerifyReport, String>) -> Option<(String, u64)> {
        let scope = match &self.run {
            Run::Running { scope, .. } => scope.clone(),
            _ => VerifyScope::All,
        };
        match result {
            Ok(report) => {
                self.rows = result_rows(&report);
                self.selected = 0;
                self.run = Run::Done {
                    scope,
                    report: Box::new(report),
                };
                let first_failed = self
                    .rows
                    .iter()
                    .find(|r| r.status == Status::Failed && r.batch_id > 0)
                    .map(|r| (r.container.clone(), r.batch_id));
                std::mem::take(&mut self.auto_diff)
                    .then_some(first_failed)
                    .flatten()
            }
            Err(e) => {
                self.run = Run::Error(e);
                self.rows.clear();
                None
            }
        }
    }

    pub fn report(&self) -> Option<&VerifyReport> {
        match &self.run {
            Run::Done { report, .. } => Some(report),
            _ => None,
        }
    }
}

/// Failed rows first (in order), then the rest.
pub fn result_rows(report: &VerifyReport) -> Vec<ResultRow> {
    let mut rows = Vec::new();
    for c in &report.containers {
        let general: Vec<FailureType> = c
            .failures
            .iter()
            .filter(|f| f.batch_id == 0)
            .map(|f| f.kind)
            .collect();
        if !general.is_empty() {
            rows.push(ResultRow {
                container: c.container_instance_id.clone(),
                batch_id: 0,
                status: Status::Failed,
                event_count: 0,
                block_height: None,
                failures: general,
            });
        }
        for b in &c.batches {
            rows.push(ResultRow {
                container: c.container_instance_id.clone(),
                batch_id: b.batch_id,
                status: b.status,
                event_count: b.event_count,
                block_height: b.block_height,
                failures: b.failures.clone(),
            });
        }
    }
    rows.sort_by_key(|r| r.status == Status::Ok);
    rows
}

fn scope_of(app: &App) -> Option<VerifyScope> {
    app.selected_container()
        .map(|c| VerifyScope::Container(c.to_string()))
}

pub fn verify_selected(app: &mut App) -> Vec<Action> {
    match scope_of(app) {
        Some(s) if !app.verify.is_running() => vec![app.start_verify(s, false)],
        _ => Vec::new(),
    }
}

pub fn verify_all(app: &mut App) -> Vec<Action> {
    if app.verify.is_running() {
        return Vec::new();
    }
    vec![app.start_verify(VerifyScope::All, false)]
}

fn open_selected(app: &mut App) -> Vec<Action> {
    match app.verify.rows.get(app.verify.selected) {
        Some(r) if r.batch_id > 0 => {
            let (c, b) = (r.container.clone(), r.batch_id);
            vec![app.open_diff(c, b)]
        }
        _ => Vec::new(),
    }
}

pub fn click_row(app: &mut App, i: usize) -> Vec<Action> {
    if app.verify.selected == i {
        return open_selected(app);
    }
    app.verify.selected = i.min(app.verify.rows.len().saturating_sub(1));
    Vec::new()
}

pub fn handle_key(app: &mut App, k: KeyEvent) -> Vec<Action> {
    let n = app.verify.rows.len();
    match k.code {
        KeyCode::Char('v') => verify_selected(app),
        KeyCode::Char('a') => verify_all(app),
        KeyCode::Up | KeyCode::Char('k') => {
            app.verify.selected = app.verify.selected.saturating_sub(1);
            Vec::new()
        }
        KeyCode::Down | KeyCode::Char('j') => {
            app.verify.selected = (app.verify.selected + 1).min(n.saturating_sub(1));
            Vec::new()
        }
        KeyCode::Enter | KeyCode::Char('d') => open_selected(app),
        _ => Vec::new(),
    }
}

fn scope_text(s: &VerifyScope) -> String {
    match s {
        VerifyScope::Container(c) => c.clone(),
        VerifyScope::All => "all containers".into(),
    }
}

pub fn render(app: &App, frame: &mut Frame, area: Rect, hits: &mut Vec<(Rect, Hit)>) {
    let [bar, status, body] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(4),
        Constraint::Min(4),
    ])
    .areas(area);
    let b1 = " [v] Verify selected ";
    let b2 = " [a] Verify all ";
    let r1 = Rect::new(bar.x + 1, bar.y, b1.len() as u16, 1);
    let r2 = Rect::new(r1.x + r1.width + 2, bar.y, b2.len() as u16, 1);
    hits.push((r1, Hit::Button(Button::VerifySelected)));
    hits.push((r2, Hit::Button(Button::VerifyAll)));
    let button = Style::default().fg(Color::Black).bg(Color::Cyan);
    frame.render_widget(Paragraph::new(b1).style(button), r1.intersection(bar));
    frame.render_widget(Paragraph::new(b2).style(button), r2.intersection(bar));
    render_status(app, frame, status);
    let [table_area, detail_area] =
        Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(body);
    render_rows(app, frame, table_area, hits);
    render_detail(app, frame, detail_area);
}

fn render_status(app: &App, frame: &mut Frame, area: Rect) {
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" Verification ");
    match &app.verify.run {
        Run::Idle => frame.render_widget(
            Paragraph::new(
                "Idle — press v to verify the selected container against the ledger, a for all",
            )
            .block(block),
            area,
        ),
        Run::Running { scope, done, total } => {
            let ratio = if *total == 0 {
                0.0
            } else {
                (*done as f64 / *total as f64).min(1.0)
            };
            let g = Gauge::default()
                .block(block.title(format!(" Verifying {} … ", scope_text(scope))))
                .gauge_style(Style::default().fg(Color::Cyan))
                .ratio(ratio)
                .label(format!("Running: {done}/{total} batches"));
            frame.render_widget(g, area);
        }
        Run::Error(e) => frame.render_widget(
            Paragraph::new(Line::from(vec![
                Span::styled(" ERROR ", fail_style()),
                Span::raw(format!(" could not verify: {e}")),
            ]))
            .block(block),
            area,
        ),
        Run::Done { scope, report } => {
            let (badge_text, style) = if report.failed() {
                (" FAILED ", fail_style())
            } else {
                (" OK ", ok_style().add_modifier(Modifier::REVERSED))
            };
            let types: Vec<&str> = report.failure_types().iter().map(|f| f.as_str()).collect();
            let warnings: usize = report.containers.iter().map(|c| c.warnings.len()).sum();
            let mut spans = vec![
                Span::styled(badge_text, style),
                Span::raw(format!(
                    " {}: {} batches / {} events verified against the {} ledger, {} of {} containers failed, {warnings} warnings",
                    scope_text(scope),
                    report.verified_batches,
                    report.verified_events,
                    report.ledger_backend,
                    report.failed_containers,
                    report.containers.len()
                )),
            ];
            if !types.is_empty() {
                spans.push(Span::styled(
                    format!("  {}", types.join(" ")),
                    Style::default().fg(Color::Red),
                ));
            }
            frame.render_widget(
                Paragraph::new(Line::from(spans))
                    .wrap(Wrap { trim: false })
                    .block(block),
                area,
            );
        }
    }
}

fn render_rows(app: &App, frame: &mut Frame, area: Rect, hits: &mut Vec<(Rect, Hit)>) {
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" Results per batch (failed first; Enter opens the diff) ");
    let st = &app.verify;
    if st.rows.is_empty() {
        frame.render_widget(
            Paragraph::new("no results yet")
                .style(Style::default().fg(Color::DarkGray))
                .block(block),
            area,
        );
        return;
    }
    let inner_h = area.height.saturating_sub(3) as usize;
    let offset = scroll_offset(st.selected, inner_h);
    let rows: Vec<Row> = st
        .rows
        .iter()
        .enumerate()
        .skip(offset)
        .take(inner_h)
        .map(|(i, r)| {
            let y = area.y + 2 + (i - offset) as u16;
            hits.push((
                Rect::new(area.x + 1, y, area.width.saturating_sub(2), 1),
                Hit::Row(Tab::Verify, i),
            ));
            let status = match r.status {
                Status::Ok => Cell::from("OK").style(ok_style()),
                Status::Failed => Cell::from("FAILED").style(fail_style()),
            };
            let badges: Vec<Span> = r
                .failures
                .iter()
                .flat_map(|f| {
                    [
                        Span::styled(format!("[{}]", badge(*f)), Style::default().fg(Color::Red)),
                        Span::raw(" "),
                    ]
                })
                .collect();
            let row = Row::new(vec![
                Cell::from(r.container.clone()),
                Cell::from(if r.batch_id == 0 {
                    "chain".into()
                } else {
                    r.batch_id.to_string()
                }),
                status,
                Cell::from(r.event_count.to_string()),
                Cell::from(r.block_height.map_or("-".into(), |h| h.to_string())),
                Cell::from(Line::from(badges)),
            ]);
            super::highlight(row, i == st.selected)
        })
        .collect();
    let table = super::table(
        rows,
        [
            Constraint::Length(36),
            Constraint::Length(6),
            Constraint::Length(7),
            Constraint::Length(7),
            Constraint::Length(7),
            Constraint::Min(20),
        ],
        [
            "container",
            "batch",
            "status",
            "events",
            "block",
            "failures",
        ],
        block,
    );
    frame.render_widget(table, area);
}

fn render_detail(app: &App, frame: &mut Frame, area: Rect) {
    let block = Block::default().borders(Borders::ALL).title(" Findings ");
    let (Some(report), Some(row)) = (
        app.verify.report(),
        app.verify.rows.get(app.verify.selected),
    ) else {
        frame.render_widget(Paragraph::new("").block(block), area);
        return;
    };
    let Some(c) = report
        .containers
        .iter()
        .find(|c| c.container_instance_id == row.container)
    else {
        frame.render_widget(Paragraph::new("").block(block), area);
        return;
    };
    let mut lines: Vec<Line> = Vec::new();
    for f in c.failures.iter().filter(|f| f.batch_id == row.batch_id) {
        lines.push(Line::from(vec![
            Span::styled(
                format!("{:<28}", f.kind.as_str()),
                Style::default().fg(Color::Red),
            ),
            Span::raw(f.message.clone()),
        ]));
    }
    for f in c.findings.iter().filter(|f| f.batch_id == row.batch_id) {
        lines.push(Line::from(format!(
            "{:<10} container_seq {:<8} expected leaf {:<12} stored leaf {}",
            f.kind.as_str(),
            f.container_seq,
            f.expected_leaf.as_deref().map_or("-", |h| short(h, 12)),
            f.actual_leaf.as_deref().map_or("-", |h| short(h, 12)),
        )));
    }
    if let Some(d) = app.diff.ready_for(&row.container, row.batch_id) {
        if let Some(src) = &d.authentic_source {
            lines.push(Line::from(Span::styled(
                format!("diff: {}", src.verdict),
                Style::default().fg(Color::Cyan),
            )));
        }
        for r in d.changed_rows().take(4) {
            for fc in r.field_changes.iter().take(3) {
                lines.push(Line::from(format!(
                    "diff: seq {} {}: {:?} → {:?}",
                    r.container_seq, fc.name, fc.anchored, fc.stored
                )));
            }
        }
    }
    for w in &c.warnings {
        lines.push(Line::from(Span::styled(
            format!("warning: {}", w.message),
            Style::default().fg(Color::Yellow),
        )));
    }
    if row.status == Status::Failed && row.batch_id > 0 {
        lines.push(Line::from(Span::styled(
            "Enter: open the diff view of this batch",
            Style::default().fg(Color::DarkGray),
        )));
    }
    if lines.is_empty() {
        lines.push(Line::from("batch matches its anchor"));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        area,
    );
}
