/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * The kernel types the program touches, reduced to the fields it reads. With
 * preserve_access_index every field access is a CO-RE relocation that the loader
 * resolves by name against the running kernel's BTF, so declaration order and the
 * missing fields do not matter. This replaces a multi-megabyte generated vmlinux.h.
 */
#ifndef CONANCHOR_KERNEL_TYPES_H
#define CONANCHOR_KERNEL_TYPES_H

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct vfsmount;
struct dentry;

struct path {
	struct vfsmount *mnt;
	struct dentry *dentry;
};

struct file {
	struct path f_path;
	unsigned int f_flags;
};

struct linux_binprm {
	struct file *file;
	const char *filename;
	const char *interp;
};

#if defined(__TARGET_ARCH_x86)
/* x86-64 syscall arguments: di, si, dx, r10, r8, r9 */
struct pt_regs {
	unsigned long r8;
	unsigned long r10;
	unsigned long dx;
	unsigned long si;
	unsigned long di;
	unsigned long orig_ax; /* the syscall number */
};
#define SYSCALL_ARG1(regs) ((regs)->di)
#define SYSCALL_ARG2(regs) ((regs)->si)
#define SYSCALL_ARG3(regs) ((regs)->dx)
#define SYSCALL_ARG4(regs) ((regs)->r10)
#define SYSCALL_ARG5(regs) ((regs)->r8)

/* x86-64 syscall numbers */
#define NR_mount 165
#define NR_openat 257
#define NR_move_mount 429
#define NR_fsopen 430
#define NR_fsmount 432
#define NR_openat2 437
#else
#error "conanchor.bpf.c supports x86-64 only: build with -D__TARGET_ARCH_x86"
#endif

#pragma clang attribute pop

#endif /* CONANCHOR_KERNEL_TYPES_H */
