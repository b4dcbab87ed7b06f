//! The frame: header (mode, ledger, rates, drops, pending anchors), an optional banner,
//! tabs, the current panel, the footer with its keys, toasts and popups.
//!
//! Drawing only reads the app state (no SQLite, hashing or RPC here); it records where
//! tabs, rows and buttons landed so clicks can find them.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::app::{App, Hit, Tab};
use super::panels::{attack, batches, diff, help, ledger, live, verify};
use super::toast;

pub fn draw(frame: &mut Frame, app: &mut App) {
    let mut hits: Vec<(Rect, Hit)> = Vec::new();
    let area = frame.area();
    let banner_h = u16::from(app.banner.is_some());
    let [header, banner, tabs, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(banner_h),
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    render_header(app, frame, header);
    if let Some(b) = &app.banner {
        frame.render_widget(
            Paragraph::new(format!(" ⚠ {b}"))
                .style(Style::default().fg(Color::Black).bg(Color::Yellow)),
            banner,
        );
    }
    render_tabs(app, frame, tabs, &mut hits);
    match app.tab {
        Tab::Live => live::render(app, frame, body, &mut hits),
        Tab::Batches => batches::render(app, frame, body, &mut hits),
        Tab::Verify => verify::render(app, frame, body, &mut hits),
        Tab::Attack => attack::render(app, frame, body, &mut hits),
        Tab::Ledger => ledger::render(app, frame, body, &mut hits),
        Tab::Diff => diff::render(app, frame, body, &mut hits),
    }
    render_footer(app, frame, footer);
    toast::render(&app.toasts, frame, body);
    attack::render_confirm(app, frame, area, &mut hits);
    if app.show_help {
        help::render(frame, area);
    }
    if let Some(msg) = &app.closing {
        let w = (msg.chars().count() as u16 + 4).min(area.width);
        let rect = Rect::new(
            area.x + (area.width - w) / 2,
            area.y + area.height / 2,
            w,
            1,
        );
        frame.render_widget(
            Paragraph::new(format!("  {msg}  "))
                .style(Style::default().fg(Color::Black).bg(Color::Cyan)),
            rect,
        );
    }
    app.hits = hits;
}

fn render_header(app: &App, frame: &mut Frame, area: Rect) {
    let dim = Style::default().fg(Color::DarkGray);
    let ledger = match &app.ledger {
        None => Span::raw(format!("{} …", app.ledger_backend)),
        Some(Err(_)) => Span::styled(
            format!("{} UNREACHABLE", app.ledger_backend),
            Style::default().fg(Color::Red),
        ),
        Some(Ok(s)) if !s.chain_problems.is_empty() => Span::styled(
            format!("{} INVALID head {}", s.status.backend, s.status.head_height),
            Style::default().fg(Color::Red),
        ),
        Some(Ok(s)) => Span::styled(
            format!("{} ok head {}", s.status.backend, s.status.head_height),
            Style::default().fg(Color::Green),
        ),
    };
    let t = &app.totals;
    let mut spans = vec![
        Span::styled(
            " ConAnchor ",
            Style::default()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD),
        ),
        Span::styled("  mode ", dim),
        Span::styled(
            app.mode.label(),
            Style::default().add_modifier(Modifier::BOLD),
        ),
        Span::styled("  ledger ", dim),
        ledger,
        Span::styled("  events/s ", dim),
        Span::raw(t.events_per_sec.to_string()),
        Span::styled("  events ", dim),
        Span::raw(t.events.to_string()),
        Span::styled("  drops ", dim),
        Span::styled(
            t.drops.to_string(),
            if t.drops > 0 {
                Style::default().fg(Color::Red)
            } else {
                Style::default()
            },
        ),
        Span::styled("  pending anchors ", dim),
        Span::styled(
            t.pending_anchors.to_string(),
            if t.pending_anchors > 0 {
                Style::default().fg(Color::Yellow)
            } else {
                Style::default()
            },
        ),
    ];
    if let Some(e) = &t.pipeline_error {
        spans.push(Span::styled(
            format!("  store error: {e}"),
            Style::default().fg(Color::Red),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn render_tabs(app: &App, frame: &mut Frame, area: Rect, hits: &mut Vec<(Rect, Hit)>) {
    let mut x = area.x;
    let mut spans = Vec::new();
    for (i, t) in Tab::ALL.iter().enumerate() {
        let label = format!(" {} {} ", i + 1, t.title());
        let w = label.chars().count() as u16;
        hits.push((Rect::new(x, area.y, w, 1), Hit::Tab(*t)));
        let style = if *t == app.tab {
            Style::default()
                .fg(Color::Black)
                .bg(Color::White)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default().fg(Color::Gray)
        };
        spans.push(Span::styled(label, style));
        spans.push(Span::raw(" "));
        x += w + 1;
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn footer_keys(app: &App) -> &'static str {
    if app.attack.confirm.is_some() {
        return "y/Enter confirm  n/Esc cancel";
    }
    match app.tab {
        Tab::Live => "↑↓ select  ←→ focus  f follow",
        Tab::Batches => "↑↓ select  Enter aim attacks here  d diff  v verify",
        Tab::Verify => "v verify selected  a verify all  ↑↓ select  Enter diff",
        Tab::Attack => "↑↓ select  Enter run (confirm)  r restore  c default batch",
        Tab::Ledger => "r refresh",
        Tab::Diff => "↑↓ rows  n next change  Esc back",
    }
}

fn render_footer(app: &App, frame: &mut Frame, area: Rect) {
    let line = Line::from(vec![
        Span::styled(
            format!(" {} ", footer_keys(app)),
            Style::default().fg(Color::Cyan),
        ),
        Span::styled(
            " │ 1-6/Tab panels  ? help  q quit ",
            Style::default().fg(Color::DarkGray),
        ),
        Span::styled(
            format!(" │ {}", app.data_dir),
            Style::default().fg(Color::DarkGray),
        ),
    ]);
    frame.render_widget(Paragraph::new(line), area);
}
