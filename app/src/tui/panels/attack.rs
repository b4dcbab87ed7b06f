//! Attack: one button per attack type on the selected container (and batch), behind a
//! confirm popup; a Restore button. Outcomes come back as toasts and re-run Verify.

use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use crate::attack::{AttackOutcome, AttackType};
use crate::tui::app::{App, Button, Hit};
use crate::tui::event::Action;
use crate::tui::toast::Level;

/// Index of the Restore button after the attack buttons.
const RESTORE: usize = AttackType::ALL.len();

#[derive(Debug, Clone, Default)]
pub struct State {
    pub selected: usize,
    /// The attack waiting for confirmation.
    pub confirm: Option<AttackType>,
    pub busy: bool,
    /// Batch picked in the Batches panel; `None` = the attack's default.
    pub batch: Option<u64>,
    pub last: Option<AttackOutcome>,
}

fn describe(kind: AttackType) -> &'static str {
    match kind {
        AttackType::ModifyLog => "change one field of one stored event",
        AttackType::DeleteLog => "remove one stored event",
        AttackType::InsertLog => "add a forged event inside a sealed batch",
        AttackType::ReorderLog => "swap two stored events",
        AttackType::RollbackContainer => "remove the last sealed batch and its events",
        AttackType::ForgeBatch => "modify an event and recompute leaves, root and batch hash",
        AttackType::TamperLedger => "edit an anchor in the mock chain",
    }
}

/// Presses a button (click or key).
pub fn press(app: &mut App, b: Button) -> Vec<Action> {
    match b {
        Button::VerifySelected => super::verify::verify_selected(app),
        Button::VerifyAll => super::verify::verify_all(app),
        Button::Attack(i) => {
            app.attack.selected = i;
            ask(app)
        }
        Button::Restore => {
            app.attack.selected = RESTORE;
            restore(app)
        }
        Button::ConfirmYes => confirm(app),
        Button::ConfirmNo => {
            app.attack.confirm = None;
            Vec::new()
        }
    }
}

fn ask(app: &mut App) -> Vec<Action> {
    let Some(kind) = AttackType::ALL.get(app.attack.selected).copied() else {
        return restore(app);
    };
    if app.attack.busy {
        return Vec::new();
    }
    if app.selected_container().is_none() {
        app.toasts
            .push(Level::Error, "attack", "no container selected yet");
        return Vec::new();
    }
    if kind == AttackType::TamperLedger && app.ledger_backend != "mock" {
        app.toasts.push(
            Level::Error,
            "attack",
            "tamper-ledger edits the mock chain; this session anchors on an EVM ledger",
        );
        return Vec::new();
    }
    app.attack.confirm = Some(kind);
    Vec::new()
}

fn confirm(app: &mut App) -> Vec<Action> {
    let (Some(kind), Some(container)) = (
        app.attack.confirm.take(),
        app.selected_container().map(str::to_string),
    ) else {
        return Vec::new();
    };
    app.attack.busy = true;
    vec![Action::Attack {
        kind,
        container,
        batch_id: app.attack.batch,
    }]
}

fn restore(app: &mut App) -> Vec<Action> {
    if app.attack.busy {
        return Vec::new();
    }
    app.attack.busy = true;
    vec![Action::Restore]
}

pub fn handle_confirm_key(app: &mut App, k: KeyEvent) -> Vec<Action> {
    match k.code {
        KeyCode::Char('y') | KeyCode::Enter => confirm(app),
        KeyCode::Char('n') | KeyCode::Esc => {
            app.attack.confirm = None;
            Vec::new()
        }
        _ => Vec::new(),
    }
}

pub fn handle_key(app: &mut App, k: KeyEvent) -> Vec<Action> {
    match k.code {
        KeyCode::Up | KeyCode::Char('k') => {
            app.attack.selected = app.attack.selected.saturating_sub(1)
        }
        KeyCode::Down | KeyCode::Char('j') => {
            app.attack.selected = (app.attack.selected + 1).min(RESTORE)
        }
        KeyCode::Enter | KeyCode::Char(' ') => return ask(app),
        KeyCode::Char('r') => return restore(app),
        KeyCode::Char('c') => app.attack.batch = None,
        _ => {}
    }
    Vec::new()
}

pub fn render(app: &App, frame: &mut Frame, area: Rect, hits: &mut Vec<(Rect, Hit)>) {
    let [left, right] =
        Layout::horizontal([Constraint::Length(72), Constraint::Min(30)]).areas(area);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" Attacks (journaled, restorable) ");
    let inner = block.inner(left);
    frame.render_widget(block, left);
    for (i, kind) in AttackType::ALL.iter().enumerate() {
        let y = inner.y + 1 + 2 * i as u16;
        if y >= inner.y + inner.height {
            break;
        }
        let rect = Rect::new(inner.x + 1, y, 22, 1);
        hits.push((rect, Hit::Button(Button::Attack(i))));
        let style = if i == app.attack.selected {
            Style::default()
                .fg(Color::Black)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD)
        };
        frame.render_widget(
            Paragraph::new(format!("[ {:<18} ]", kind.as_str())).style(style),
            rect,
        );
        let desc = Rect::new(rect.x + 24, y, inner.width.saturating_sub(25), 1);
        frame.render_widget(
            Paragraph::new(describe(*kind)).style(Style::default().fg(Color::DarkGray)),
            desc,
        );
    }
    let y = inner.y + 2 + 2 * RESTORE as u16;
    if y < inner.y + inner.height {
        let rect = Rect::new(inner.x + 1, y, 22, 1);
        hits.push((rect, Hit::Button(Button::Restore)));
        let style = if app.attack.selected == RESTORE {
            Style::default()
                .fg(Color::Black)
                .bg(Color::Green)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default()
                .fg(Color::Green)
                .add_modifier(Modifier::BOLD)
        };
        frame.render_widget(Paragraph::new(format!("[ {:<18} ]", "Restore")), rect);
        frame.buffer_mut().set_style(rect, style);
        let desc = Rect::new(rect.x + 24, y, inner.width.saturating_sub(25), 1);
        frame.render_widget(
            Paragraph::new("undo the last journaled attack (r)")
                .style(Style::default().fg(Color::DarkGray)),
            desc,
        );
    }
    render_target(app, frame, right);
}

fn render_target(app: &App, frame: &mut Frame, area: Rect) {
    let target = app.selected_container().unwrap_or("(none yet)");
    let batch = match app.attack.batch {
        Some(b) => format!("batch {b} (picked in Batches; c clears)"),
        None => "default: the first sealed batch (the last for rollback), its first event".into(),
    };
    let mut lines = vec![
        Line::from(vec![
            Span::styled("container  ", Style::default().fg(Color::DarkGray)),
            Span::raw(target.to_string()),
        ]),
        Line::from(vec![
            Span::styled("batch      ", Style::default().fg(Color::DarkGray)),
            Span::raw(batch),
        ]),
        Line::from(vec![
            Span::styled("evidence   ", Style::default().fg(Color::DarkGray)),
            Span::raw(format!("{}/conanchor.db", app.data_dir)),
        ]),
        Line::from(""),
    ];
    if let Some(kind) = AttackType::ALL.get(app.attack.selected) {
        lines.push(Line::from(Span::styled(
            format!("{kind}: verify should report"),
            Style::default().add_modifier(Modifier::BOLD),
        )));
        lines.push(Line::from(kind.expected_findings()));
        lines.push(Line::from(""));
    }
    if app.attack.busy {
        lines.push(Line::from(Span::styled(
            "working …",
            Style::default().fg(Color::Yellow),
        )));
    }
    if let Some(o) = &app.attack.last {
        lines.push(Line::from(Span::styled(
            format!(
                "last attack: {} on batch {} (journal #{})",
                o.kind, o.batch_id, o.journal_id
            ),
            Style::default().fg(Color::Red),
        )));
        lines.push(Line::from(o.description.clone()));
        for d in o.details.iter().take(4) {
            lines.push(Line::from(Span::styled(
                d.clone(),
                Style::default().fg(Color::DarkGray),
            )));
        }
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::ALL).title(" Target ")),
        area,
    );
}

/// The confirm popup over the whole screen.
pub fn render_confirm(app: &App, frame: &mut Frame, area: Rect, hits: &mut Vec<(Rect, Hit)>) {
    let Some(kind) = app.attack.confirm else {
        return;
    };
    let w = 70.min(area.width);
    let h = 9.min(area.height);
    let rect = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    frame.render_widget(Clear, rect);
    let target = app.selected_container().unwrap_or("-");
    let batch = app
        .attack
        .batch
        .map_or("default batch".to_string(), |b| format!("batch {b}"));
    let body = vec![
        Line::from(Span::styled(
            format!("Run {kind} on {target} ({batch})?"),
            Style::default().add_modifier(Modifier::BOLD),
        )),
        Line::from(describe(kind)),
        Line::from("The change is journaled; Restore undoes it. Verify re-runs afterwards."),
    ];
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(Style::default().fg(Color::Red))
        .title(" Confirm attack ");
    let inner = block.inner(rect);
    frame.render_widget(
        Paragraph::new(body).wrap(Wrap { trim: false }).block(block),
        rect,
    );
    let y = inner.y + inner.height.saturating_sub(1);
    let yes = Rect::new(inner.x + 2, y, 16, 1);
    let no = Rect::new(inner.x + 22, y, 16, 1);
    hits.push((yes, Hit::Button(Button::ConfirmYes)));
    hits.push((no, Hit::Button(Button::ConfirmNo)));
    frame.render_widget(
        Paragraph::new("[ y: confirm ]").style(Style::default().fg(Color::Black).bg(Color::Red)),
        yes,
    );
    frame.render_widget(
        Paragraph::new("[ n: cancel ]").style(Style::default().fg(Color::Black).bg(Color::Gray)),
        no,
    );
}
