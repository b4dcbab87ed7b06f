//! What the Live panel shows per container: a bounded window of recent events (the rest is
//! in SQLite), counters and a per-second rate history. Fed by the pipeline's tap.

use std::collections::VecDeque;

use conanchor_store::{BatchHeader, Event};

use super::event::{BatchRow, ContainerTotals};

/// Recent events kept per container.
pub const EVENT_WINDOW: usize = 256;
/// Seconds of rate history per container (the sparkline).
pub const RATE_HISTORY: usize = 60;
/// Batches kept for the Batches panel.
pub const BATCH_WINDOW: usize = 200;

#[derive(Debug, Clone, Default)]
pub struct ContainerView {
    pub id: String,
    pub recent: VecDeque<Event>,
    /// Events of this container stored so far (its latest container_seq, or the store's count).
    pub events: u64,
    /// High-risk events seen by this session (through the tap).
    pub high_risk: u64,
    /// Drops in batches sealed this session plus the open batch's (from the store).
    pub drops_sealed: u64,
    pub drops_open: u64,
    pub last_seen_ns: u64,
    /// Events per second, oldest first.
    pub rate: VecDeque<u64>,
    pub this_second: u64,
}

impl ContainerView {
    fn new(id: &str) -> ContainerView {
        ContainerView {
            id: id.to_string(),
            ..ContainerView::default()
        }
    }

    pub fn drops(&self) -> u64 {
        self.drops_sealed + self.drops_open
    }

    pub fn last_rate(&self) -> u64 {
        self.rate.back().copied().unwrap_or(0)
    }

    fn push(&mut self, ev: Event) {
        self.events = self.events.max(ev.container_seq);
        if ev.risk == "high" {
            self.high_risk += 1;
        }
        self.last_seen_ns = self.last_seen_ns.max(ev.timestamp_ns);
        self.this_second += 1;
        if self.recent.len() == EVENT_WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back(ev);
    }
}

/// Every container seen, sorted by id.
#[derive(Debug, Clone, Default)]
pub struct Containers {
    pub list: Vec<ContainerView>,
}

impl Containers {
    pub fn get(&self, i: usize) -> Option<&ContainerView> {
        self.list.get(i)
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn position(&self, id: &str) -> Option<usize> {
        self.list.binary_search_by(|c| c.id.as_str().cmp(id)).ok()
    }

    /// The view of `id`, created when new; returns its index and whether it was inserted.
    fn entry(&mut self, id: &str) -> (usize, bool) {
        match self.list.binary_search_by(|c| c.id.as_str().cmp(id)) {
            Ok(i) => (i, false),
            Err(i) => {
                self.list.insert(i, ContainerView::new(id));
                (i, true)
            }
        }
    }

    /// Adds an appended event; returns the index of a newly seen container.
    pub fn push_event(&mut self, ev: Event) -> Option<usize> {
        let (i, new) = self.entry(&ev.container_instance_id);
        self.list[i].push(ev);
        new.then_some(i)
    }

    pub fn note_sealed(&mut self, h: &BatchHeader) -> Option<usize> {
        let (i, new) = self.entry(&h.container_instance_id);
        self.list[i].drops_sealed += h.dropped_event_count;
        new.then_some(i)
    }

    /// Exact totals from the store; returns indexes of containers first seen here.
    pub fn apply_totals(&mut self, totals: &[ContainerTotals]) -> Vec<usize> {
        let mut added = Vec::new();
        for t in totals {
            let (i, new) = self.entry(&t.container_instance_id);
            let c = &mut self.list[i];
            c.events = c.events.max(t.events);
            c.drops_open = t.open_dropped;
            c.last_seen_ns = c.last_seen_ns.max(t.last_seen_ns);
            if new {
                added.push(i);
            }
        }
        added
    }

    /// Closes the current second of every container's rate history.
    pub fn roll_second(&mut self) {
        for c in &mut self.list {
            if c.rate.len() == RATE_HISTORY {
                c.rate.pop_front();
            }
            c.rate.push_back(std::mem::take(&mut c.this_second));
        }
    }
}

/// A sealed batch as a pending Batches row (the store refresh fills in the anchor).
pub fn pending_row(h: &BatchHeader) -> BatchRow {
    BatchRow {
        batch_id: h.container_batch_id,
        first_seq: h.first_container_seq,
        last_seq: h.last_container_seq,
        event_count: h.event_count,
        dropped: h.dropped_event_count,
        merkle_root: h.merkle_root.to_hex(),
        end_time_ns: h.end_time_ns,
        anchored: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(cid: &str, seq: u64, risk: &str) -> Event {
        Event {
            container_seq: seq,
            container_instance_id: cid.into(),
            risk: risk.into(),
            ..Event::default()
        }
    }

    #[test]
    fn empty_containers_are_empty() {
        let c = Containers::default();
        assert!(c.is_empty());
        assert!(c.get(0).is_none());
    }

    #[test]
    fn window_is_bounded_and_counts_are_kept() {
        let mut c = Containers::default();
        for s in 1..=(EVENT_WINDOW as u64 * 3) {
            c.push_event(ev("b", s, if s % 2 == 0 { "high" } else { "low" }));
        }
        assert_eq!(c.push_event(ev("a", 1, "low")), Some(0));
        let b = &c.list[1];
        assert_eq!(b.recent.len(), EVENT_WINDOW);
        assert_eq!(b.events, EVENT_WINDOW as u64 * 3);
        assert_eq!(b.high_risk, EVENT_WINDOW as u64 * 3 / 2);
        assert_eq!(c.position("b"), Some(1));
    }

    #[test]
    fn rate_history_is_bounded() {
        let mut c = Containers::default();
        c.push_event(ev("a", 1, "low"));
        for _ in 0..RATE_HISTORY + 5 {
            c.roll_second();
        }
        assert_eq!(c.list[0].rate.len(), RATE_HISTORY);
        assert_eq!(c.list[0].last_rate(), 0);
    }
}
