//! Falco alerts (`json_output: true`, as written to a file, stdout, `http_output` or
//! falcosidekick's webhook) → events. The mapping is documented in `docs/FORMAT.md`.

use std::borrow::Cow;

use conanchor_store::Event;
use serde::Deserialize;

use crate::sources::mapping::{base_event, rfc3339_ns, sanitize_container_id, Scalar};

#[derive(Deserialize)]
struct Alert<'a> {
    #[serde(borrow)]
    rule: Option<Cow<'a, str>>,
    #[serde(borrow)]
    priority: Option<Cow<'a, str>>,
    #[serde(borrow)]
    time: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    output_fields: Option<Fields<'a>>,
}

/// The `output_fields` ConAnchor maps; the rest stays in `extra` (the verbatim record).
/// Values are borrowed from the line (no allocation unless a string has escapes).
#[derive(Deserialize, Default)]
#[serde(default)]
struct Fields<'a> {
    #[serde(borrow, rename = "container.id")]
    container_id: Scalar<'a>,
    #[serde(borrow, rename = "proc.pid")]
    pid: Scalar<'a>,
    #[serde(borrow, rename = "thread.tid")]
    tid: Scalar<'a>,
    #[serde(borrow, rename = "proc.name")]
    proc_name: Scalar<'a>,
    #[serde(borrow, rename = "proc.exepath")]
    exepath: Scalar<'a>,
    #[serde(borrow, rename = "user.uid")]
    uid: Scalar<'a>,
    #[serde(borrow, rename = "group.gid")]
    gid: Scalar<'a>,
    #[serde(borrow, rename = "fd.name")]
    fd_name: Scalar<'a>,
    #[serde(borrow, rename = "evt.type")]
    evt_type: Scalar<'a>,
    #[serde(borrow, rename = "evt.time")]
    evt_time: Scalar<'a>,
    #[serde(borrow, rename = "evt.rawres")]
    rawres: Scalar<'a>,
    #[serde(borrow, rename = "evt.arg.dir")]
    mount_dir: Scalar<'a>,
    #[serde(borrow, rename = "evt.arg.name")]
    arg_name: Scalar<'a>,
    #[serde(borrow, rename = "evt.arg.filename")]
    arg_filename: Scalar<'a>,
}

/// Falco priority → ConAnchor risk.
pub fn risk_of(priority: &str) -> Option<&'static str> {
    match priority.to_ascii_lowercase().as_str() {
        "emergency" | "alert" | "critical" | "error" => Some("high"),
        "warning" | "notice" => Some("medium"),
        "informational" | "info" | "debug" => Some("low"),
        _ => None,
    }
}

/// Falco `evt.type` → `event_type`; other syscalls keep their own name.
pub fn event_type_of(evt_type: &str) -> &str {
    match evt_type {
        "execve" | "execveat" => "exec",
        "open" | "openat" | "openat2" | "creat" => "file_open",
        "mount" => "mount",
        other => other,
    }
}

pub fn parse(line: &str) -> Result<Event, String> {
    let alert: Alert =
        serde_json::from_str(line).map_err(|e| format!("not a Falco JSON alert: {e}"))?;
    let rule = alert
        .rule
        .filter(|r| !r.is_empty())
        .ok_or("no \"rule\" (is json_output enabled?)")?;
    let priority = alert.priority.ok_or("no \"priority\"")?;
    let risk = risk_of(&priority).ok_or_else(|| format!("unknown priority {priority:?}"))?;
    let f = alert.output_fields.unwrap_or_default();
    let timestamp_ns = match (alert.time, f.evt_time.as_u64()) {
        (Some(t), _) => rfc3339_ns(&t)?,
        (None, Some(ns)) => ns,
        (None, None) => return Err("no \"time\"".into()),
    };
    let event_type = f.evt_type.as_str().map_or("unknown", event_type_of);
    let path_candidates = match event_type {
        "exec" => [&f.exepath, &f.fd_name, &f.arg_filename],
        "mount" => [&f.mount_dir, &f.fd_name, &f.arg_name],
        _ => [&f.fd_name, &f.arg_name, &f.arg_filename],
    };
    let path = path_candidates
        .iter()
        .find_map(|v| v.as_str())
        .unwrap_or_default();
    let tgid = f.pid.as_u32().unwrap_or(0);
    let container_id = sanitize_container_id(f.container_id.as_str().unwrap_or_default());
    Ok(Event {
        timestamp_ns,
        event_type: event_type.to_string(),
        pid: f.tid.as_u32().unwrap_or(tgid),
        tgid,
        uid: f.uid.as_u32().unwrap_or(0),
        gid: f.gid.as_u32().unwrap_or(0),
        comm: f.proc_name.as_str().unwrap_or_default().to_string(),
        path: path.to_string(),
        retval: f.rawres.as_i64().unwrap_or(0),
        container_instance_id: container_id.clone(),
        container_id,
        risk: risk.to_string(),
        policy: rule.into_owned(),
        ..base_event(line)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = r#"{"hostname":"node-1","output":"16:00:00.123456789: Warning Service account token read (user=root command=cat /var/run/secrets/kubernetes.io/serviceaccount/token container_id=3ad7b26ded6d)","priority":"Warning","rule":"ConAnchor service account token read","source":"syscall","tags":["container","mitre_credential_access"],"time":"2024-03-09T16:00:00.123456789Z","output_fields":{"container.id":"3ad7b26ded6d","container.name":"web","evt.type":"openat","fd.name":"/var/run/secrets/kubernetes.io/serviceaccount/token","k8s.ns.name":"default","k8s.pod.name":"web-7c5d","proc.name":"cat","proc.pid":4242,"user.uid":0,"user.name":"root"}}"#;

    #[test]
    fn maps_a_secret_read() {
        let e = parse(SECRET).unwrap();
        assert_eq!(e.timestamp_ns, 1_710_000_000_123_456_789);
        assert_eq!(e.event_type, "file_open");
        assert_eq!((e.pid, e.tgid, e.uid), (4242, 4242, 0));
        assert_eq!(e.comm, "cat");
        assert_eq!(
            e.path,
            "/var/run/secrets/kubernetes.io/serviceaccount/token"
        );
        assert_eq!(e.container_id, "3ad7b26ded6d");
        assert_eq!(e.container_instance_id, "3ad7b26ded6d");
        assert_eq!(e.risk, "medium");
        assert_eq!(e.policy, "ConAnchor service account token read");
        assert_eq!(e.extra, SECRET);
    }

    #[test]
    fn host_events_and_nulls() {
        let line = r#"{"rule":"Mount","priority":"Critical","time":"2024-03-09T16:00:01Z","output_fields":{"container.id":"host","evt.type":"mount","evt.arg.dir":"/host","proc.name":"mount","proc.pid":7,"user.uid":null,"k8s.pod.name":null}}"#;
        let e = parse(line).unwrap();
        assert_eq!(e.container_instance_id, "host-or-unknown");
        assert_eq!((e.event_type.as_str(), e.path.as_str()), ("mount", "/host"));
        assert_eq!(e.risk, "high");
        let e = parse(r#"{"rule":"x","priority":"Debug","time":"2024-03-09T16:00:01Z"}"#).unwrap();
        assert_eq!((e.risk.as_str(), e.event_type.as_str()), ("low", "unknown"));
        assert_eq!(e.container_instance_id, "host-or-unknown");
    }

    #[test]
    fn numbers_as_strings_escapes_and_odd_values() {
        let line = r#"{"rule":"r","priority":"notice","time":"2024-03-09T16:00:01Z","output_fields":{"proc.pid":"77","thread.tid":78,"user.uid":4294967296,"group.gid":-1,"evt.rawres":-13,"evt.type":"openat","fd.name":"/tmp/a\"b\u00e9","proc.name":["x"],"container.id":{"a":1}}}"#;
        let e = parse(line).unwrap();
        assert_eq!((e.pid, e.tgid, e.uid, e.gid, e.retval), (78, 77, 0, 0, -13));
        assert_eq!(e.path, "/tmp/a\"bé");
        assert_eq!((e.comm.as_str(), e.risk.as_str()), ("", "medium"));
        assert_eq!(e.container_instance_id, "host-or-unknown");
    }

    #[test]
    fn rejects_what_is_not_an_alert() {
        for (line, why) in [
            ("not json", "not a Falco JSON alert"),
            (
                r#"{"priority":"Warning","time":"2024-03-09T16:00:01Z"}"#,
                "rule",
            ),
            (
                r#"{"rule":"r","priority":"Loud","time":"2024-03-09T16:00:01Z"}"#,
                "priority",
            ),
            (r#"{"rule":"r","priority":"Notice"}"#, "time"),
            (
                r#"{"rule":"r","priority":"Notice","time":"soon"}"#,
                "RFC 3339",
            ),
            ("[1,2]", "not a Falco JSON alert"),
        ] {
            let err = parse(line).unwrap_err();
            assert!(err.contains(why), "{line}: {err}");
        }
    }
}
