//! Live: every container (events, high-risk count, drops, last seen, events/s sparkline)
//! and the selected container's event stream with risk colours and a detail pane.

use conanchor_store::Event;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Sparkline, Wrap};
use ratatui::Frame;

use super::{clock, ellipsize, risk_style, scroll_offset, selected_style, spark_text};
use crate::tui::app::{App, Hit, Tab};
use crate::tui::event::Action;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Focus {
    #[default]
    Containers,
    Events,
}

#[derive(Debug, Clone, Default)]
pub struct State {
    pub focus: Focus,
    /// The selected event's container_seq; `None` follows the newest event.
    pub selected_seq: Option<u64>,
}

impl State {
    pub fn follow(&mut self) {
        self.selected_seq = None;
    }
}

/// The selected container's window, newest first.
fn stream(app: &App) -> Vec<&Event> {
    app.containers
        .get(app.selected)
        .map(|c| c.recent.iter().rev().collect())
        .unwrap_or_default()
}

fn selected_index(app: &App, events: &[&Event]) -> usize {
    app.live
        .selected_seq
        .and_then(|s| events.iter().position(|e| e.container_seq == s))
        .unwrap_or(0)
}

pub fn click_row(app: &mut App, i: usize) -> Vec<Action> {
    let seq = stream(app).get(i).map(|e| e.container_seq);
    app.live.focus = Focus::Events;
    app.live.selected_seq = seq;
    Vec::new()
}

pub fn handle_key(app: &mut App, k: KeyEvent) -> Vec<Action> {
    match (k.code, app.live.focus) {
        (KeyCode::Left | KeyCode::Right, _) | (KeyCode::Enter, Focus::Containers) => {
            app.live.focus = match app.live.focus {
                Focus::Containers => Focus::Events,
                Focus::Events => Focus::Containers,
            };
            Vec::new()
        }
        (KeyCode::Up | KeyCode::Char('k'), Focus::Containers) => {
            app.select_container(app.selected.saturating_sub(1))
        }
        (KeyCode::Down | KeyCode::Char('j'), Focus::Containers) => {
            app.select_container((app.selected + 1).min(app.containers.len().saturating_sub(1)))
        }
        (KeyCode::Up | KeyCode::Char('k') | KeyCode::Down | KeyCode::Char('j'), Focus::Events) => {
            let events = stream(app);
            let i = selected_index(app, &events);
            let up = matches!(k.code, KeyCode::Up | KeyCode::Char('k'));
            let j = if up {
                i.saturating_sub(1)
            } else {
                (i + 1).min(events.len().saturating_sub(1))
            };
            let seq = if up && i == 0 {
                None
            } else {
                events.get(j).map(|e| e.container_seq)
            };
            app.live.selected_seq = seq;
            Vec::new()
        }
        (KeyCode::End | KeyCode::Char('f'), _) => {
            app.live.follow();
            Vec::new()
        }
        _ => Vec::new(),
    }
}

pub fn render(app: &App, frame: &mut Frame, area: Rect, hits: &mut Vec<(Rect, Hit)>) {
    let table_h = (app.containers.len() as u16 + 3).clamp(5, area.height / 2);
    let [top, bottom] =
        Layout::vertical([Constraint::Length(table_h), Constraint::Min(5)]).areas(area);
    let [containers_area, spark_area] =
        Layout::horizontal([Constraint::Min(60), Constraint::Length(44)]).areas(top);
    render_containers(app, frame, containers_area, hits);
    render_spark(app, frame, spark_area);
    let [events_area, detail_area] =
        Layout::horizontal([Constraint::Min(70), Constraint::Length(60)]).areas(bottom);
    render_events(app, frame, events_area, hits);
    render_detail(app, frame, detail_area);
}

fn focus_border(app: &App, f: Focus) -> Style {
    if app.live.focus == f {
        Style::default().fg(Color::Cyan)
    } else {
        Style::default()
    }
}

fn render_containers(app: &App, frame: &mut Frame, area: Rect, hits: &mut Vec<(Rect, Hit)>) {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(focus_border(app, Focus::Containers))
        .title(format!(" Containers ({}) ", app.containers.len()));
    if app.containers.is_empty() {
        let p = Paragraph::new("no events yet — waiting for the source")
            .style(Style::default().fg(Color::DarkGray))
            .block(block);
        frame.render_widget(p, area);
        return;
    }
    let inner_h = area.height.saturating_sub(3) as usize;
    let offset = scroll_offset(app.selected, inner_h);
    let rows: Vec<Row> = app
        .containers
        .list
        .iter()
        .enumerate()
        .skip(offset)
        .take(inner_h)
        .map(|(i, c)| {
            let style = if i == app.selected {
                selected_style()
            } else {
                Style::default()
            };
            let y = area.y + 2 + (i - offset) as u16;
            hits.push((
                Rect::new(area.x + 1, y, area.width.saturating_sub(2), 1),
                Hit::Container(i),
            ));
            Row::new(vec![
                Cell::from(ellipsize(&c.id, 40)),
                Cell::from(c.events.to_string()),
                Cell::from(c.high_risk.to_string()).style(if c.high_risk > 0 {
                    Style::default().fg(Color::Red)
                } else {
                    Style::default()
                }),
                Cell::from(c.drops().to_string()),
                Cell::from(clock(c.last_seen_ns)),
                Cell::from(c.last_rate().to_string()),
                Cell::from(spark_text(c.rate.iter().copied(), 20))
                    .style(Style::default().fg(Color::Cyan)),
            ])
            .style(style)
        })
        .collect();
    let table = super::table(
        rows,
        [
            Constraint::Min(24),
            Constraint::Length(9),
            Constraint::Length(6),
            Constraint::Length(6),
            Constraint::Length(13),
            Constraint::Length(6),
            Constraint::Length(20),
        ],
        [
            "container",
            "events",
            "high",
            "drops",
            "last seen",
            "ev/s",
            "events/s (60 s)",
        ],
        block,
    );
    frame.render_widget(table, area);
}

fn render_spark(app: &App, frame: &mut Frame, area: Rect) {
    let (title, data): (String, Vec<u64>) = match app.containers.get(app.selected) {
        Some(c) => (
            format!(" {} ev/s ", ellipsize(&c.id, 30)),
            c.rate.iter().copied().collect(),
        ),
        None => (" ev/s ".into(), Vec::new()),
    };
    let width = area.width.saturating_sub(2) as usize;
    let data: Vec<u64> = data.iter().rev().take(width).rev().copied().collect();
    let s = Sparkline::default()
        .block(Block::default().borders(Borders::ALL).title(title))
        .data(&data)
        .style(Style::default().fg(Color::Cyan));
    frame.render_widget(s, area);
}

fn render_events(app: &App, frame: &mut Frame, area: Rect, hits: &mut Vec<(Rect, Hit)>) {
    let events = stream(app);
    let title = match app.containers.get(app.selected) {
        Some(c) => format!(
            " Events of {} (last {} of {}{}) ",
            ellipsize(&c.id, 40),
            events.len(),
            c.events,
            if app.live.selected_seq.is_none() {
                ", following"
            } else {
                ""
            }
        ),
        None => " Events ".into(),
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(focus_border(app, Focus::Events))
        .title(title);
    let inner_h = area.height.saturating_sub(3) as usize;
    let sel = selected_index(app, &events);
    let offset = scroll_offset(sel, inner_h);
    let rows: Vec<Row> = events
        .iter()
        .enumerate()
        .skip(offset)
        .take(inner_h)
        .map(|(i, e)| {
            let y = area.y + 2 + (i - offset) as u16;
            hits.push((
                Rect::new(area.x + 1, y, area.width.saturating_sub(2), 1),
                Hit::Row(Tab::Live, i),
            ));
            let row = Row::new(vec![
                Cell::from(clock(e.timestamp_ns)),
                Cell::from(e.container_seq.to_string()),
                Cell::from(e.event_type.clone()),
                Cell::from(e.comm.clone()),
                Cell::from(e.path.clone()),
                Cell::from(e.risk.clone()).style(super::risk_style(&e.risk)),
            ]);
            super::highlight(row, i == sel && app.live.focus == Focus::Events)
        })
        .collect();
    let table = super::table(
        rows,
        [
            Constraint::Length(13),
            Constraint::Length(8),
            Constraint::Length(9),
            Constraint::Length(8),
            Constraint::Min(20),
            Constraint::Length(6),
        ],
        ["time", "seq", "type", "comm", "path", "risk"],
        block,
    );
    frame.render_widget(table, area);
}

fn render_detail(app: &App, frame: &mut Frame, area: Rect) {
    let events = stream(app);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" Event detail ");
    let Some(e) = events.get(selected_index(app, &events)) else {
        frame.render_widget(Paragraph::new("no event selected").block(block), area);
        return;
    };
    let kv = |k: &'static str, v: String| {
        Line::from(vec![
            Span::styled(format!("{k:<22}"), Style::default().fg(Color::DarkGray)),
            Span::raw(v),
        ])
    };
    let lines = vec![
        kv("global_seq", e.global_seq.to_string()),
        kv("container_seq", e.container_seq.to_string()),
        kv("time", clock(e.timestamp_ns)),
        kv("event_type", e.event_type.clone()),
        kv("pid / tgid", format!("{} / {}", e.pid, e.tgid)),
        kv("uid / gid", format!("{} / {}", e.uid, e.gid)),
        kv("comm", e.comm.clone()),
        kv("path", e.path.clone()),
        kv("extra", e.extra.clone()),
        kv("flags / retval", format!("{} / {}", e.flags, e.retval)),
        kv("cgroup_id", e.cgroup_id.clone()),
        kv("container_id", e.container_id.clone()),
        Line::from(vec![
            Span::styled(
                format!("{:<22}", "risk"),
                Style::default().fg(Color::DarkGray),
            ),
            Span::styled(e.risk.clone(), risk_style(&e.risk)),
        ]),
        kv("policy", e.policy.clone()),
    ];
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        area,
    );
}
