//! The kernel event layout (`probe/bpf/conanchor_event.h`) and its decoding into
//! [`RawEvent`].

use std::fmt;

/// Sizes and offsets of `struct conanchor_event`, as the C header states them
/// (`CONANCHOR_EVENT_SIZE`, `CONANCHOR_OFF_*`); C checks them with `_Static_assert`,
/// the tests here check the Rust mirror of the struct against them.
pub mod layout {
    /// `sizeof(struct conanchor_event)`.
    pub const EVENT_SIZE: usize = 488;
    /// `comm` length, NUL included.
    pub const COMM_LEN: usize = 16;
    /// `path` length, NUL included.
    pub const PATH_LEN: usize = 256;
    /// `fstype` length, NUL included.
    pub const FSTYPE_LEN: usize = 32;
    /// `source` length, NUL included.
    pub const SOURCE_LEN: usize = 128;
}

/// Kind codes (`CONANCHOR_KIND_*`).
const KIND_EXEC: u32 = 1;
const KIND_FILE_OPEN: u32 = 2;
const KIND_MOUNT: u32 = 3;

/// Byte-for-byte mirror of `struct conanchor_event`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct KernelEvent {
    pub boot_ns: u64,
    pub cgroup_id: u64,
    pub flags: u64,
    pub retval: i64,
    pub kind: u32,
    pub hook: u32,
    pub pid: u32,
    pub tgid: u32,
    pub uid: u32,
    pub gid: u32,
    pub comm: [u8; layout::COMM_LEN],
    pub path: [u8; layout::PATH_LEN],
    pub fstype: [u8; layout::FSTYPE_LEN],
    pub source: [u8; layout::SOURCE_LEN],
}

const _: () = assert!(std::mem::size_of::<KernelEvent>() == layout::EVENT_SIZE);

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A program was executed.
    Exec,
    /// A file was opened.
    FileOpen,
    /// A file system was mounted (or a mount attached or created).
    Mount,
}

impl EventKind {
    /// The evidence format's `event_type`: `exec`, `file_open` or `mount`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Exec => "exec",
            EventKind::FileOpen => "file_open",
            EventKind::Mount => "mount",
        }
    }

    fn from_code(code: u32) -> Option<EventKind> {
        match code {
            KIND_EXEC => Some(EventKind::Exec),
            KIND_FILE_OPEN => Some(EventKind::FileOpen),
            KIND_MOUNT => Some(EventKind::Mount),
            _ => None,
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kernel hook that produced an event (`CONANCHOR_HOOK_*`), as
/// `<program type>/<hook>[:<syscall>]`.
fn hook_name(code: u32) -> &'static str {
    match code {
        1 => "lsm/bprm_check_security",
        2 => "lsm/file_open",
        3 => "lsm/sb_mount",
        4 => "tp_btf/sched_process_exec",
        5 => "tp_btf/sys_exit:openat",
        6 => "tp_btf/sys_exit:openat2",
        7 => "tp_btf/sys_exit:mount",
        8 => "tp_btf/sys_exit:fsmount",
        9 => "tp_btf/sys_exit:move_mount",
        _ => "unknown",
    }
}

/// The short name of how a mount was made, for `extra`'s `via=`.
fn mount_via(code: u32) -> &'static str {
    match code {
        3 => "sb_mount",
        7 => "mount",
        8 => "fsmount",
        9 => "move_mount",
        _ => "unknown",
    }
}

/// One kernel event, decoded. Strings are converted from kernel bytes with
/// [`String::from_utf8_lossy`] here, before anything hashes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawEvent {
    /// Wall-clock time, nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
    /// What happened.
    pub kind: EventKind,
    /// Thread id.
    pub pid: u32,
    /// Process id.
    pub tgid: u32,
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// The task's command name (for exec: the new program's).
    pub comm: String,
    /// exec: the executed file as given to execve; file_open: the opened path;
    /// mount: the target (empty for a detached `fsmount`).
    pub path: String,
    /// exec, file_open: empty. mount: `fstype=<type> source=<source> via=<how>`, where
    /// `how` is `mount`, `fsmount`, `move_mount` (tracepoint mode) or `sb_mount` (LSM).
    pub extra: String,
    /// file_open: open flags; mount: mount flags (move_mount: its flags); exec: 0.
    pub flags: u64,
    /// The syscall's result in tracepoint mode (events are taken at syscall exit, so a
    /// refused attempt shows its error, e.g. -2 for ENOENT); 0 from LSM hooks and exec.
    pub retval: i64,
    /// cgroup v2 id (the inode of the task's cgroup directory).
    pub cgroup_id: u64,
    /// The kernel hook that saw it, e.g. `tp_btf/sys_exit:openat`.
    pub hook: &'static str,
}

/// Why a ring buffer record could not be decoded.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum DecodeError {
    Short(usize),
    UnknownKind(u32),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Short(n) => write!(
                f,
                "record of {n} bytes is shorter than an event ({} bytes)",
                layout::EVENT_SIZE
            ),
            DecodeError::UnknownKind(k) => write!(f, "unknown event kind {k}"),
        }
    }
}

impl KernelEvent {
    /// Reads an event from a ring buffer record.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<KernelEvent, DecodeError> {
        if bytes.len() < layout::EVENT_SIZE {
            return Err(DecodeError::Short(bytes.len()));
        }
        // SAFETY: `bytes` holds at least size_of::<KernelEvent>() bytes (checked above);
        // read_unaligned copies them without any alignment requirement, and every bit
        // pattern is a valid KernelEvent (integers and byte arrays only).
        Ok(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<KernelEvent>()) })
    }
}

/// Converts a NUL-terminated kernel buffer to a String, lossily.
fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// Decodes a ring buffer record; `boot_to_unix_ns` converts the kernel's boot-time
/// clock to wall-clock time.
pub(crate) fn decode(bytes: &[u8], boot_to_unix_ns: i128) -> Result<RawEvent, DecodeError> {
    let k = KernelEvent::from_bytes(bytes)?;
    let kind = EventKind::from_code(k.kind).ok_or(DecodeError::UnknownKind(k.kind))?;
    let extra = match kind {
        EventKind::Mount => format!(
            "fstype={} source={} via={}",
            c_string(&k.fstype),
            c_string(&k.source),
            mount_via(k.hook)
        ),
        EventKind::Exec | EventKind::FileOpen => String::new(),
    };
    let wall = i128::from(k.boot_ns) + boot_to_unix_ns;
    Ok(RawEvent {
        timestamp_ns: u64::try_from(wall.max(0)).unwrap_or(u64::MAX),
        kind,
        pid: k.pid,
        tgid: k.tgid,
        uid: k.uid,
        gid: k.gid,
        comm: c_string(&k.comm),
        path: c_string(&k.path),
        extra,
        flags: k.flags,
        retval: k.retval,
        cgroup_id: k.cgroup_id,
        hook: hook_name(k.hook),
    })
}

/// Nanoseconds to add to `bpf_ktime_get_boot_ns()` to get Unix time: CLOCK_REALTIME
/// minus CLOCK_BOOTTIME, read now.
pub(crate) fn boot_to_unix_offset_ns() -> i128 {
    fn now(clock: libc::clockid_t) -> i128 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; clock_gettime only writes it.
        let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
        if rc != 0 {
            return 0;
        }
        i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
    }
    now(libc::CLOCK_REALTIME) - now(libc::CLOCK_BOOTTIME)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::offset_of;

    const HEADER: &str = include_str!("../bpf/conanchor_event.h");

    /// The value of `#define NAME <number>` in the C header.
    fn c_define(name: &str) -> usize {
        HEADER
            .lines()
            .find_map(|line| {
                let mut words = line.split_whitespace();
                (words.next() == Some("#define") && words.next() == Some(name))
                    .then(|| words.next().and_then(|v| v.parse().ok()))
                    .flatten()
            })
            .unwrap_or_else(|| panic!("{name} is not #defined to a number in conanchor_event.h"))
    }

    #[test]
    fn rust_layout_matches_the_c_header() {
        assert_eq!(
            std::mem::size_of::<KernelEvent>(),
            c_define("CONANCHOR_EVENT_SIZE")
        );
        assert_eq!(layout::EVENT_SIZE, c_define("CONANCHOR_EVENT_SIZE"));
        let offsets = [
            ("CONANCHOR_OFF_BOOT_NS", offset_of!(KernelEvent, boot_ns)),
            (
                "CONANCHOR_OFF_CGROUP_ID",
                offset_of!(KernelEvent, cgroup_id),
            ),
            ("CONANCHOR_OFF_FLAGS", offset_of!(KernelEvent, flags)),
            ("CONANCHOR_OFF_RETVAL", offset_of!(KernelEvent, retval)),
            ("CONANCHOR_OFF_KIND", offset_of!(KernelEvent, kind)),
            ("CONANCHOR_OFF_HOOK", offset_of!(KernelEvent, hook)),
            ("CONANCHOR_OFF_PID", offset_of!(KernelEvent, pid)),
            ("CONANCHOR_OFF_TGID", offset_of!(KernelEvent, tgid)),
            ("CONANCHOR_OFF_UID", offset_of!(KernelEvent, uid)),
            ("CONANCHOR_OFF_GID", offset_of!(KernelEvent, gid)),
            ("CONANCHOR_OFF_COMM", offset_of!(KernelEvent, comm)),
            ("CONANCHOR_OFF_PATH", offset_of!(KernelEvent, path)),
            ("CONANCHOR_OFF_FSTYPE", offset_of!(KernelEvent, fstype)),
            ("CONANCHOR_OFF_SOURCE", offset_of!(KernelEvent, source)),
        ];
        for (name, rust) in offsets {
            assert_eq!(
                rust,
                c_define(name),
                "{name}: Rust offset differs from the C header"
            );
        }
        assert_eq!(layout::COMM_LEN, c_define("CONANCHOR_COMM_LEN"));
        assert_eq!(layout::PATH_LEN, c_define("CONANCHOR_PATH_LEN"));
        assert_eq!(layout::FSTYPE_LEN, c_define("CONANCHOR_FSTYPE_LEN"));
        assert_eq!(layout::SOURCE_LEN, c_define("CONANCHOR_SOURCE_LEN"));
        assert_eq!(KIND_EXEC as usize, c_define("CONANCHOR_KIND_EXEC"));
        assert_eq!(
            KIND_FILE_OPEN as usize,
            c_define("CONANCHOR_KIND_FILE_OPEN")
        );
        assert_eq!(KIND_MOUNT as usize, c_define("CONANCHOR_KIND_MOUNT"));
    }

    #[test]
    fn hook_codes_match_the_c_header() {
        let hooks = [
            ("CONANCHOR_HOOK_LSM_BPRM_CHECK", "lsm/bprm_check_security"),
            ("CONANCHOR_HOOK_LSM_FILE_OPEN", "lsm/file_open"),
            ("CONANCHOR_HOOK_LSM_SB_MOUNT", "lsm/sb_mount"),
            ("CONANCHOR_HOOK_TP_EXEC", "tp_btf/sched_process_exec"),
            ("CONANCHOR_HOOK_TP_OPENAT", "tp_btf/sys_exit:openat"),
            ("CONANCHOR_HOOK_TP_OPENAT2", "tp_btf/sys_exit:openat2"),
            ("CONANCHOR_HOOK_TP_MOUNT", "tp_btf/sys_exit:mount"),
            ("CONANCHOR_HOOK_TP_FSMOUNT", "tp_btf/sys_exit:fsmount"),
            ("CONANCHOR_HOOK_TP_MOVE_MOUNT", "tp_btf/sys_exit:move_mount"),
        ];
        for (define, name) in hooks {
            assert_eq!(hook_name(c_define(define) as u32), name, "{define}");
        }
    }

    /// Builds a record the way the kernel lays it out, field by field at the C offsets.
    struct Record(Vec<u8>);

    impl Record {
        fn new(kind: u32, hook: u32) -> Record {
            let mut r = Record(vec![0; c_define("CONANCHOR_EVENT_SIZE")]);
            r.put("CONANCHOR_OFF_KIND", &kind.to_ne_bytes());
            r.put("CONANCHOR_OFF_HOOK", &hook.to_ne_bytes());
            r
        }
        fn put(&mut self, offset: &str, bytes: &[u8]) -> &mut Record {
            let at = c_define(offset);
            self.0[at..at + bytes.len()].copy_from_slice(bytes);
            self
        }
    }

    #[test]
    fn decodes_an_exec_record() {
        let mut r = Record::new(1, 4);
        r.put("CONANCHOR_OFF_BOOT_NS", &5_000u64.to_ne_bytes())
            .put("CONANCHOR_OFF_CGROUP_ID", &49_396u64.to_ne_bytes())
            .put("CONANCHOR_OFF_PID", &1235u32.to_ne_bytes())
            .put("CONANCHOR_OFF_TGID", &1234u32.to_ne_bytes())
            .put("CONANCHOR_OFF_UID", &1000u32.to_ne_bytes())
            .put("CONANCHOR_OFF_GID", &100u32.to_ne_bytes())
            .put("CONANCHOR_OFF_COMM", b"wget\0")
            .put("CONANCHOR_OFF_PATH", b"/usr/bin/wget\0");
        let ev = decode(&r.0, 1_700_000_000_000_000_000).unwrap();
        assert_eq!(
            ev,
            RawEvent {
                timestamp_ns: 1_700_000_000_000_005_000,
                kind: EventKind::Exec,
                pid: 1235,
                tgid: 1234,
                uid: 1000,
                gid: 100,
                comm: "wget".into(),
                path: "/usr/bin/wget".into(),
                extra: String::new(),
                flags: 0,
                retval: 0,
                cgroup_id: 49_396,
                hook: "tp_btf/sched_process_exec",
            }
        );
    }

    #[test]
    fn decodes_a_mount_record_with_extra() {
        let mut r = Record::new(3, 7);
        r.put("CONANCHOR_OFF_PATH", b"/host\0")
            .put("CONANCHOR_OFF_FSTYPE", b"proc\0")
            .put("CONANCHOR_OFF_SOURCE", b"none\0")
            .put("CONANCHOR_OFF_FLAGS", &0x1000u64.to_ne_bytes())
            .put("CONANCHOR_OFF_RETVAL", &(-1i64).to_ne_bytes());
        let ev = decode(&r.0, 0).unwrap();
        assert_eq!(ev.kind, EventKind::Mount);
        assert_eq!(ev.path, "/host");
        assert_eq!(ev.extra, "fstype=proc source=none via=mount");
        assert_eq!(ev.flags, 0x1000);
        assert_eq!(ev.retval, -1);
        assert_eq!(ev.hook, "tp_btf/sys_exit:mount");
    }

    #[test]
    fn strings_are_cut_at_nul_and_converted_lossily() {
        let mut r = Record::new(2, 5);
        // bytes after the NUL are stale kernel data and must not leak into the event
        r.put("CONANCHOR_OFF_PATH", b"/run/secrets/\xff\xfeoken\0garbage")
            .put("CONANCHOR_OFF_COMM", &[b'x'; 16]);
        let ev = decode(&r.0, 0).unwrap();
        assert_eq!(ev.path, "/run/secrets/\u{fffd}\u{fffd}oken");
        assert_eq!(
            ev.comm,
            "x".repeat(16),
            "an unterminated buffer is used whole"
        );
        assert_eq!(ev.kind.as_str(), "file_open");
    }

    #[test]
    fn rejects_short_records_and_unknown_kinds() {
        assert_eq!(decode(&[0u8; 100], 0), Err(DecodeError::Short(100)));
        let r = Record::new(9, 1);
        assert_eq!(decode(&r.0, 0), Err(DecodeError::UnknownKind(9)));
    }

    #[test]
    fn timestamps_never_wrap_below_zero() {
        let r = Record::new(1, 4);
        assert_eq!(decode(&r.0, -5).unwrap().timestamp_ns, 0);
    }

    #[test]
    fn boot_offset_is_a_plausible_unix_time() {
        let off = boot_to_unix_offset_ns();
        // after 2020-01-01 and the machine booted less than 10 years ago
        assert!(off > 1_577_836_800_000_000_000 - 315_360_000_000_000_000);
    }
}
