//! Policy classification of probe events.
//!
//! | policy | risk | matches |
//! |---|---|---|
//! | `wget-exec` | `high` | exec whose file name (last path component) or comm is `wget`: a download tool run inside a container |
//! | `service-account-secret-read` | `high` | file_open of a path under `/var/run/secrets/` or `/run/secrets/` (Kubernetes service-account tokens and mounted secrets) |
//! | `suspicious-mount` | `high` | mount of `proc`, `sysfs`, `cgroup` or `cgroup2`, or with a target (or bind source) at or under `/proc`, `/sys` or `/host`: host kernel state exposed to a container, the usual escape path |
//! | `suspicious-mount` | `medium` | any other mount the probe reports: `overlay`, or a target/source at or under `/mnt` or `/var/run` |
//! | `unmatched` | `low` | an event none of the above describes (the kernel filter should not let one through; kept so replayed or foreign events still classify) |

use crate::events::{EventKind, RawEvent};

/// Risk of a download tool or secret access.
pub const RISK_HIGH: &str = "high";
/// Risk of a mount that is suspicious but not a direct host exposure.
pub const RISK_MEDIUM: &str = "medium";
/// Risk of anything else.
pub const RISK_LOW: &str = "low";

/// `wget` was executed.
pub const POLICY_WGET_EXEC: &str = "wget-exec";
/// A secret under `/var/run/secrets/` or `/run/secrets/` was opened.
pub const POLICY_SECRET_READ: &str = "service-account-secret-read";
/// A suspicious file system or mount point was mounted.
pub const POLICY_SUSPICIOUS_MOUNT: &str = "suspicious-mount";
/// Nothing matched.
pub const POLICY_UNMATCHED: &str = "unmatched";

const SECRET_DIRS: [&str; 2] = ["/var/run/secrets/", "/run/secrets/"];
const HOST_STATE_FSTYPES: [&str; 4] = ["proc", "sysfs", "cgroup", "cgroup2"];
const OTHER_FSTYPES: [&str; 1] = ["overlay"];
const HOST_STATE_DIRS: [&str; 3] = ["/proc", "/sys", "/host"];
const OTHER_DIRS: [&str; 2] = ["/mnt", "/var/run"];

/// Maps an event to `(risk, policy)`; see the module documentation for the table.
pub fn classify(ev: &RawEvent) -> (&'static str, &'static str) {
    match ev.kind {
        EventKind::Exec => {
            let name = ev.path.rsplit('/').next().unwrap_or("");
            if name == "wget" || ev.comm == "wget" {
                return (RISK_HIGH, POLICY_WGET_EXEC);
            }
        }
        EventKind::FileOpen => {
            if SECRET_DIRS.iter().any(|d| ev.path.starts_with(d)) {
                return (RISK_HIGH, POLICY_SECRET_READ);
            }
        }
        EventKind::Mount => {
            let fstype = extra_field(&ev.extra, "fstype").unwrap_or("");
            let source = extra_field(&ev.extra, "source").unwrap_or("");
            let under = |dirs: &[&str]| {
                dirs.iter()
                    .any(|d| is_at_or_under(&ev.path, d) || is_at_or_under(source, d))
            };
            if HOST_STATE_FSTYPES.contains(&fstype) || under(&HOST_STATE_DIRS) {
                return (RISK_HIGH, POLICY_SUSPICIOUS_MOUNT);
            }
            if OTHER_FSTYPES.contains(&fstype) || under(&OTHER_DIRS) {
                return (RISK_MEDIUM, POLICY_SUSPICIOUS_MOUNT);
            }
        }
    }
    (RISK_LOW, POLICY_UNMATCHED)
}

/// `path` is `dir` or lies under it (`/proc` matches `/proc` and `/proc/1`, not `/process`).
fn is_at_or_under(path: &str, dir: &str) -> bool {
    path.strip_prefix(dir)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The value of `key=` in a mount event's `extra` (`fstype=<t> source=<s> via=<v>`).
fn extra_field<'a>(extra: &'a str, key: &str) -> Option<&'a str> {
    extra
        .split(' ')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: EventKind, comm: &str, path: &str, extra: &str) -> RawEvent {
        RawEvent {
            timestamp_ns: 1,
            kind,
            pid: 1,
            tgid: 1,
            uid: 0,
            gid: 0,
            comm: comm.into(),
            path: path.into(),
            extra: extra.into(),
            flags: 0,
            retval: 0,
            cgroup_id: 7,
            hook: "test",
        }
    }

    fn mount(target: &str, fstype: &str, source: &str) -> (&'static str, &'static str) {
        classify(&event(
            EventKind::Mount,
            "mount",
            target,
            &format!("fstype={fstype} source={source} via=mount"),
        ))
    }

    #[test]
    fn wget_exec_is_high() {
        let high = (RISK_HIGH, POLICY_WGET_EXEC);
        assert_eq!(
            classify(&event(EventKind::Exec, "wget", "/usr/bin/wget", "")),
            high
        );
        assert_eq!(
            classify(&event(EventKind::Exec, "sh", "/tmp/x/wget", "")),
            high
        );
        assert_eq!(
            classify(&event(EventKind::Exec, "wget", "/bin/busybox", "")),
            high
        );
        assert_eq!(
            classify(&event(EventKind::Exec, "wget2", "/usr/bin/wget2", "")),
            (RISK_LOW, POLICY_UNMATCHED)
        );
        assert_eq!(
            classify(&event(EventKind::Exec, "curl", "/usr/bin/curl", "")),
            (RISK_LOW, POLICY_UNMATCHED)
        );
    }

    #[test]
    fn secret_reads_are_high() {
        let high = (RISK_HIGH, POLICY_SECRET_READ);
        for p in [
            "/var/run/secrets/kubernetes.io/serviceaccount/token",
            "/run/secrets/kubernetes.io/serviceaccount/ca.crt",
            "/run/secrets/db-password",
        ] {
            assert_eq!(
                classify(&event(EventKind::FileOpen, "cat", p, "")),
                high,
                "{p}"
            );
        }
        for p in [
            "/var/run/secretsx/token",
            "/etc/secrets/token",
            "/run/secrets",
            "",
        ] {
            assert_eq!(
                classify(&event(EventKind::FileOpen, "cat", p, "")),
                (RISK_LOW, POLICY_UNMATCHED),
                "{p}"
            );
        }
    }

    #[test]
    fn host_state_mounts_are_high_others_medium() {
        let high = (RISK_HIGH, POLICY_SUSPICIOUS_MOUNT);
        let medium = (RISK_MEDIUM, POLICY_SUSPICIOUS_MOUNT);
        assert_eq!(mount("/tmp/x", "proc", "proc"), high);
        assert_eq!(mount("/tmp/x", "cgroup2", "none"), high);
        assert_eq!(mount("/host", "ext4", "/dev/sda1"), high);
        assert_eq!(mount("/sys/fs/x", "tmpfs", "tmpfs"), high);
        assert_eq!(mount("/tmp/x", "", "/proc"), high, "bind of /proc");
        assert_eq!(mount("/merged", "overlay", "overlay"), medium);
        assert_eq!(mount("/mnt/data", "ext4", "/dev/sdb"), medium);
        assert_eq!(mount("/var/run/x", "tmpfs", "tmpfs"), medium);
        assert_eq!(
            mount("/process", "tmpfs", "tmpfs"),
            (RISK_LOW, POLICY_UNMATCHED)
        );
        assert_eq!(
            mount("/data", "ext4", "/dev/sdb"),
            (RISK_LOW, POLICY_UNMATCHED)
        );
        assert_eq!(
            classify(&event(EventKind::Mount, "m", "/data", "")),
            (RISK_LOW, POLICY_UNMATCHED),
            "no extra at all"
        );
    }
}
