//! Batches: the selected container's sealed batches — seq range, event count, Merkle root,
//! anchor state (pending, or anchored with tx and block) — updated live from the tap and
//! the store.

use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Style};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row};
use ratatui::Frame;

use super::{clock, scroll_offset, short};
use crate::tui::app::{App, Hit, Tab};
use crate::tui::event::{Action, BatchRow, VerifyScope};
use crate::tui::toast::Level;

#[derive(Debug, Clone, Default)]
pub struct State {
    /// Whose batches `rows` holds.
    pub container: Option<String>,
    /// Newest first.
    pub rows: Vec<BatchRow>,
    pub selected: usize,
}

impl State {
    pub fn clear(&mut self) {
        *self = State::default();
    }

    /// A batch just sealed (pending), newest first, at most `cap` rows.
    pub fn push_front(&mut self, row: BatchRow, cap: usize) {
        if self.rows.iter().any(|r| r.batch_id == row.batch_id) {
            return;
        }
        let pos = self
            .rows
            .iter()
            .position(|r| r.batch_id < row.batch_id)
            .unwrap_or(self.rows.len());
        self.rows.insert(pos, row);
        if self.selected > 0 && pos <= self.selected {
            self.selected += 1;
        }
        self.rows.truncate(cap);
        self.selected = self.selected.min(self.rows.len().saturating_sub(1));
    }

    /// The store's view (newest first), keeping the selected batch selected.
    pub fn replace(&mut self, container: String, rows: Vec<BatchRow>) {
        let keep = self.rows.get(self.selected).map(|r| r.batch_id);
        let fresh = self.container.as_deref() != Some(container.as_str());
        // Batches sealed after the store read stay (they come from the tap).
        let newer: Vec<BatchRow> = if fresh {
            Vec::new()
        } else {
            let top = rows.first().map_or(0, |r| r.batch_id);
            self.rows
                .iter()
                .filter(|r| r.batch_id > top)
                .cloned()
                .collect()
        };
        self.container = Some(container);
        self.rows = newer.into_iter().chain(rows).collect();
        self.selected = match keep {
            Some(id) if !fresh && self.selected > 0 => {
                self.rows.iter().position(|r| r.batch_id == id).unwrap_or(0)
            }
            _ => 0,
        };
    }

    pub fn selected_row(&self) -> Option<&BatchRow> {
        self.rows.get(self.selected)
    }
}

pub fn click_row(app: &mut App, i: usize) -> Vec<Action> {
    app.batches.selected = i.min(app.batches.rows.len().saturating_sub(1));
    Vec::new()
}

pub fn handle_key(app: &mut App, k: KeyEvent) -> Vec<Action> {
    let n = app.batches.rows.len();
    match k.code {
        KeyCode::Up | KeyCode::Char('k') => {
            app.batches.selected = app.batches.selected.saturating_sub(1)
        }
        KeyCode::Down | KeyCode::Char('j') => {
            app.batches.selected = (app.batches.selected + 1).min(n.saturating_sub(1))
        }
        KeyCode::Home => app.batches.selected = 0,
        KeyCode::Enter | KeyCode::Char('t') => {
            if let Some(r) = app.batches.selected_row() {
                let id = r.batch_id;
                app.attack.batch = Some(id);
                app.toasts.push(
                    Level::Info,
                    "attack target",
                    format!("attacks now aim at batch {id} (Attack panel, `c` clears)"),
                );
            }
        }
        KeyCode::Char('d') => {
            if let (Some(c), Some(r)) = (app.batches.container.clone(), app.batches.selected_row())
            {
                let id = r.batch_id;
                return vec![app.open_diff(c, id)];
            }
        }
        KeyCode::Char('v') => {
            if let Some(c) = app.selected_container().map(str::to_string) {
                app.tab = Tab::Verify;
                return vec![app.start_verify(VerifyScope::Container(c), false)];
            }
        }
        _ => {}
    }
    Vec::new()
}

pub fn render(app: &App, frame: &mut Frame, area: Rect, hits: &mut Vec<(Rect, Hit)>) {
    let st = &app.batches;
    let title = match &st.container {
        Some(c) => format!(" Batches of {c} (newest {}) ", st.rows.len()),
        None => " Batches ".to_string(),
    };
    let block = Block::default().borders(Borders::ALL).title(title);
    if st.rows.is_empty() {
        let msg = if app.containers.is_empty() {
            "no container yet"
        } else {
            "no sealed batch yet for this container (a batch seals at --batch-size events or after --batch-interval)"
        };
        frame.render_widget(
            Paragraph::new(msg)
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
                Hit::Row(Tab::Batches, i),
            ));
            let (state, tx, block_h) = match &r.anchored {
                Some((tx, h)) => (
                    Cell::from("anchored").style(Style::default().fg(Color::Green)),
                    short(tx, 16).to_string(),
                    h.to_string(),
                ),
                None => (
                    Cell::from("pending").style(Style::default().fg(Color::Yellow)),
                    "-".to_string(),
                    "-".to_string(),
                ),
            };
            let target = if app.attack.batch == Some(r.batch_id) {
                "◎"
            } else {
                ""
            };
            let row = Row::new(vec![
                Cell::from(format!("{target}{}", r.batch_id)),
                Cell::from(format!("{}..={}", r.first_seq, r.last_seq)),
                Cell::from(r.event_count.to_string()),
                Cell::from(r.dropped.to_string()),
                Cell::from(short(&r.merkle_root, 16).to_string()),
                state,
                Cell::from(block_h),
                Cell::from(tx),
                Cell::from(clock(r.end_time_ns)),
            ]);
            super::highlight(row, i == st.selected)
        })
        .collect();
    let table = super::table(
        rows,
        [
            Constraint::Length(8),
            Constraint::Length(17),
            Constraint::Length(7),
            Constraint::Length(6),
            Constraint::Length(17),
            Constraint::Length(9),
            Constraint::Length(8),
            Constraint::Length(17),
            Constraint::Min(13),
        ],
        [
            "batch",
            "seq range",
            "events",
            "drops",
            "merkle root",
            "anchor",
            "block",
            "tx",
            "sealed",
        ],
        block,
    );
    frame.render_widget(table, area);
}
