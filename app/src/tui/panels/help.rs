//! Help: every key, as an overlay (`?`).

use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;

use crate::tui::app::App;
use crate::tui::event::Action;

/// `(keys, what they do)`, also the README's table.
pub const KEYS: &[(&str, &str)] = &[
    (
        "1-6 / Tab / Shift-Tab / click",
        "switch panel: Live, Batches, Verify, Attack, Ledger, Diff",
    ),
    ("↑ ↓ / j k / wheel", "move the selection"),
    (
        "← → / Enter (Live)",
        "switch focus between containers and their event stream",
    ),
    ("f / End (Live)", "follow the newest event"),
    ("Enter / t (Batches)", "aim attacks at the selected batch"),
    ("d (Batches)", "open the diff of the selected batch"),
    ("v (Batches, Verify)", "verify the selected container"),
    ("a (Verify)", "verify every container"),
    (
        "Enter (Verify)",
        "open the diff of the selected failed batch",
    ),
    (
        "Enter / Space (Attack)",
        "run the selected attack (asks to confirm: y / n)",
    ),
    ("r (Attack)", "restore: undo the last journaled attack"),
    ("c (Attack)", "aim attacks at the default batch again"),
    ("n (Diff)", "jump to the next changed row"),
    ("Esc (Diff)", "back to Verify"),
    ("r (Ledger)", "refresh the ledger now"),
    ("?", "this help (any key closes it)"),
    (
        "q / Ctrl-C",
        "quit: stop the source, seal and anchor partial batches",
    ),
];

pub fn handle_key(app: &mut App, _k: KeyEvent) -> Vec<Action> {
    app.show_help = false;
    Vec::new()
}

pub fn render(frame: &mut Frame, area: Rect) {
    let w = 100.min(area.width);
    let h = (KEYS.len() as u16 + 4).min(area.height);
    let rect = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    frame.render_widget(Clear, rect);
    let mut lines = vec![Line::from(Span::styled(
        format!("{:<34}{}", "keys", "action"),
        Style::default().add_modifier(Modifier::BOLD),
    ))];
    for (k, v) in KEYS {
        lines.push(Line::from(vec![
            Span::styled(format!("{k:<34}"), Style::default().fg(Color::Cyan)),
            Span::raw(*v),
        ]));
    }
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Help — ConAnchor workstation "),
        ),
        rect,
    );
}
