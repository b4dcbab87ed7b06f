//! Toast notifications: short messages with a time to live, drawn over the top right.

use std::time::{Duration, Instant};

use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

const TTL: Duration = Duration::from_secs(8);
const MAX_SHOWN: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Success,
    Error,
}

#[derive(Debug, Clone)]
pub struct Toast {
    pub level: Level,
    pub title: String,
    pub message: String,
    expires: Instant,
}

#[derive(Debug, Clone, Default)]
pub struct Toasts {
    list: Vec<Toast>,
}

impl Toasts {
    pub fn push(&mut self, level: Level, title: impl Into<String>, message: impl Into<String>) {
        self.list.push(Toast {
            level,
            title: title.into(),
            message: crate::tui::panels::ellipsize(&message.into(), 200),
            expires: Instant::now() + TTL,
        });
        if self.list.len() > MAX_SHOWN {
            self.list.remove(0);
        }
    }

    pub fn expire(&mut self, now: Instant) {
        self.list.retain(|t| t.expires > now);
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Toast> {
        self.list.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// Draws the toasts stacked from the top right of `area`.
pub fn render(toasts: &Toasts, frame: &mut Frame, area: Rect) {
    let width = 56.min(area.width);
    let mut y = area.y + 1;
    for t in toasts.iter().rev() {
        // Word wrapping leaves ragged lines: leave room for them.
        let inner = width.saturating_sub(12).max(1) as usize;
        let lines = (t.message.chars().count().div_ceil(inner) as u16).clamp(1, 4);
        let height = (lines + 2).min(area.height);
        if y + height > area.y + area.height {
            break;
        }
        let rect = Rect::new(area.x + area.width - width, y, width, height);
        let color = match t.level {
            Level::Info => Color::Cyan,
            Level::Success => Color::Green,
            Level::Error => Color::Red,
        };
        frame.render_widget(Clear, rect);
        let body = Paragraph::new(vec![Line::from(t.message.as_str())])
            .wrap(Wrap { trim: true })
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .border_style(Style::default().fg(color))
                    .title(t.title.as_str()),
            );
        frame.render_widget(body, rect);
        y += height;
    }
}
