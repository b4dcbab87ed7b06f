//! Clicks in the workstation: the screen is drawn on ratatui's `TestBackend`, then left
//! clicks land where the tabs, rows and buttons were drawn, as a terminal would report them.

use conanchor::pipeline::TapMsg;
use conanchor::tui::app::{App, Button, Hit, Mode, Tab};
use conanchor::tui::event::{Action, VerifyScope};
use conanchor::tui::ui;
use conanchor_store::Event;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{
    Event as CrosstermEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::Terminal;

fn draw(app: &mut App) {
    let mut t = Terminal::new(TestBackend::new(160, 45)).unwrap();
    t.draw(|f| ui::draw(f, app)).unwrap();
}

/// Clicks the middle of where `want` was drawn; returns the actions and redraws.
fn click(app: &mut App, want: Hit) -> Vec<Action> {
    let (r, _) = *app
        .hits
        .iter()
        .find(|(_, h)| *h == want)
        .unwrap_or_else(|| panic!("{want:?} was not drawn; hits: {:?}", app.hits));
    let ev = CrosstermEvent::Mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: r.x + r.width / 2,
        row: r.y + r.height / 2,
        modifiers: KeyModifiers::NONE,
    });
    let actions = app.handle_crossterm(ev);
    draw(app);
    actions
}

fn app_with_events() -> App {
    let mut app = App::new(Mode::Synthetic, "./data", "mock");
    for cid in ["alpha", "beta"] {
        for seq in 1..=5 {
            app.on_tap(TapMsg::Event(Box::new(Event {
                container_instance_id: cid.into(),
                container_seq: seq,
                event_type: "exec".into(),
                risk: "high".into(),
                ..Event::default()
            })));
        }
    }
    draw(&mut app);
    app
}

#[test]
fn clicks_on_tabs_switch_panels() {
    let mut app = app_with_events();
    for tab in Tab::ALL {
        click(&mut app, Hit::Tab(tab));
        assert_eq!(app.tab, tab);
    }
}

#[test]
fn clicks_on_containers_and_events_select_them() {
    let mut app = app_with_events();
    assert_eq!(app.selected_container(), Some("alpha"));
    let actions = click(&mut app, Hit::Container(1));
    assert_eq!(app.selected_container(), Some("beta"));
    assert_eq!(
        actions,
        vec![Action::RefreshStore],
        "the batches of beta are read"
    );
    // the stream is newest first: row 2 is container_seq 3
    click(&mut app, Hit::Row(Tab::Live, 2));
    assert_eq!(app.live.selected_seq, Some(3));
}

#[test]
fn clicks_on_verify_buttons_start_verification() {
    let mut app = app_with_events();
    click(&mut app, Hit::Tab(Tab::Verify));
    let actions = click(&mut app, Hit::Button(Button::VerifyAll));
    assert_eq!(actions, vec![Action::Verify(VerifyScope::All)]);
    assert!(app.verify.is_running());
}

#[test]
fn attack_buttons_ask_to_confirm_and_cancel_or_run() {
    let mut app = app_with_events();
    click(&mut app, Hit::Tab(Tab::Attack));
    assert!(click(&mut app, Hit::Button(Button::Attack(0))).is_empty());
    assert!(app.attack.confirm.is_some(), "a confirm step first");
    // while confirming, clicks elsewhere do nothing
    assert!(click(&mut app, Hit::Tab(Tab::Live)).is_empty());
    assert_eq!(app.tab, Tab::Attack);
    click(&mut app, Hit::Button(Button::ConfirmNo));
    assert!(app.attack.confirm.is_none());

    click(&mut app, Hit::Button(Button::Attack(0)));
    let actions = click(&mut app, Hit::Button(Button::ConfirmYes));
    assert!(
        matches!(&actions[..], [Action::Attack { container, .. }] if container == "alpha"),
        "{actions:?}"
    );
    let actions = click(&mut app, Hit::Button(Button::Restore));
    assert!(
        actions.is_empty() || actions == vec![Action::Restore],
        "{actions:?}"
    );
}
