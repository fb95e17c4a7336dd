// SPDX-License-Identifier: GPL-2.0
// Shared by the BPF programs and, through bpf2go's generated types, the Go side.
#pragma once

#define PODPROF_PATH_MAX 4096

enum podprof_flags {
	PODPROF_READ = 1 << 0,
	PODPROF_WRITE = 1 << 1,
	PODPROF_EXEC = 1 << 2,
	PODPROF_TRUNCATED = 1 << 3, // the path was longer than PODPROF_PATH_MAX - 1
};

// One file a traced container opened. Sent with only path_len bytes of path.
struct event {
	__u64 ns_id; // the mount namespace's 64-bit id, never reused (0 if unknown)
	__u32 mntns; // the mount namespace's inode number: the containers map key
	__u32 pid;   // thread-group id of the opener
	enum podprof_flags flags;
	__u32 path_len;
	char comm[16];
	char path[PODPROF_PATH_MAX];
};

// System calls are recorded per ABI of the calling task, as seccomp filters
// match them: the numbers of each ABI are its own.
enum podprof_abi {
	PODPROF_ABI_X86_64,
	PODPROF_ABI_I386, // a 32-bit program through the compat entry
	PODPROF_ABI_X32,  // x32: the x86_64 entry with __X32_SYSCALL_BIT
	PODPROF_ABIS,
};

// Numbers run to 547 (x32's own calls start at 512): one bit each, up to 1023.
#define PODPROF_SYSCALL_WORDS 16

// The system calls one traced container made, a bit per (ABI, number).
struct syscall_set {
	__u64 bits[PODPROF_ABIS][PODPROF_SYSCALL_WORDS];
};
