//! Diff: one batch as the ledger anchored it beside what the store holds — aligned rows,
//! field-level before/after of modified events, and which copy is authentic.

use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Wrap};
use ratatui::Frame;

use super::{ellipsize, fail_style, ok_style, scroll_offset, short};
use crate::diff::{Baseline, BatchDiff, BatchSummary, DiffRow};
use crate::tui::app::{App, Hit, Tab};
use crate::tui::event::Action;

#[derive(Debug, Clone, Default)]
pub enum View {
    #[default]
    Empty,
    Loading {
        container: String,
        batch_id: u64,
    },
    Ready(Box<BatchDiff>),
    Error {
        container: String,
        batch_id: u64,
        message: String,
    },
}

#[derive(Debug, Clone, Default)]
pub struct State {
    pub view: View,
    pub selected: usize,
}

impl State {
    pub fn loading(&mut self, container: &str, batch_id: u64) {
        self.view = View::Loading {
            container: container.to_string(),
            batch_id,
        };
        self.selected = 0;
    }

    pub fn ready(&mut self, r: Result<Box<BatchDiff>, String>) {
        let (container, batch_id) = match &self.view {
            View::Loading {
                container,
                batch_id,
            } => (container.clone(), *batch_id),
            _ => (String::new(), 0),
        };
        self.view = match r {
            Ok(d) => {
                self.selected = d.rows.iter().position(|r| r.kind.is_some()).unwrap_or(0);
                View::Ready(d)
            }
            Err(message) => View::Error {
                container,
                batch_id,
                message,
            },
        };
    }

    /// The loaded diff when it is of this batch.
    pub fn ready_for(&self, container: &str, batch_id: u64) -> Option<&BatchDiff> {
        match &self.view {
            View::Ready(d) if d.container_instance_id == container && d.batch_id == batch_id => {
                Some(d)
            }
            _ => None,
        }
    }
}

pub fn handle_key(app: &mut App, k: KeyEvent) -> Vec<Action> {
    let n = match &app.diff.view {
        View::Ready(d) => d.rows.len(),
        _ => 0,
    };
    match k.code {
        KeyCode::Esc | KeyCode::Backspace => app.tab = Tab::Verify,
        KeyCode::Up | KeyCode::Char('k') => app.diff.selected = app.diff.selected.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') => {
            app.diff.selected = (app.diff.selected + 1).min(n.saturating_sub(1))
        }
        KeyCode::Char('n') => {
            if let View::Ready(d) = &app.diff.view {
                let from = app.diff.selected + 1;
                if let Some(i) = d.rows.iter().skip(from).position(|r| r.kind.is_some()) {
                    app.diff.selected = from + i;
                } else if let Some(i) = d.rows.iter().position(|r| r.kind.is_some()) {
                    app.diff.selected = i;
                }
            }
        }
        _ => {}
    }
    Vec::new()
}

fn summary_line(label: &str, s: Option<&BatchSummary>) -> Line<'static> {
    let Some(s) = s else {
        return Line::from(vec![
            Span::styled(format!("{label:<9}"), Style::default().fg(Color::DarkGray)),
            Span::styled("(missing)", Style::default().fg(Color::Red)),
        ]);
    };
    let mut text = s.describe();
    if let Some(tx) = &s.tx_id {
        text.push_str(&format!(", tx {}", short(tx, 12)));
    }
    let mut spans = vec![
        Span::styled(format!("{label:<9}"), Style::default().fg(Color::DarkGray)),
        Span::raw(text),
    ];
    for problem in s.problems() {
        spans.push(Span::styled(problem, Style::default().fg(Color::Red)));
    }
    Line::from(spans)
}

fn status_text(d: &BatchDiff, r: &DiffRow) -> &'static str {
    match (r.kind, d.localized) {
        (Some(k), _) => k.as_str(),
        (None, true) => "ok",
        (None, false) if r.stored_leaf.is_none() => "missing",
        (None, false) => "?",
    }
}

pub fn render(app: &App, frame: &mut Frame, area: Rect, hits: &mut Vec<(Rect, Hit)>) {
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" Diff: anchored vs stored ");
    let d = match &app.diff.view {
        View::Empty => {
            frame.render_widget(
                Paragraph::new("No diff open — in Verify, select a failed batch and press Enter (or `d` in Batches)")
                    .style(Style::default().fg(Color::DarkGray))
                    .block(block),
                area,
            );
            return;
        }
        View::Loading {
            container,
            batch_id,
        } => {
            frame.render_widget(
                Paragraph::new(format!(
                    "Loading the diff of batch {batch_id} of {container} …"
                ))
                .block(block),
                area,
            );
            return;
        }
        View::Error {
            container,
            batch_id,
            message,
        } => {
            frame.render_widget(
                Paragraph::new(format!(
                    "Could not build the diff of batch {batch_id} of {container}: {message}"
                ))
                .wrap(Wrap { trim: false })
                .block(block),
                area,
            );
            return;
        }
        View::Ready(d) => d,
    };
    let header_h = if d.header_fields.is_empty() {
        0
    } else {
        d.header_fields.len().min(6) as u16 + 3
    };
    let [top, fields_area, rows_area, before_after] = Layout::vertical([
        Constraint::Length(7 + d.notes.len().min(3) as u16),
        Constraint::Length(header_h),
        Constraint::Min(6),
        Constraint::Length(9),
    ])
    .areas(area);
    render_summary(d, frame, top);
    if header_h > 0 {
        render_header_fields(d, frame, fields_area);
    }
    render_rows(app, d, frame, rows_area, hits);
    render_before_after(app, d, frame, before_after);
}

fn render_summary(d: &BatchDiff, frame: &mut Frame, area: Rect) {
    let (verdict, style) = if d.is_intact() {
        (
            " MATCHES ITS ANCHOR ",
            ok_style().add_modifier(Modifier::REVERSED),
        )
    } else {
        (" DIFFERS ", fail_style())
    };
    let against = match d.baseline {
        Baseline::StoredLeafList => "rows aligned against the stored leaf list, which reproduces the anchored root",
        Baseline::AuthenticCopy => "rows aligned against the authentic copy's leaf list, which reproduces the anchored root",
        Baseline::UnanchoredLeafList => "rows aligned against the stored leaf list (not anchored: nothing vouches for it)",
        Baseline::None => "not localized: nothing reproduces the anchored root",
    };
    let authentic = match (&d.anchor, d.is_intact()) {
        (Some(_), true) => "authentic: the stored copy (identical to the anchor)".to_string(),
        (Some(a), false) => format!(
            "authentic: the ledger's anchor{}; the stored copy was altered",
            a.block_height
                .map(|h| format!(" (block {h})"))
                .unwrap_or_default()
        ),
        (None, _) => "authentic: unknown — no anchor vouches for this batch".to_string(),
    };
    let mut lines = vec![
        Line::from(vec![
            Span::styled(verdict, style),
            Span::raw(format!(
                " batch {} of {} — {against}",
                d.batch_id, d.container_instance_id
            )),
        ]),
        summary_line("anchored", d.anchor.as_ref()),
        summary_line("stored", d.stored.as_ref()),
        Line::from(Span::styled(
            authentic,
            Style::default()
                .fg(Color::Green)
                .add_modifier(Modifier::BOLD),
        )),
    ];
    if let Some(src) = &d.authentic_source {
        lines.push(Line::from(Span::styled(
            format!("originals: {}", src.verdict),
            Style::default().fg(Color::Cyan),
        )));
    }
    for n in d.notes.iter().take(3) {
        lines.push(Line::from(Span::styled(
            format!("note: {n}"),
            Style::default().fg(Color::Yellow),
        )));
    }
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Diff: anchored vs stored "),
        ),
        area,
    );
}

fn render_header_fields(d: &BatchDiff, frame: &mut Frame, area: Rect) {
    let rows: Vec<Row> = d
        .header_fields
        .iter()
        .map(|f| {
            let (a, s) = if f.anchored.len() == 64 {
                (short(&f.anchored, 16), short(&f.stored, 16))
            } else {
                (f.anchored.as_str(), f.stored.as_str())
            };
            Row::new(vec![
                Cell::from(f.name.clone()),
                Cell::from(a.to_string()).style(Style::default().fg(Color::Green)),
                Cell::from(s.to_string()).style(Style::default().fg(Color::Red)),
            ])
        })
        .collect();
    let t = super::table(
        rows,
        [
            Constraint::Length(32),
            Constraint::Length(24),
            Constraint::Min(24),
        ],
        ["batch field", "anchored", "stored"],
        Block::default()
            .borders(Borders::ALL)
            .title(" Batch metadata that differs "),
    );
    frame.render_widget(t, area);
}

fn render_rows(
    app: &App,
    d: &BatchDiff,
    frame: &mut Frame,
    area: Rect,
    hits: &mut Vec<(Rect, Hit)>,
) {
    let inner_h = area.height.saturating_sub(3) as usize;
    let offset = scroll_offset(app.diff.selected, inner_h);
    let rows: Vec<Row> = d
        .rows
        .iter()
        .enumerate()
        .skip(offset)
        .take(inner_h)
        .map(|(i, r)| {
            let y = area.y + 2 + (i - offset) as u16;
            hits.push((
                Rect::new(area.x + 1, y, area.width.saturating_sub(2), 1),
                Hit::Row(Tab::Diff, i),
            ));
            let st = status_text(d, r);
            let st_style = if r.kind.is_some() {
                fail_style()
            } else {
                Style::default().fg(Color::Green)
            };
            let event = match (&r.stored_event, &r.original_event) {
                (Some(e), _) | (None, Some(e)) => format!("{} {} {}", e.event_type, e.comm, e.path),
                (None, None) => "-".into(),
            };
            let row = Row::new(vec![
                Cell::from(r.position.to_string()),
                Cell::from(r.container_seq.to_string()),
                Cell::from(
                    r.anchored_leaf
                        .as_deref()
                        .map_or("-", |h| short(h, 12))
                        .to_string(),
                ),
                Cell::from(
                    r.stored_leaf
                        .as_deref()
                        .map_or("-", |h| short(h, 12))
                        .to_string(),
                ),
                Cell::from(st).style(st_style),
                Cell::from(ellipsize(&event, 80)),
            ]);
            super::highlight(row, i == app.diff.selected)
        })
        .collect();
    let t = super::table(
        rows,
        [
            Constraint::Length(4),
            Constraint::Length(8),
            Constraint::Length(13),
            Constraint::Length(13),
            Constraint::Length(10),
            Constraint::Min(20),
        ],
        ["#", "seq", "anchored", "stored", "status", "event"],
        Block::default().borders(Borders::ALL).title(format!(
            " Rows ({} changed of {}; n = next change) ",
            d.changed_rows().count(),
            d.rows.len()
        )),
    );
    frame.render_widget(t, area);
}

fn render_before_after(app: &App, d: &BatchDiff, frame: &mut Frame, area: Rect) {
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" Before / after (authentic original → stored) ");
    let Some(r) = d.rows.get(app.diff.selected) else {
        frame.render_widget(Paragraph::new("").block(block), area);
        return;
    };
    let mut lines = Vec::new();
    if r.field_changes.is_empty() {
        let msg = match (r.kind, &r.original_event) {
            (None, _) => format!(
                "seq {}: intact (its leaf hash matches the anchored leaf)",
                r.container_seq
            ),
            (Some(k), None) => format!(
                "seq {}: {} — no authentic original recorded for this event",
                r.container_seq,
                k.as_str()
            ),
            (Some(k), Some(_)) => format!(
                "seq {}: {} — content identical, position differs",
                r.container_seq,
                k.as_str()
            ),
        };
        lines.push(Line::from(msg));
    } else {
        lines.push(Line::from(Span::styled(
            format!("{:<24}{:<48}{}", "field", "authentic original", "stored"),
            Style::default().add_modifier(Modifier::BOLD),
        )));
        for f in &r.field_changes {
            lines.push(Line::from(vec![
                Span::raw(format!("{:<24}", f.name)),
                Span::styled(
                    format!("{:<48}", ellipsize(&f.anchored, 46)),
                    Style::default().fg(Color::Green),
                ),
                Span::styled(ellipsize(&f.stored, 60), Style::default().fg(Color::Red)),
            ]));
        }
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
