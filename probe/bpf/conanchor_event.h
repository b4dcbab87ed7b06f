/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * The one event layout shared by the BPF program and user space.
 *
 * probe/src/events.rs mirrors `struct conanchor_event` as a #[repr(C)] struct and
 * asserts the same size and offsets as the _Static_asserts below, so a change on
 * one side that is not made on the other fails to compile (C) or fails a test (Rust).
 * Every field is naturally aligned and there is no implicit padding.
 */
#ifndef CONANCHOR_EVENT_H
#define CONANCHOR_EVENT_H

#define CONANCHOR_COMM_LEN 16
#define CONANCHOR_PATH_LEN 256
#define CONANCHOR_FSTYPE_LEN 32
#define CONANCHOR_SOURCE_LEN 128

/* event kinds */
#define CONANCHOR_KIND_EXEC 1
#define CONANCHOR_KIND_FILE_OPEN 2
#define CONANCHOR_KIND_MOUNT 3

/* which kernel hook produced the event */
#define CONANCHOR_HOOK_LSM_BPRM_CHECK 1
#define CONANCHOR_HOOK_LSM_FILE_OPEN 2
#define CONANCHOR_HOOK_LSM_SB_MOUNT 3
#define CONANCHOR_HOOK_TP_EXEC 4
#define CONANCHOR_HOOK_TP_OPENAT 5
#define CONANCHOR_HOOK_TP_OPENAT2 6
#define CONANCHOR_HOOK_TP_MOUNT 7
#define CONANCHOR_HOOK_TP_FSMOUNT 8
#define CONANCHOR_HOOK_TP_MOVE_MOUNT 9

struct conanchor_event {
	__u64 boot_ns;   /* bpf_ktime_get_boot_ns() */
	__u64 cgroup_id; /* bpf_get_current_cgroup_id(): cgroup v2 inode */
	__u64 flags;     /* open flags, mount flags; 0 for exec */
	__s64 retval;    /* syscall result (tracepoint mode); 0 for LSM hooks (taken before) */
	__u32 kind;      /* CONANCHOR_KIND_* */
	__u32 hook;      /* CONANCHOR_HOOK_* */
	__u32 pid;       /* thread id */
	__u32 tgid;      /* process id */
	__u32 uid;
	__u32 gid;
	char comm[CONANCHOR_COMM_LEN];
	char path[CONANCHOR_PATH_LEN];     /* exec: file; open: file; mount: target */
	char fstype[CONANCHOR_FSTYPE_LEN]; /* mount only */
	char source[CONANCHOR_SOURCE_LEN]; /* mount only: device or bind source */
};

#define CONANCHOR_EVENT_SIZE 488
#define CONANCHOR_OFF_BOOT_NS 0
#define CONANCHOR_OFF_CGROUP_ID 8
#define CONANCHOR_OFF_FLAGS 16
#define CONANCHOR_OFF_RETVAL 24
#define CONANCHOR_OFF_KIND 32
#define CONANCHOR_OFF_HOOK 36
#define CONANCHOR_OFF_PID 40
#define CONANCHOR_OFF_TGID 44
#define CONANCHOR_OFF_UID 48
#define CONANCHOR_OFF_GID 52
#define CONANCHOR_OFF_COMM 56
#define CONANCHOR_OFF_PATH 72
#define CONANCHOR_OFF_FSTYPE 328
#define CONANCHOR_OFF_SOURCE 360

_Static_assert(sizeof(struct conanchor_event) == CONANCHOR_EVENT_SIZE, "event size");
_Static_assert(__builtin_offsetof(struct conanchor_event, boot_ns) == CONANCHOR_OFF_BOOT_NS, "boot_ns");
_Static_assert(__builtin_offsetof(struct conanchor_event, cgroup_id) == CONANCHOR_OFF_CGROUP_ID, "cgroup_id");
_Static_assert(__builtin_offsetof(struct conanchor_event, flags) == CONANCHOR_OFF_FLAGS, "flags");
_Static_assert(__builtin_offsetof(struct conanchor_event, retval) == CONANCHOR_OFF_RETVAL, "retval");
_Static_assert(__builtin_offsetof(struct conanchor_event, kind) == CONANCHOR_OFF_KIND, "kind");
_Static_assert(__builtin_offsetof(struct conanchor_event, hook) == CONANCHOR_OFF_HOOK, "hook");
_Static_assert(__builtin_offsetof(struct conanchor_event, pid) == CONANCHOR_OFF_PID, "pid");
_Static_assert(__builtin_offsetof(struct conanchor_event, tgid) == CONANCHOR_OFF_TGID, "tgid");
_Static_assert(__builtin_offsetof(struct conanchor_event, uid) == CONANCHOR_OFF_UID, "uid");
_Static_assert(__builtin_offsetof(struct conanchor_event, gid) == CONANCHOR_OFF_GID, "gid");
_Static_assert(__builtin_offsetof(struct conanchor_event, comm) == CONANCHOR_OFF_COMM, "comm");
_Static_assert(__builtin_offsetof(struct conanchor_event, path) == CONANCHOR_OFF_PATH, "path");
_Static_assert(__builtin_offsetof(struct conanchor_event, fstype) == CONANCHOR_OFF_FSTYPE, "fstype");
_Static_assert(__builtin_offsetof(struct conanchor_event, source) == CONANCHOR_OFF_SOURCE, "source");

#endif /* CONANCHOR_EVENT_H */
