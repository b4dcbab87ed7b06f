//! The workstation end to end in a real terminal: `conanchor-tui --source synthetic` in a
//! detached 160×45 tmux pane, driven with send-keys and read with capture-pane. Skips with
//! a visible reason when tmux is missing, unless CONANCHOR_REQUIRE_TMUX=1.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::BIN;

/// A tmux server of its own: the socket lives in the test's temporary directory, so tests
/// never collide and nothing is left behind.
struct Tmux {
    socket: std::path::PathBuf,
}

impl Tmux {
    fn cmd(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", "w"]).stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "w"];
        args.extend_from_slice(keys);
        assert!(self.cmd(&args).status.success(), "send-keys {keys:?}");
    }

    /// Polls the pane until `pred` holds; panics with the last screen after `timeout`.
    fn wait_for(&self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            if start.elapsed() > timeout {
                panic!("timed out after {timeout:?} waiting for {what}; the screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

/// Starts the workstation with `flags` in a detached 160×45 session `w`; its exit code
/// goes to `rc`.
fn start(t: &Tmux, flags: &str, data: &Path, rc: &Path) {
    let script = format!(
        "'{BIN}' {flags} --data-dir '{}'; echo $? > '{}'",
        data.display(),
        rc.display()
    );
    let started = t.cmd(&[
        "new-session",
        "-d",
        "-s",
        "w",
        "-x",
        "160",
        "-y",
        "45",
        "sh",
        "-c",
        &script,
    ]);
    assert!(started.status.success(), "tmux new-session: {started:?}");
}

fn skip_without_tmux() -> bool {
    if tmux_available() {
        return false;
    }
    if std::env::var("CONANCHOR_REQUIRE_TMUX").as_deref() == Ok("1") {
        panic!("tmux not found and CONANCHOR_REQUIRE_TMUX=1");
    }
    eprintln!("SKIP: tmux not found");
    true
}

fn tmux_available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn read_rc(path: &Path, timeout: Duration) -> Option<String> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if let Ok(s) = std::fs::read_to_string(path) {
            if !s.trim().is_empty() {
                return Some(s.trim().to_string());
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    None
}

#[test]
fn attack_verify_diff_restore_and_quit_in_tmux() {
    if skip_without_tmux() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let rc = tmp.path().join("exit-code");
    let t = Tmux {
        socket: tmp.path().join("tmux.sock"),
    };
    start(&t, "--source synthetic", &data, &rc);
    let long = Duration::from_secs(60);

    t.wait_for("events of 3 containers", long, |s| {
        s.contains("Containers (3)") && s.contains("following")
    });
    t.keys(&["2"]);
    t.wait_for("an anchored batch", long, |s| s.contains("anchored"));

    t.keys(&["4"]);
    t.wait_for("the Attack panel", long, |s| s.contains("[ modify-log"));
    t.keys(&["Enter"]);
    t.wait_for("the confirm popup", long, |s| s.contains("Confirm attack"));
    t.keys(&["y"]);
    let failed = t.wait_for("Verify to show FAILED", long, |s| {
        s.contains("FAILED") && s.contains("MERKLE_ROOT_MISMATCH")
    });
    assert!(failed.contains("[MERKLE_ROOT_MISMATCH]"), "{failed}");
    t.wait_for("the diff preview", long, |s| s.contains("diff: seq"));

    t.keys(&["Enter"]);
    let diff = t.wait_for("the diff view", long, |s| {
        s.contains("DIFFERS") && s.contains("MODIFIED")
    });
    assert!(diff.contains("authentic"), "{diff}");
    assert!(diff.contains("[tampe"), "the modified field: {diff}");

    t.keys(&["4"]);
    t.wait_for("the Attack panel", long, |s| s.contains("[ Restore"));
    t.keys(&["r"]);
    t.wait_for("Verify to show OK after restore", long, |s| {
        s.contains(" OK  ") && !s.contains("FAILED")
    });

    t.keys(&["q"]);
    let code = read_rc(&rc, Duration::from_secs(90));
    assert_eq!(
        code.as_deref(),
        Some("0"),
        "exit code; the screen:\n{}",
        t.screen()
    );

    let v = common::run(&["verify", "--data-dir", data.to_str().unwrap()]);
    assert_eq!(
        v.code, 0,
        "the store verifies after quitting:\n{}{}",
        v.stdout, v.stderr
    );
    assert!(
        !v.stdout.contains("unsealed"),
        "partial batches were flushed:\n{}",
        v.stdout
    );
    let log = std::fs::read_to_string(data.join("conanchor-tui.log")).unwrap();
    assert!(log.contains("workstation stopped"), "{log}");
}

#[test]
fn replay_source_in_tmux() {
    use conanchor::sources::synthetic::{synthetic_event, Rng, SyntheticContainer};
    if skip_without_tmux() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let rc = tmp.path().join("exit-code");
    let file = tmp.path().join("events.jsonl");
    let c = &SyntheticContainer::kubernetes_like(1, 9)[0];
    let mut rng = Rng(1);
    let lines: Vec<String> = (0..40)
        .map(|i| {
            serde_json::to_string(&synthetic_event(&mut rng, c, 1_700_000_000_000_000_000 + i))
                .unwrap()
        })
        .collect();
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let t = Tmux {
        socket: tmp.path().join("tmux.sock"),
    };
    start(
        &t,
        &format!("--source replay '{}' --rate 0", file.display()),
        &data,
        &rc,
    );
    let long = Duration::from_secs(60);
    let s = t.wait_for("the replayed events", long, |s| {
        s.contains("Containers (1)") && s.contains("last 40 of 40")
    });
    assert!(s.contains("mode replay"), "{s}");
    t.keys(&["q"]);
    let code = read_rc(&rc, Duration::from_secs(90));
    assert_eq!(
        code.as_deref(),
        Some("0"),
        "exit code; the screen:\n{}",
        t.screen()
    );
    let v = common::run(&["verify", "--data-dir", data.to_str().unwrap()]);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    assert!(
        v.stdout.contains("40"),
        "all 40 events verified:\n{}",
        v.stdout
    );
}
