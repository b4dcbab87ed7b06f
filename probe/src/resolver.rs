//! Container identity from a cgroup id.
//!
//! The kernel reports the cgroup v2 id of the task, which is the inode number of its
//! cgroup directory. The resolver walks the cgroup v2 mount once, remembers every
//! directory's inode, and walks again when it meets an unknown id, so a container
//! whose processes have all exited still resolves while its cgroup exists, and one
//! seen once keeps resolving after its cgroup is removed.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// `container_id` of events from no recognizable container (as the seed).
pub const HOST_OR_UNKNOWN: &str = "host-or-unknown";

/// How soon an id that was not found may trigger another walk.
const MISS_RETRY: Duration = Duration::from_millis(250);
/// Walks no deeper than this (real hierarchies are < 10 levels).
const MAX_DEPTH: usize = 32;

/// Who an event belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerIdentity {
    /// The runtime's container id (usually 64 hex), or [`HOST_OR_UNKNOWN`].
    pub container_id: String,
    /// Kubernetes pod UID (with dashes), when the path has one.
    pub pod_uid: Option<String>,
    /// `containerd`, `docker`, `cri-o`, `podman`, `nerdctl`, when the path tells.
    pub runtime: Option<String>,
    /// The cgroup's path relative to the cgroup v2 mount (`/kubepods.slice/...`).
    pub cgroup_path: Option<String>,
}

impl ContainerIdentity {
    /// An identity for an event outside any recognizable container.
    pub fn host_or_unknown(cgroup_path: Option<String>) -> ContainerIdentity {
        ContainerIdentity {
            container_id: HOST_OR_UNKNOWN.to_string(),
            pod_uid: None,
            runtime: None,
            cgroup_path,
        }
    }

    /// Whether the event came from a recognized container.
    pub fn is_container(&self) -> bool {
        self.container_id != HOST_OR_UNKNOWN
    }
}

/// Where cgroup v2 is mounted: the first `cgroup2` entry of /proc/self/mountinfo,
/// else /sys/fs/cgroup/unified (hybrid hierarchy), else /sys/fs/cgroup.
pub fn cgroup2_mount() -> Option<PathBuf> {
    if let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") {
        if let Some(p) = cgroup2_mount_from_mountinfo(&info) {
            return Some(p);
        }
    }
    ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.join("cgroup.controllers").exists())
}

/// The mount point of the first cgroup2 file system in a mountinfo text.
fn cgroup2_mount_from_mountinfo(info: &str) -> Option<PathBuf> {
    info.lines().find_map(|line| {
        // "<id> <parent> <maj:min> <root> <mount point> <opts> [optional...] - <fstype> ..."
        let (left, right) = line.split_once(" - ")?;
        if right.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        let mount_point = left.split_whitespace().nth(4)?;
        Some(PathBuf::from(unescape_mountinfo(mount_point)))
    })
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo` octal.
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Resolves cgroup ids to container identities, with a cache.
#[derive(Debug)]
pub struct ContainerResolver {
    root: Option<PathBuf>,
    paths: HashMap<u64, String>,
    /// ids not found by the last walk, and when
    misses: HashMap<u64, Instant>,
}

impl Default for ContainerResolver {
    fn default() -> ContainerResolver {
        ContainerResolver::new()
    }
}

impl ContainerResolver {
    /// A resolver over this machine's cgroup v2 mount (see [`cgroup2_mount`]). Without
    /// one, everything resolves to [`HOST_OR_UNKNOWN`].
    pub fn new() -> ContainerResolver {
        ContainerResolver {
            root: cgroup2_mount(),
            paths: HashMap::new(),
            misses: HashMap::new(),
        }
    }

    /// A resolver over the cgroup v2 hierarchy mounted at `root` (tests use a plain
    /// directory tree: only inode numbers and names matter).
    pub fn with_root(root: impl Into<PathBuf>) -> ContainerResolver {
        ContainerResolver {
            root: Some(root.into()),
            paths: HashMap::new(),
            misses: HashMap::new(),
        }
    }

    /// The cgroup v2 mount this resolver walks.
    pub fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    /// The identity of the container whose cgroup has this id.
    pub fn resolve(&mut self, cgroup_id: u64) -> ContainerIdentity {
        match self.cgroup_path(cgroup_id) {
            Some(path) => parse_cgroup_path(&path),
            None => ContainerIdentity::host_or_unknown(None),
        }
    }

    /// The cgroup's path relative to the mount (`/` for the root), walking the
    /// hierarchy again when the id is not known yet.
    pub fn cgroup_path(&mut self, cgroup_id: u64) -> Option<String> {
        if let Some(p) = self.paths.get(&cgroup_id) {
            return Some(p.clone());
        }
        // an id that just missed does not walk again at once (a burst of events from a
        // cgroup already gone would walk per event); any other unknown id does
        if self
            .misses
            .get(&cgroup_id)
            .is_some_and(|t| t.elapsed() < MISS_RETRY)
        {
            return None;
        }
        self.refresh();
        let found = self.paths.get(&cgroup_id).cloned();
        if found.is_none() {
            self.misses.insert(cgroup_id, Instant::now());
        } else {
            self.misses.remove(&cgroup_id);
        }
        found
    }

    /// Walks the hierarchy and records every cgroup directory's inode. Entries of
    /// cgroups that no longer exist are kept: late events still resolve.
    pub fn refresh(&mut self) {
        self.misses.retain(|_, t| t.elapsed() < MISS_RETRY);
        let Some(root) = self.root.clone() else {
            return;
        };
        if let Ok(meta) = std::fs::metadata(&root) {
            self.paths.insert(meta.ino(), "/".to_string());
        }
        let mut stack = vec![(root, String::new(), 0usize)];
        while let Some((dir, rel, depth)) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue; // removed while walking, or unreadable
            };
            for entry in entries.flatten() {
                let Ok(ft) = entry.file_type() else { continue };
                if !ft.is_dir() {
                    continue;
                }
                let Ok(meta) = entry.metadata() else { continue };
                let name = entry.file_name().to_string_lossy().into_owned();
                let child = format!("{rel}/{name}");
                self.paths.insert(meta.ino(), child.clone());
                if depth + 1 < MAX_DEPTH {
                    stack.push((entry.path(), child, depth + 1));
                }
            }
        }
    }
}

/// Parses a cgroup path (as in `/proc/<pid>/cgroup` or relative to the cgroup v2 mount)
/// into a container identity. Recognized, innermost component first:
/// `cri-containerd-<id>`, `docker-<id>`, `crio-<id>`, `libpod-<id>`, `nerdctl-<id>`
/// (with or without `.scope`; `crio-conmon-` and `libpod-conmon-` are the runtime's
/// monitor, not the container), and a bare 64-hex directory (cgroupfs driver:
/// `/kubepods/burstable/pod<uid>/<id>`, `/docker/<id>`). Pod UIDs come from
/// `kubepods[-<qos>]-pod<uid with _>.slice` or `pod<uid>`.
pub fn parse_cgroup_path(path: &str) -> ContainerIdentity {
    let components: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    let pod_uid = components.iter().rev().find_map(|c| pod_uid_of(c));
    let container = components
        .iter()
        .rev()
        .find_map(|c| container_of(c, &components));
    match container {
        Some((id, runtime)) => ContainerIdentity {
            container_id: id,
            pod_uid,
            runtime: runtime.map(str::to_string),
            cgroup_path: Some(path.to_string()),
        },
        None => ContainerIdentity {
            pod_uid,
            ..ContainerIdentity::host_or_unknown(Some(path.to_string()))
        },
    }
}

const RUNTIME_PREFIXES: [(&str, &str); 5] = [
    ("cri-containerd-", "containerd"),
    ("docker-", "docker"),
    ("crio-", "cri-o"),
    ("libpod-", "podman"),
    ("nerdctl-", "nerdctl"),
];

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `(container id, runtime)` of one path component.
fn container_of(component: &str, all: &[&str]) -> Option<(String, Option<&'static str>)> {
    let name = component.strip_suffix(".scope").unwrap_or(component);
    for (prefix, runtime) in RUNTIME_PREFIXES {
        if let Some(id) = name.strip_prefix(prefix) {
            // the runtime's monitor process (conmon) is not the container
            return is_hex(id).then(|| (id.to_ascii_lowercase(), Some(runtime)));
        }
    }
    if name.len() == 64 && is_hex(name) {
        let runtime = all.contains(&"docker").then_some("docker");
        return Some((name.to_ascii_lowercase(), runtime));
    }
    None
}

/// Pod UID of a `kubepods-burstable-pod<uid>.slice` or `pod<uid>` component.
fn pod_uid_of(component: &str) -> Option<String> {
    let name = component.strip_suffix(".slice").unwrap_or(component);
    let last = name.rsplit('-').next()?;
    let uid = if name.starts_with("kubepods") && name.contains('-') {
        last.strip_prefix("pod")?
    } else {
        name.strip_prefix("pod")?
    };
    let uid = uid.replace('_', "-");
    let valid = uid.len() >= 8
        && uid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
        && uid.bytes().any(|b| b.is_ascii_hexdigit());
    valid.then(|| uid.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f1c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a";
    const POD: &str = "0c5e4d0a-7f1b-4b6c-9a4e-2f7d8c9b1a23";

    fn check(path: &str, id: &str, runtime: Option<&str>, pod: Option<&str>) {
        let got = parse_cgroup_path(path);
        assert_eq!(got.container_id, id, "{path}");
        assert_eq!(got.runtime.as_deref(), runtime, "{path}");
        assert_eq!(got.pod_uid.as_deref(), pod, "{path}");
        assert_eq!(got.cgroup_path.as_deref(), Some(path));
    }

    #[test]
    fn kubernetes_systemd_driver() {
        let pod_ = POD.replace('-', "_");
        check(
            &format!("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{pod_}.slice/cri-containerd-{ID}.scope"),
            ID,
            Some("containerd"),
            Some(POD),
        );
        check(
            &format!("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{pod_}.slice/crio-{ID}.scope"),
            ID,
            Some("cri-o"),
            Some(POD),
        );
        // guaranteed QoS pods sit directly under kubepods.slice
        check(
            &format!("/kubepods.slice/kubepods-pod{pod_}.slice/docker-{ID}.scope"),
            ID,
            Some("docker"),
            Some(POD),
        );
        // newer cri-o nests the container's processes one level down
        check(
            &format!("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{pod_}.slice/crio-{ID}.scope/container"),
            ID,
            Some("cri-o"),
            Some(POD),
        );
        // the test harness's own shape
        check(
            &format!("/kubepods.slice/cri-containerd-{ID}.scope"),
            ID,
            Some("containerd"),
            None,
        );
    }

    #[test]
    fn kubernetes_cgroupfs_driver() {
        for qos in ["burstable/", "besteffort/", ""] {
            check(
                &format!("/kubepods/{qos}pod{POD}/{ID}"),
                ID,
                None,
                Some(POD),
            );
        }
        check(
            &format!("/kubepods/burstable/pod{POD}/crio-{ID}"),
            ID,
            Some("cri-o"),
            Some(POD),
        );
    }

    #[test]
    fn docker_and_podman_outside_kubernetes() {
        check(
            &format!("/system.slice/docker-{ID}.scope"),
            ID,
            Some("docker"),
            None,
        );
        check(&format!("/docker/{ID}"), ID, Some("docker"), None);
        check(
            &format!("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope/container"),
            ID,
            Some("podman"),
            None,
        );
        check(
            &format!("/machine.slice/libpod-{ID}.scope"),
            ID,
            Some("podman"),
            None,
        );
        check(
            &format!("/libpod_parent/libpod-{ID}"),
            ID,
            Some("podman"),
            None,
        );
        check(
            &format!("/system.slice/nerdctl-{ID}.scope"),
            ID,
            Some("nerdctl"),
            None,
        );
        // the seed's short example ids still parse
        check(
            "/system.slice/cri-containerd-abc123.scope",
            "abc123",
            Some("containerd"),
            None,
        );
    }

    #[test]
    fn host_and_runtime_helpers_are_not_containers() {
        for path in [
            "/",
            "",
            "/init.scope",
            "/system.slice/containerd.service",
            "/system.slice/docker.service",
            "/user.slice/user-1000.slice/session-3.scope",
            &format!("/machine.slice/libpod-conmon-{ID}.scope"),
            &format!("/kubepods.slice/kubepods-burstable.slice/crio-conmon-{ID}.scope"),
            "/system.slice/docker-compose@app.service",
            "/kubepods.slice/cri-containerd-xyz.scope",
            &format!("/kubepods/{}", &ID[..63]),
        ] {
            let got = parse_cgroup_path(path);
            assert_eq!(got.container_id, HOST_OR_UNKNOWN, "{path}");
            assert!(!got.is_container());
            assert_eq!(got.runtime, None, "{path}");
        }
        // a pod slice itself (pause/sandbox level) has a pod but no container
        let pod_ = POD.replace('-', "_");
        let got = parse_cgroup_path(&format!(
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{pod_}.slice"
        ));
        assert_eq!(got.container_id, HOST_OR_UNKNOWN);
        assert_eq!(got.pod_uid.as_deref(), Some(POD));
        // "kubepods-burstable.slice" is a QoS slice, not a pod
        assert_eq!(
            parse_cgroup_path("/kubepods.slice/kubepods-burstable.slice").pod_uid,
            None
        );
    }

    #[test]
    fn ids_are_lowercased() {
        let upper = ID.to_ascii_uppercase();
        let got = parse_cgroup_path(&format!("/docker/{upper}"));
        assert_eq!(got.container_id, ID);
    }

    #[test]
    fn finds_cgroup2_in_mountinfo() {
        let info = "\
25 30 0:23 / /sys rw,nosuid - sysfs sysfs rw
40 31 0:37 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw
";
        assert_eq!(
            cgroup2_mount_from_mountinfo(info),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        let escaped = "41 31 0:38 / /mnt/my\\040cgroups rw - cgroup2 none rw\n";
        assert_eq!(
            cgroup2_mount_from_mountinfo(escaped),
            Some(PathBuf::from("/mnt/my cgroups"))
        );
        assert_eq!(
            cgroup2_mount_from_mountinfo("25 30 0:23 / /sys rw - sysfs sysfs rw\n"),
            None
        );
    }

    #[test]
    fn resolves_by_inode_and_refreshes_on_miss() {
        let root = tempfile::tempdir().unwrap();
        let mut resolver = ContainerResolver::with_root(root.path());
        let ino = |p: &Path| std::fs::metadata(p).unwrap().ino();
        assert_eq!(resolver.cgroup_path(ino(root.path())).as_deref(), Some("/"));
        assert_eq!(
            resolver.resolve(ino(root.path())).container_id,
            HOST_OR_UNKNOWN
        );

        // created after the first walk: found by the walk the miss triggers, at once
        let scope = root
            .path()
            .join("kubepods.slice")
            .join(format!("cri-containerd-{ID}.scope"));
        std::fs::create_dir_all(&scope).unwrap();
        let id = ino(&scope);
        let got = resolver.resolve(id);
        assert_eq!(got.container_id, ID);
        assert_eq!(got.runtime.as_deref(), Some("containerd"));
        assert_eq!(
            got.cgroup_path.as_deref(),
            Some(format!("/kubepods.slice/cri-containerd-{ID}.scope").as_str())
        );

        // an unknown id walks again at once, even right after another walk
        assert_eq!(resolver.resolve(u64::MAX).container_id, HOST_OR_UNKNOWN);
        let late = root.path().join("late");
        std::fs::create_dir(&late).unwrap();
        assert_eq!(resolver.cgroup_path(ino(&late)).as_deref(), Some("/late"));
        // the same unknown id again within MISS_RETRY does not walk
        let later = root.path().join("later");
        std::fs::create_dir(&later).unwrap();
        assert_eq!(resolver.cgroup_path(u64::MAX), None);
        assert!(
            !resolver.paths.contains_key(&ino(&later)),
            "no walk on a repeated miss"
        );

        // gone from the file system: still resolves from the cache
        std::fs::remove_dir(&scope).unwrap();
        assert_eq!(resolver.resolve(id).container_id, ID);
    }

    #[test]
    fn without_a_cgroup_mount_everything_is_host_or_unknown() {
        let mut resolver = ContainerResolver::with_root("/nonexistent/cgroup");
        assert_eq!(
            resolver.resolve(1),
            ContainerIdentity::host_or_unknown(None)
        );
    }
}
