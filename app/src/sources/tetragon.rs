//! Tetragon's JSON export (`process_exec`, `process_kprobe`, `process_lsm`, and the other
//! `process_*` events) → events. The mapping is documented in `docs/FORMAT.md`.

use std::borrow::Cow;

use conanchor_store::Event;
use serde::Deserialize;
use serde_json::Value;

use crate::sources::mapping::{
    base_event, json_i64, json_str, json_u32, rfc3339_ns, sanitize_container_id,
};

#[derive(Deserialize)]
struct Record<'a> {
    process_exec: Option<Body<'a>>,
    process_exit: Option<Body<'a>>,
    process_kprobe: Option<Body<'a>>,
    process_lsm: Option<Body<'a>>,
    process_tracepoint: Option<Body<'a>>,
    process_uprobe: Option<Body<'a>>,
    #[serde(borrow)]
    time: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Body<'a> {
    process: Option<Process>,
    #[serde(borrow)]
    function_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    event: Option<Cow<'a, str>>,
    #[serde(borrow)]
    policy_name: Option<Cow<'a, str>>,
    #[serde(default)]
    args: Vec<Value>,
    #[serde(rename = "return")]
    ret: Option<Value>,
}

#[derive(Deserialize)]
struct Process {
    pid: Option<Value>,
    tid: Option<Value>,
    uid: Option<Value>,
    binary: Option<String>,
    pod: Option<Pod>,
    process_credentials: Option<Credentials>,
}

#[derive(Deserialize)]
struct Pod {
    container: Option<Container>,
}

#[derive(Deserialize)]
struct Container {
    id: Option<String>,
}

#[derive(Deserialize)]
struct Credentials {
    gid: Option<Value>,
}

/// `containerd://<id>` (and docker, cri-o) → `<id>`.
pub fn strip_runtime_prefix(id: &str) -> &str {
    ["containerd://", "docker://", "cri-o://", "crio://"]
        .iter()
        .find_map(|p| id.strip_prefix(p))
        .unwrap_or(id)
}

/// Hook name of a kprobe/LSM event → `event_type`; other hooks keep their own name.
pub fn event_type_of(function: &str) -> &str {
    let f = function.to_ascii_lowercase();
    if f.contains("bprm_check") || f.ends_with("sys_execve") || f.ends_with("sys_execveat") {
        "exec"
    } else if f.contains("mount") {
        "mount"
    } else if f.contains("file_open")
        || f.contains("file_permission")
        || f == "fd_install"
        || f.ends_with("sys_open")
        || f.ends_with("sys_openat")
        || f.ends_with("sys_openat2")
    {
        "file_open"
    } else {
        function
    }
}

/// The path an argument list is about: a file/path/binprm argument first; for mounts the
/// target (the second string of `mount(source, target, fstype, …)`).
fn path_of(args: &[Value], event_type: &str) -> Option<String> {
    let typed = args.iter().find_map(|a| {
        ["file_arg", "path_arg", "linux_binprm_arg"]
            .iter()
            .find_map(|k| json_str(a.get(k)?.get("path")))
    });
    if let Some(p) = typed {
        return Some(p.to_string());
    }
    let strings: Vec<&str> = args
        .iter()
        .filter_map(|a| json_str(a.get("string_arg")))
        .collect();
    let pick = if event_type == "mount" && strings.len() > 1 {
        strings[1]
    } else {
        strings.first()?
    };
    Some(pick.to_string())
}

pub fn parse(line: &str) -> Result<Event, String> {
    let rec: Record =
        serde_json::from_str(line).map_err(|e| format!("not a Tetragon JSON event: {e}"))?;
    let (kind, body) = [
        ("process_exec", rec.process_exec),
        ("process_kprobe", rec.process_kprobe),
        ("process_lsm", rec.process_lsm),
        ("process_tracepoint", rec.process_tracepoint),
        ("process_uprobe", rec.process_uprobe),
        ("process_exit", rec.process_exit),
    ]
    .into_iter()
    .find_map(|(k, b)| Some((k, b?)))
    .ok_or("no process_exec, process_kprobe, process_lsm or other process_* event")?;
    let time = rec.time.ok_or("no \"time\"")?;
    let timestamp_ns = rfc3339_ns(&time)?;
    let process = body
        .process
        .ok_or_else(|| format!("{kind} without \"process\""))?;
    let tgid =
        json_u32(process.pid.as_ref()).ok_or_else(|| format!("{kind} without process.pid"))?;
    let binary = process.binary.unwrap_or_default();
    let event_type = match (kind, &body.function_name, &body.event) {
        ("process_exec", _, _) => "exec".to_string(),
        ("process_exit", _, _) => "exit".to_string(),
        (_, Some(f), _) => event_type_of(f).to_string(),
        (_, None, Some(ev)) => ev.to_string(),
        _ => kind.to_string(),
    };
    let path = match kind {
        "process_exec" | "process_exit" => None,
        _ => path_of(&body.args, &event_type),
    }
    .unwrap_or_else(|| binary.clone());
    let container = process
        .pod
        .and_then(|p| p.container)
        .and_then(|c| c.id)
        .unwrap_or_default();
    let container_id = sanitize_container_id(strip_runtime_prefix(&container));
    let policy = body.policy_name.filter(|p| !p.is_empty());
    Ok(Event {
        timestamp_ns,
        pid: json_u32(process.tid.as_ref()).unwrap_or(tgid),
        tgid,
        uid: json_u32(process.uid.as_ref()).unwrap_or(0),
        gid: process
            .process_credentials
            .and_then(|c| json_u32(c.gid.as_ref()))
            .unwrap_or(0),
        comm: binary.rsplit('/').next().unwrap_or_default().to_string(),
        path,
        retval: json_i64(body.ret.as_ref().and_then(|r| r.get("int_arg"))).unwrap_or(0),
        container_instance_id: container_id.clone(),
        container_id,
        risk: if policy.is_some() { "high" } else { "low" }.to_string(),
        policy: policy.map_or_else(|| kind.to_string(), Cow::into_owned),
        event_type,
        ..base_event(line)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LSM: &str = r#"{"process_lsm":{"process":{"exec_id":"bm9kZS0xOjEyMzQ1","pid":52699,"uid":0,"cwd":"/","binary":"/usr/bin/cat","arguments":"/var/run/secrets/kubernetes.io/serviceaccount/token","flags":"execve clone","start_time":"2024-03-09T16:00:00.000000000Z","auid":4294967295,"pod":{"namespace":"default","name":"web-7c5d","container":{"id":"containerd://551e161c47d8ff0eb665438a7bcd5b4e3ef5a297282b40a92b7c77d6bd168eb3","name":"web","pid":49},"workload":"web"},"tid":52699},"parent":{"pid":52690,"binary":"/bin/sh"},"function_name":"file_open","policy_name":"conanchor-service-account-secret-read","args":[{"file_arg":{"path":"/var/run/secrets/kubernetes.io/serviceaccount/token","permission":"-rw-r--r--"}}],"action":"KPROBE_ACTION_POST"},"node_name":"node-1","time":"2024-03-09T16:00:00.123456789Z"}"#;

    #[test]
    fn maps_an_lsm_file_open() {
        let e = parse(LSM).unwrap();
        assert_eq!(e.timestamp_ns, 1_710_000_000_123_456_789);
        assert_eq!(e.event_type, "file_open");
        assert_eq!(
            e.path,
            "/var/run/secrets/kubernetes.io/serviceaccount/token"
        );
        assert_eq!(e.comm, "cat");
        assert_eq!(
            e.container_instance_id,
            "551e161c47d8ff0eb665438a7bcd5b4e3ef5a297282b40a92b7c77d6bd168eb3"
        );
        assert_eq!(
            (e.risk.as_str(), e.policy.as_str()),
            ("high", "conanchor-service-account-secret-read")
        );
        assert_eq!(e.extra, LSM);
    }

    #[test]
    fn maps_mount_targets_and_exec() {
        let line = r#"{"process_kprobe":{"process":{"pid":7,"uid":0,"binary":"/usr/bin/mount","pod":{"container":{"id":"cri-o://abc"}}},"function_name":"__x64_sys_mount","args":[{"string_arg":"proc"},{"string_arg":"/host/proc"},{"string_arg":"proc"}],"return":{"int_arg":-1},"policy_name":"conanchor-suspicious-mount"},"time":"2024-03-09T16:00:01Z"}"#;
        let e = parse(line).unwrap();
        assert_eq!(
            (e.event_type.as_str(), e.path.as_str()),
            ("mount", "/host/proc")
        );
        assert_eq!((e.container_instance_id.as_str(), e.retval), ("abc", -1));
        let exec = r#"{"process_exec":{"process":{"pid":9,"uid":1000,"binary":"/usr/bin/wget"}},"time":"2024-03-09T16:00:02Z"}"#;
        let e = parse(exec).unwrap();
        assert_eq!(
            (e.event_type.as_str(), e.path.as_str(), e.comm.as_str()),
            ("exec", "/usr/bin/wget", "wget")
        );
        assert_eq!(
            (e.risk.as_str(), e.policy.as_str()),
            ("low", "process_exec")
        );
        assert_eq!(e.container_instance_id, "host-or-unknown");
    }

    #[test]
    fn rejects_what_is_not_an_event() {
        for (line, why) in [
            ("{", "not a Tetragon JSON event"),
            (
                r#"{"node_name":"n","time":"2024-03-09T16:00:01Z"}"#,
                "no process_exec",
            ),
            (r#"{"process_exec":{"process":{"pid":1}}}"#, "time"),
            (
                r#"{"process_exec":{"process":{}},"time":"2024-03-09T16:00:01Z"}"#,
                "process.pid",
            ),
        ] {
            let err = parse(line).unwrap_err();
            assert!(err.contains(why), "{line}: {err}");
        }
    }
}
