//! ConAnchor probe: kernel security events per container, from eBPF.
//!
//! # Pieces
//!
//! - `probe/bpf/conanchor.bpf.c`: the BPF programs (C, CO-RE). The compiled object
//!   `probe/bpf/conanchor.bpf.o` is committed and embedded, so building needs no
//!   clang; `make bpf` rebuilds it and `scripts/check-bpf-object.sh` checks that the
//!   committed object is what the sources build to.
//! - [`Probe`] loads and attaches it ([`Probe::load`]), [`Probe::start`] drains the ring
//!   buffer into a bounded tokio channel of [`RawEvent`]s, [`ProbeHandle`] reports the
//!   mode and the per-cgroup drop counts.
//! - [`ContainerResolver`] turns a cgroup id into a [`ContainerIdentity`];
//!   [`classify`] gives an event its risk and policy.
//!
//! # Modes
//!
//! | mode | exec | file open | mount |
//! |---|---|---|---|
//! | `lsm` | `lsm/bprm_check_security` | `lsm/file_open` (resolved path, `bpf_d_path`) | `lsm/sb_mount`; `tp_btf/sys_exit` for `fsmount`/`move_mount` |
//! | `tracepoint` | `tp_btf/sched_process_exec` | `tp_btf/sys_exit` `openat`, `openat2` (path as passed) | `tp_btf/sys_exit` `mount`, `fsmount`, `move_mount` |
//!
//! `auto` uses LSM when `bpf` is listed in `/sys/kernel/security/lsm` (securityfs is
//! mounted if needed) and the kernel accepts the LSM programs; otherwise it falls back
//! to tracepoints and says why ([`Probe::fallback_reason`]). Forcing `lsm` where it is
//! unavailable is an error naming the cause.
//!
//! Only matching events leave the kernel: exec of a file named `wget`; opens of paths
//! under `/var/run/secrets/` or `/run/secrets/`; mounts whose target or source is at or
//! under `/proc`, `/sys`, `/host`, `/mnt`, `/var/run`, or whose file system type is
//! `proc`, `sysfs`, `cgroup`, `cgroup2` or `overlay` (for `fsmount`/`move_mount`: the
//! type of the process's last `fsopen`). Tracepoint mode matches the path string the
//! program passed (a relative path or a symlinked spelling is not resolved); LSM mode
//! matches the resolved path. x86-64 only (syscall numbers and registers; 32-bit
//! compat syscalls are not decoded).
//!
//! Syscalls are observed at `sys_exit`, not `sys_enter`: by then the kernel has copied
//! the arguments, so their user pages are present (at entry a page not faulted in yet
//! makes the string read fail and the event vanish), and `retval` is known. A failed
//! attempt is still reported, with its negative errno.
//!
//! # Targeting and drops
//!
//! With target cgroup ids ([`ProbeConfig::target_cgroup_ids`], [`parse_cgroup_ids`],
//! [`target_cgroup_ids_from_env`]) the kernel only reports tasks whose cgroup v2 id is
//! in the `target_cgroups` map; with none, every cgroup. When the ring buffer is full
//! the kernel increments `drops[cgroup_id]` instead; [`ProbeHandle::take_drops`] returns
//! the increase since its last call, so every event is delivered or counted.
//!
//! # Event layout (`probe/bpf/conanchor_event.h`, 488 bytes, native endian)
//!
//! | offset | field | type | meaning |
//! |---|---|---|---|
//! | 0 | `boot_ns` | u64 | `bpf_ktime_get_boot_ns()`; user space adds realtime − boottime |
//! | 8 | `cgroup_id` | u64 | cgroup v2 id of the task |
//! | 16 | `flags` | u64 | open flags / mount flags / 0 |
//! | 24 | `retval` | i64 | syscall result in tracepoint mode (events are taken at syscall exit); 0 from LSM hooks, which run before the operation |
//! | 32 | `kind` | u32 | 1 exec, 2 file_open, 3 mount |
//! | 36 | `hook` | u32 | which program produced it (see [`RawEvent::hook`]) |
//! | 40 | `pid`, `tgid`, `uid`, `gid` | 4 × u32 | thread id, process id, ids |
//! | 56 | `comm` | char\[16\] | task command name |
//! | 72 | `path` | char\[256\] | exec file / opened path / mount target |
//! | 328 | `fstype` | char\[32\] | mount file system type |
//! | 360 | `source` | char\[128\] | mount source |
//!
//! Strings are NUL-terminated (or fill their array) and are converted with
//! `String::from_utf8_lossy` when decoded, before anything hashes them. A mount's
//! `fstype` and `source` become [`RawEvent::extra`] as `fstype=<t> source=<s> via=<how>`.

mod config;
mod error;
mod events;
mod handle;
mod loader;
mod policy;
mod resolver;

pub use config::{
    parse_cgroup_ids, target_cgroup_ids_from_env, ActiveMode, AttachMode, ProbeConfig,
    TARGET_CGROUP_ENV,
};
pub use error::ProbeError;
pub use events::{layout, EventKind, RawEvent};
pub use handle::ProbeHandle;
pub use loader::Probe;
pub use policy::{
    classify, POLICY_SECRET_READ, POLICY_SUSPICIOUS_MOUNT, POLICY_UNMATCHED, POLICY_WGET_EXEC,
    RISK_HIGH, RISK_LOW, RISK_MEDIUM,
};
pub use resolver::{
    cgroup2_mount, parse_cgroup_path, ContainerIdentity, ContainerResolver, HOST_OR_UNKNOWN,
};
