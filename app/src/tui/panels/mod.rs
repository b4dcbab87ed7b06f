//! One file per panel, each with `render` (pure: reads the app state, registers click
//! targets) and `handle_key`.

pub mod attack;
pub mod batches;
pub mod diff;
pub mod help;
pub mod ledger;
pub mod live;
pub mod verify;

use ratatui::layout::Constraint;
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Block, Row, Table};

use crate::verify::FailureType;

/// Colour of a risk level.
pub fn risk_style(risk: &str) -> Style {
    match risk {
        "high" => Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        "medium" => Style::default().fg(Color::Yellow),
        "low" => Style::default().fg(Color::Green),
        _ => Style::default(),
    }
}

/// A table's header row.
fn header_style() -> Style {
    Style::default().add_modifier(Modifier::BOLD)
}

pub fn selected_style() -> Style {
    Style::default()
        .bg(Color::DarkGray)
        .add_modifier(Modifier::BOLD)
}

/// A panel's table: `rows` under a bold `header`, inside `block`.
pub fn table<'a>(
    rows: Vec<Row<'a>>,
    widths: impl IntoIterator<Item = Constraint>,
    header: impl IntoIterator<Item = &'a str>,
    block: Block<'a>,
) -> Table<'a> {
    Table::new(rows, widths)
        .header(Row::new(header).style(header_style()))
        .block(block)
}

/// `row`, highlighted when it is the selected one.
pub fn highlight(row: Row<'_>, selected: bool) -> Row<'_> {
    if selected {
        row.style(selected_style())
    } else {
        row
    }
}

pub fn ok_style() -> Style {
    Style::default()
        .fg(Color::Green)
        .add_modifier(Modifier::BOLD)
}

pub fn fail_style() -> Style {
    Style::default()
        .fg(Color::White)
        .bg(Color::Red)
        .add_modifier(Modifier::BOLD)
}

/// `HH:MM:SS.mmm` local time of a nanosecond timestamp.
pub fn clock(ns: u64) -> String {
    if ns == 0 {
        return "-".into();
    }
    let secs = (ns / 1_000_000_000) as i64;
    let nanos = (ns % 1_000_000_000) as u32;
    match chrono::DateTime::from_timestamp(secs, nanos) {
        Some(t) => t
            .with_timezone(&chrono::Local)
            .format("%H:%M:%S%.3f")
            .to_string(),
        None => "-".into(),
    }
}

/// The first `n` characters of a hex string.
pub fn short(hex: &str, n: usize) -> &str {
    let end = hex.char_indices().nth(n).map_or(hex.len(), |(i, _)| i);
    &hex[..end]
}

/// Text sparkline of the last `width` values.
pub fn spark_text(
    values: impl DoubleEndedIterator<Item = u64> + ExactSizeIterator,
    width: usize,
) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let vals: Vec<u64> = values
        .rev()
        .take(width)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let max = vals.iter().copied().max().unwrap_or(0);
    let mut out: String = vals
        .iter()
        .map(|&v| {
            if max == 0 || v == 0 {
                ' '
            } else {
                BARS[((v * 7) / max) as usize]
            }
        })
        .collect();
    while out.chars().count() < width {
        out.insert(0, ' ');
    }
    out
}

/// A short badge for a failure type.
pub fn badge(f: FailureType) -> &'static str {
    f.as_str()
}

/// First row to show so that `selected` is visible in `height` rows.
pub fn scroll_offset(selected: usize, height: usize) -> usize {
    if height == 0 {
        0
    } else {
        selected.saturating_sub(height - 1)
    }
}

/// Truncates to `max` characters with an ellipsis.
pub fn ellipsize(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}
