// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/*
 * ConAnchor kernel probe.
 *
 * Two sets of programs produce the same three events:
 *   LSM mode:        lsm/bprm_check_security, lsm/file_open, lsm/sb_mount
 *                    (+ tp_btf/sys_exit for the new mount API, which sb_mount misses)
 *   tracepoint mode: tp_btf/sched_process_exec, tp_btf/sys_exit
 *                    (openat, openat2, mount, fsopen, fsmount, move_mount)
 * Everything is filtered here, so only matching events from targeted cgroups cross
 * the ring buffer. A failed ring buffer write is counted per cgroup in `drops`.
 */
#include "bpf_min.h"
#include "kernel_types.h"
#include "conanchor_event.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by the loader before load (.rodata). */
volatile const __u32 conanchor_filter_cgroups = 0; /* 1: only cgroups in target_cgroups */
volatile const __u32 conanchor_lsm_mode = 0;       /* 1: sys_exit only does the new mount API */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u8);
} target_cgroups SEC(".maps");

/* cgroup id -> events lost because the ring buffer was full; key 0 = unattributed */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u64);
} drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct conanchor_event);
} scratch SEC(".maps");

/* tgid -> file system type of its last fsopen(), for fsmount/move_mount */
struct fstype_name {
	char name[CONANCHOR_FSTYPE_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct fstype_name);
} fsopen_types SEC(".maps");

static __always_inline int cgroup_wanted(__u64 cgroup_id)
{
	if (!conanchor_filter_cgroups)
		return 1;
	return bpf_map_lookup_elem(&target_cgroups, &cgroup_id) != 0;
}

static __always_inline void count_drop(__u64 cgroup_id)
{
	__u64 one = 1, unattributed = 0;
	__u64 *n = bpf_map_lookup_elem(&drops, &cgroup_id);

	if (n) {
		__sync_fetch_and_add(n, 1);
		return;
	}
	if (bpf_map_update_elem(&drops, &cgroup_id, &one, BPF_NOEXIST) == 0)
		return;
	/* another CPU created the entry first, or the map is full */
	n = bpf_map_lookup_elem(&drops, &cgroup_id);
	if (!n)
		n = bpf_map_lookup_elem(&drops, &unattributed);
	if (n)
		__sync_fetch_and_add(n, 1);
}

/* The per-CPU event being built, zeroed, with the task's identity filled in. */
static __always_inline struct conanchor_event *event_start(__u32 kind, __u32 hook,
							   __u64 cgroup_id)
{
	__u32 zero = 0;
	struct conanchor_event *e = bpf_map_lookup_elem(&scratch, &zero);
	__u64 pid_tgid, uid_gid;

	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	pid_tgid = bpf_get_current_pid_tgid();
	uid_gid = bpf_get_current_uid_gid();
	e->boot_ns = bpf_ktime_get_boot_ns();
	e->cgroup_id = cgroup_id;
	e->kind = kind;
	e->hook = hook;
	e->pid = (__u32)pid_tgid;
	e->tgid = pid_tgid >> 32;
	e->uid = (__u32)uid_gid;
	e->gid = uid_gid >> 32;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	return e;
}

static __always_inline void emit(struct conanchor_event *e)
{
	if (bpf_ringbuf_output(&events, e, sizeof(*e), 0) != 0)
		count_drop(e->cgroup_id);
}

/* Literal comparisons: with a string literal (constant length), clang unrolls the
 * loop into a few byte compares against immediates. */
#define HAS_PREFIX_N(s, lit, n)                               \
	({                                                    \
		int __ok = 1;                                 \
		_Pragma("unroll") for (int __i = 0; __i < (n); __i++) \
		{                                             \
			if ((s)[__i] != (lit)[__i]) {         \
				__ok = 0;                     \
				break;                        \
			}                                     \
		}                                             \
		__ok;                                         \
	})
#define HAS_PREFIX(s, lit) HAS_PREFIX_N(s, lit, (int)sizeof(lit) - 1)
/* s is lit, or lies under the directory lit */
#define IS_UNDER(s, lit) \
	(HAS_PREFIX(s, lit) && ((s)[sizeof(lit) - 1] == 0 || (s)[sizeof(lit) - 1] == '/'))
#define STR_EQ(s, lit) HAS_PREFIX_N(s, lit, (int)sizeof(lit))

static __always_inline int is_secret_path(const char *p)
{
	return HAS_PREFIX(p, "/var/run/secrets/") || HAS_PREFIX(p, "/run/secrets/");
}

static __always_inline int is_suspicious_mount_path(const char *p)
{
	return IS_UNDER(p, "/proc") || IS_UNDER(p, "/sys") || IS_UNDER(p, "/host") ||
	       IS_UNDER(p, "/mnt") || IS_UNDER(p, "/var/run");
}

static __always_inline int is_suspicious_fstype(const char *t)
{
	return STR_EQ(t, "proc") || STR_EQ(t, "sysfs") || STR_EQ(t, "cgroup") ||
	       STR_EQ(t, "cgroup2") || STR_EQ(t, "overlay");
}

static __always_inline int is_suspicious_mount(const struct conanchor_event *e)
{
	return is_suspicious_mount_path(e->path) || is_suspicious_fstype(e->fstype) ||
	       is_suspicious_mount_path(e->source);
}

/* Is the last component of path exactly "wget"? `len` is what
 * bpf_probe_read_kernel_str returned: the length with the NUL. Looks only at the
 * end of the string, so no loop (a scan for the last '/' blows up the verifier). */
static __always_inline int basename_is_wget(const char *path, long len)
{
	long at;

	if (len < 5 || len > CONANCHOR_PATH_LEN)
		return 0;
	at = len - 5; /* index of the 'w' in ".../wget\0", 0..251 */
	if (path[at] != 'w' || path[at + 1] != 'g' || path[at + 2] != 'e' || path[at + 3] != 't')
		return 0;
	return at == 0 || path[at - 1] == '/';
}

/* ---- exec ---------------------------------------------------------------- */

static __always_inline void exec_event(struct linux_binprm *bprm, __u32 hook)
{
	__u64 cgroup_id = bpf_get_current_cgroup_id();
	struct conanchor_event *e;
	long len;

	if (!cgroup_wanted(cgroup_id))
		return;
	e = event_start(CONANCHOR_KIND_EXEC, hook, cgroup_id);
	if (!e)
		return;
	len = bpf_probe_read_kernel_str(e->path, sizeof(e->path), bprm->filename);
	if (!basename_is_wget(e->path, len))
		return;
	/* the name the kernel gives the new program (the LSM hook runs before it is set) */
	__builtin_memset(e->comm, 0, sizeof(e->comm));
	__builtin_memcpy(e->comm, "wget", 4);
	emit(e);
}

SEC("lsm/bprm_check_security")
int conanchor_lsm_exec(__u64 *ctx)
{
	struct linux_binprm *bprm = (void *)ctx[0];

	/* the hook runs again for a script's interpreter: report the execve once */
	if (bprm->interp == bprm->filename)
		exec_event(bprm, CONANCHOR_HOOK_LSM_BPRM_CHECK);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int conanchor_tp_exec(__u64 *ctx)
{
	struct linux_binprm *bprm = (void *)ctx[2];

	exec_event(bprm, CONANCHOR_HOOK_TP_EXEC);
	return 0;
}

/* ---- LSM file open and mount ---------------------------------------------- */

SEC("lsm/file_open")
int conanchor_lsm_open(__u64 *ctx)
{
	struct file *file = (void *)ctx[0];
	__u64 cgroup_id = bpf_get_current_cgroup_id();
	struct conanchor_event *e;

	if (!cgroup_wanted(cgroup_id))
		return 0;
	e = event_start(CONANCHOR_KIND_FILE_OPEN, CONANCHOR_HOOK_LSM_FILE_OPEN, cgroup_id);
	if (!e)
		return 0;
	if (bpf_d_path(&file->f_path, e->path, sizeof(e->path)) < 0)
		return 0;
	if (!is_secret_path(e->path))
		return 0;
	e->flags = file->f_flags;
	emit(e);
	return 0;
}

SEC("lsm/sb_mount")
int conanchor_lsm_mount(__u64 *ctx)
{
	const char *dev_name = (void *)ctx[0];
	struct path *target = (void *)ctx[1];
	const char *type = (void *)ctx[2];
	__u64 cgroup_id = bpf_get_current_cgroup_id();
	struct conanchor_event *e;

	if (!cgroup_wanted(cgroup_id))
		return 0;
	e = event_start(CONANCHOR_KIND_MOUNT, CONANCHOR_HOOK_LSM_SB_MOUNT, cgroup_id);
	if (!e)
		return 0;
	if (bpf_d_path(target, e->path, sizeof(e->path)) < 0)
		e->path[0] = 0;
	if (type)
		bpf_probe_read_kernel_str(e->fstype, sizeof(e->fstype), type);
	if (dev_name)
		bpf_probe_read_kernel_str(e->source, sizeof(e->source), dev_name);
	e->flags = ctx[3];
	if (is_suspicious_mount(e))
		emit(e);
	return 0;
}

/* ---- syscalls (tracepoint mode; new mount API in both modes) --------------- */

static __always_inline void open_event(struct pt_regs *regs, long ret, __u64 cgroup_id,
				       int openat2)
{
	const char *filename = (const char *)SYSCALL_ARG2(regs);
	struct conanchor_event *e;

	e = event_start(CONANCHOR_KIND_FILE_OPEN,
			openat2 ? CONANCHOR_HOOK_TP_OPENAT2 : CONANCHOR_HOOK_TP_OPENAT, cgroup_id);
	if (!e)
		return;
	if (bpf_probe_read_user_str(e->path, sizeof(e->path), filename) < 0)
		return;
	if (!is_secret_path(e->path))
		return;
	e->retval = ret;
	if (openat2) {
		/* struct open_how starts with __u64 flags */
		if (bpf_probe_read_user(&e->flags, sizeof(e->flags), (void *)SYSCALL_ARG3(regs)) < 0)
			e->flags = 0;
	} else {
		e->flags = (__u32)SYSCALL_ARG3(regs);
	}
	emit(e);
}

static __always_inline void mount_event(struct pt_regs *regs, long ret, __u64 cgroup_id)
{
	const char *source = (const char *)SYSCALL_ARG1(regs);
	const char *target = (const char *)SYSCALL_ARG2(regs);
	const char *type = (const char *)SYSCALL_ARG3(regs);
	struct conanchor_event *e;

	e = event_start(CONANCHOR_KIND_MOUNT, CONANCHOR_HOOK_TP_MOUNT, cgroup_id);
	if (!e)
		return;
	if (bpf_probe_read_user_str(e->path, sizeof(e->path), target) < 0)
		e->path[0] = 0;
	if (type && bpf_probe_read_user_str(e->fstype, sizeof(e->fstype), type) < 0)
		e->fstype[0] = 0;
	if (source && bpf_probe_read_user_str(e->source, sizeof(e->source), source) < 0)
		e->source[0] = 0;
	e->flags = SYSCALL_ARG4(regs);
	e->retval = ret;
	if (is_suspicious_mount(e))
		emit(e);
}

static __always_inline void fsopen_record(struct pt_regs *regs)
{
	struct fstype_name t = {};
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (bpf_probe_read_user_str(t.name, sizeof(t.name), (void *)SYSCALL_ARG1(regs)) < 0)
		return;
	bpf_map_update_elem(&fsopen_types, &tgid, &t, BPF_ANY);
}

/* fsmount() makes a detached mount (usable through its fd, no target yet);
 * move_mount() attaches a mount at a target. The file system type is the one of
 * the process's last fsopen(), when it made one. */
static __always_inline void new_mount_api_event(struct pt_regs *regs, long ret,
						__u64 cgroup_id, int is_move)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct fstype_name *t = bpf_map_lookup_elem(&fsopen_types, &tgid);
	struct conanchor_event *e;

	e = event_start(CONANCHOR_KIND_MOUNT,
			is_move ? CONANCHOR_HOOK_TP_MOVE_MOUNT : CONANCHOR_HOOK_TP_FSMOUNT,
			cgroup_id);
	if (!e)
		return;
	if (t)
		__builtin_memcpy(e->fstype, t->name, sizeof(e->fstype));
	if (is_move) {
		if (bpf_probe_read_user_str(e->path, sizeof(e->path),
					    (void *)SYSCALL_ARG4(regs)) < 0)
			e->path[0] = 0;
		if (bpf_probe_read_user_str(e->source, sizeof(e->source),
					    (void *)SYSCALL_ARG2(regs)) < 0)
			e->source[0] = 0;
		e->flags = (__u32)SYSCALL_ARG5(regs);
	} else {
		e->flags = (__u32)SYSCALL_ARG2(regs);
	}
	e->retval = ret;
	if (is_suspicious_mount(e))
		emit(e);
}

/* At syscall exit rather than entry: the kernel has copied the arguments by then,
 * so their user pages are present (at entry a not-yet-faulted page makes the string
 * read fail and the event vanish), and the result is known. The argument registers
 * are still those of the call. */
SEC("tp_btf/sys_exit")
int conanchor_tp_sys_exit(__u64 *ctx)
{
	struct pt_regs *regs = (void *)ctx[0];
	long ret = (long)ctx[1];
	long id = (long)regs->orig_ax;
	__u64 cgroup_id;

	switch (id) {
	case NR_openat:
	case NR_openat2:
	case NR_mount:
		if (conanchor_lsm_mode)
			return 0;
		break;
	case NR_fsopen:
	case NR_fsmount:
	case NR_move_mount:
		break;
	default:
		return 0;
	}
	cgroup_id = bpf_get_current_cgroup_id();
	if (!cgroup_wanted(cgroup_id))
		return 0;
	switch (id) {
	case NR_openat:
		open_event(regs, ret, cgroup_id, 0);
		break;
	case NR_openat2:
		open_event(regs, ret, cgroup_id, 1);
		break;
	case NR_mount:
		mount_event(regs, ret, cgroup_id);
		break;
	case NR_fsopen:
		if (ret >= 0)
			fsopen_record(regs);
		break;
	case NR_fsmount:
		new_mount_api_event(regs, ret, cgroup_id, 0);
		break;
	case NR_move_mount:
		new_mount_api_event(regs, ret, cgroup_id, 1);
		break;
	}
	return 0;
}
