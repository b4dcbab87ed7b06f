//! Ledger: backend, chain head, chain validity, outbox depth, the anchorer's counters and
//! the latest anchors (block, tx, batch).

use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Wrap};
use ratatui::Frame;

use super::{fail_style, ok_style, short};
use crate::tui::app::{App, Hit};
use crate::tui::event::Action;

pub fn handle_key(_app: &mut App, k: KeyEvent) -> Vec<Action> {
    match k.code {
        KeyCode::Char('r') => vec![Action::RefreshLedger],
        _ => Vec::new(),
    }
}

fn kv(k: &str, v: String) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{k:<18}"), Style::default().fg(Color::DarkGray)),
        Span::raw(v),
    ])
}

pub fn render(app: &App, frame: &mut Frame, area: Rect, _hits: &mut Vec<(Rect, Hit)>) {
    let [top, bottom] = Layout::vertical([Constraint::Length(12), Constraint::Min(4)]).areas(area);
    let block = Block::default().borders(Borders::ALL).title(" Ledger ");
    let a = &app.totals.anchorer;
    let mut lines = Vec::new();
    match &app.ledger {
        None => lines.push(kv("backend", format!("{} (reading …)", app.ledger_backend))),
        Some(Err(e)) => {
            lines.push(kv("backend", app.ledger_backend.clone()));
            lines.push(Line::from(vec![
                Span::styled(" UNREACHABLE ", fail_style()),
                Span::raw(format!(" {e}")),
            ]));
        }
        Some(Ok(s)) => {
            lines.push(kv("backend", s.status.backend.clone()));
            lines.push(kv("location", s.status.location.clone()));
            lines.push(kv(
                "chain head",
                format!(
                    "height {}{}",
                    s.status.head_height,
                    s.status
                        .head_hash
                        .as_deref()
                        .map(|h| format!(", hash {}", short(h, 16)))
                        .unwrap_or_default()
                ),
            ));
            if let Some(id) = s.status.chain_id {
                lines.push(kv("chain id", id.to_string()));
            }
            lines.push(kv("anchors", s.status.anchor_count.to_string()));
            let validity = if s.chain_problems.is_empty() {
                Span::styled(
                    format!(" VALID ({} blocks checked) ", s.blocks_checked),
                    ok_style(),
                )
            } else {
                Span::styled(
                    format!(
                        " INVALID: {} ",
                        s.chain_problems.first().cloned().unwrap_or_default()
                    ),
                    fail_style(),
                )
            };
            lines.push(Line::from(vec![
                Span::styled(
                    format!("{:<18}", "chain validity"),
                    Style::default().fg(Color::DarkGray),
                ),
                validity,
            ]));
        }
    }
    lines.push(kv(
        "outbox depth",
        format!("{} batches pending", app.totals.pending_anchors),
    ));
    lines.push(kv(
        "anchorer",
        format!(
            "{} anchored in {} calls, {} failures{}",
            a.anchored,
            a.calls,
            a.failures,
            a.last_error
                .as_deref()
                .map(|e| format!(", last error: {e}"))
                .unwrap_or_default()
        ),
    ));
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        top,
    );

    let recent = match &app.ledger {
        Some(Ok(s)) => s.recent.as_slice(),
        _ => &[],
    };
    let rows: Vec<Row> = recent
        .iter()
        .take(bottom.height.saturating_sub(3) as usize)
        .map(|r| {
            Row::new(vec![
                r.block_height.to_string(),
                short(&r.tx_id, 20).to_string(),
                r.container_instance_id.clone(),
                r.batch_id.to_string(),
                r.event_count.to_string(),
            ])
        })
        .collect();
    let t = super::table(
        rows,
        [
            Constraint::Length(8),
            Constraint::Length(22),
            Constraint::Min(30),
            Constraint::Length(7),
            Constraint::Length(7),
        ],
        ["block", "tx", "container", "batch", "events"],
        Block::default()
            .borders(Borders::ALL)
            .title(" Latest anchors (r refreshes) "),
    );
    frame.render_widget(t, bottom);
}
