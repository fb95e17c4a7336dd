//go:build ignore

// SPDX-License-Identifier: GPL-2.0
//
// podprof's kernel side: record every file a traced container opens, once.
//
// A container is traced when its mount namespace's inode number is a key of
// the `containers` map; the value is the slot of `dedups` that holds that
// container's own dedup map, so that forgetting a container (deleting its
// slot) frees everything it recorded. A slot, not the map itself: the kernel
// waits for an RCU grace period (milliseconds) on every update of a map of
// maps, so the Go side fills a slot ahead, and the container's start only
// waits for an update of a plain hash.
//
// Three ways to see an open, one chosen at load time by the Go side:
//   lsm/file_open               every open, needs `bpf` in the active LSM list;
//   fentry/security_file_open   the same function, for kernels without BPF LSM;
//   tp_btf/sys_exit             the open family of syscalls, mapping the
//                               returned fd to its struct file, for kernels
//                               that refuse BPF trampolines.
// With tracepoints, tp_btf/sched_process_exec also records the exec'd binary
// and its ELF interpreter, which the kernel opens without a system call.
//
// In any mode, tp_btf/sys_enter records the system calls of the containers
// that ask for them (a seccomp profile), as bits of a per-container set.
//
// Paths are built by walking dentries and mounts up to the task's root, so
// they read as the container sees them and are the same in all three modes
// (bpf_d_path is not allowed in tp_btf programs).

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "podprof.h"

char LICENSE[] SEC("license") = "GPL";

// Kernel constants that BTF does not carry (include/linux/fs.h, auxvec.h).
#define FMODE_READ 0x1
#define FMODE_WRITE 0x2
#define FMODE_EXEC 0x20
// execve's open marks the file in its open flags with __FMODE_EXEC: the same
// bit as FMODE_EXEC in current kernels, 040000000 in older ones, which also
// copied it into f_mode. Any of the three means exec.
#define FMODE_EXEC_OPEN_FLAG_OLD 040000000
#define AT_BASE 7
#define AUXV_PAIRS 28 // mm_struct.saved_auxv holds AT_VECTOR_SIZE (56) words

// x86_64 system call numbers of the open family.
#define NR_open 2
#define NR_creat 85
#define NR_openat 257
#define NR_open_by_handle_at 304
#define NR_openat2 437

#define NAME_MAX 255
#define MAX_COMPONENTS 2048 // a 4,095-byte path has at most 2,048 components

struct dedup_key {
	__u64 dentry;
	__u64 mnt;
	__u64 ino;
};

// One per traced container, created by the Go side. A hit means this
// (dentry, mount) was already reported with at least these flags. The
// inode number guards against a dentry freed and its memory reused for
// another file: a false hit needs another name of the same inode on the
// same mount at the same address, a hardlink, which the report counts as
// one file anyway.
struct dedup_map {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1 << 17); // buckets are allocated up front: 2 MB
	// Sizes, not types: clang emits an inner map's key struct as a
	// forward declaration, which loaders cannot size.
	__uint(key_size, sizeof(struct dedup_key));
	__uint(value_size, sizeof(__u32));
};

#define MAX_CONTAINERS 4096

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_CONTAINERS);
	__type(key, __u32);   // mount namespace inode number
	__type(value, __u32); // its slot of dedups
} containers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	// Room for slots filled ahead and slots being emptied, which waits for
	// a grace period too, besides the containers'.
	__uint(max_entries, 2 * MAX_CONTAINERS);
	__type(key, __u32);
	__array(values, struct dedup_map);
} dedups SEC(".maps");

// dedup_map_of returns the dedup map of the container whose mount namespace
// has inode number inum, or NULL if it is not traced.
static __always_inline void *dedup_map_of(__u32 inum)
{
	__u32 *slot = bpf_map_lookup_elem(&containers, &inum);

	if (!slot)
		return NULL;
	return bpf_map_lookup_elem(&dedups, slot);
}

// Events the ring buffer had no room for, per container. The Go side creates
// the entry when it starts tracing, so the kernel only ever increments.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

// The event under construction and the path walk's scratch space: too big
// for the 512-byte BPF stack. Programs run with migration disabled and do not
// nest on one CPU, so one slot per CPU is enough.
struct scratch {
	struct event event;
	// The walk writes components right to left, ending at PATH_END; the
	// slack below 0 is never written, the slack above PATH_END lets the
	// verifier prove a masked offset plus NAME_MAX stays inside.
	char walk[2 * PODPROF_PATH_MAX];
};

#define PATH_END PODPROF_PATH_MAX

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

// Older kernels (before 6.18) keep the 64-bit namespace id in mnt_namespace.seq.
struct mnt_namespace___seq {
	u64 seq;
} __attribute__((preserve_access_index));

static __always_inline __u64 mntns_id(struct mnt_namespace *ns)
{
	if (bpf_core_field_exists(ns->ns.ns_id))
		return BPF_CORE_READ(ns, ns.ns_id);
	return BPF_CORE_READ((struct mnt_namespace___seq *)ns, seq);
}

static __always_inline struct mount *real_mount(struct vfsmount *mnt)
{
	return (void *)mnt - bpf_core_field_offset(struct mount, mnt);
}

// The runtime (runc init, crun, runc exec) works inside the container's mount
// namespace before it execs the user's program: it opens host paths such as
// .../overlay/<id>/merged, exec.fifo and /proc/1/*. Its executable was opened
// in the host's namespace, so its mount is not in the task's namespace; a
// program exec'd inside the container always is.
static __always_inline bool runs_container_code(struct task_struct *task, struct mnt_namespace *ns)
{
	struct vfsmount *exe = BPF_CORE_READ(task, mm, exe_file, f_path.mnt);

	return exe && BPF_CORE_READ(real_mount(exe), mnt_ns) == ns;
}

static __always_inline bool mount_in(struct vfsmount *vfsmnt, struct mnt_namespace *ns)
{
	return BPF_CORE_READ(real_mount(vfsmnt), mnt_ns) == ns;
}

struct walk {
	struct dentry *dentry;
	struct vfsmount *vfsmnt;
	struct dentry *root_dentry;
	struct vfsmount *root_vfsmnt;
	__u32 off; // the path so far is walk[off, PATH_END)
	__u32 truncated;
};

static long walk_step(__u32 i, struct walk *w)
{
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch, &zero);
	struct dentry *d = w->dentry;

	if (!s)
		return 1;
	if (d == w->root_dentry && w->vfsmnt == w->root_vfsmnt)
		return 1;

	// Field reads go through locals: BPF_CORE_READ on w->x would ask the
	// loader to relocate struct walk, which the kernel does not have.
	struct vfsmount *vfsmnt = w->vfsmnt;
	struct mount *m = real_mount(vfsmnt);
	if (d == BPF_CORE_READ(vfsmnt, mnt_root)) {
		// At the top of a mount: continue from where it is mounted.
		struct mount *parent = BPF_CORE_READ(m, mnt_parent);
		if (parent == m)
			return 1; // the namespace's root mount: nothing above
		w->dentry = BPF_CORE_READ(m, mnt_mountpoint);
		w->vfsmnt = (void *)parent + bpf_core_field_offset(struct mount, mnt);
		return 0;
	}

	struct dentry *parent = BPF_CORE_READ(d, d_parent);
	if (parent == d)
		return 1;

	struct qstr name = BPF_CORE_READ(d, d_name);
	__u32 len = name.len;
	if (len > NAME_MAX)
		len = NAME_MAX;
	// The path must fit the event with at most PODPROF_PATH_MAX - 1 bytes,
	// the kernel's own limit: walk[0] stays unused. A longer path keeps
	// its last components, whole.
	if (w->off < len + 2) {
		w->truncated = 1;
		return 1;
	}
	__u32 off = (w->off - len - 1) & (PODPROF_PATH_MAX - 1);
	s->walk[off] = '/';
	bpf_probe_read_kernel(&s->walk[off + 1], len, name.name);
	w->off = off;
	w->dentry = parent;
	return 0;
}

static __always_inline struct dedup_key dedup_key_of(struct dentry *dentry, struct vfsmount *vfsmnt)
{
	struct dedup_key key = {
		.dentry = (__u64)dentry,
		.mnt = (__u64)vfsmnt,
		.ino = BPF_CORE_READ(dentry, d_inode, i_ino),
	};
	return key;
}

// seen_before tells whether the container's dedup map has the key with
// these flags already.
static __always_inline bool seen_before(void *seen, struct dedup_key *key, __u32 flags)
{
	__u32 *had = bpf_map_lookup_elem(seen, key);

	return had && (*had | flags) == *had;
}

// report sends the path (dentry, vfsmnt) of the current task's container to
// user space, unless it was sent with these flags already. The caller has
// checked that the open is the container's own. A global function: the
// verifier checks it once, not once per caller.
__noinline int report(__u64 dentry_ptr, __u64 vfsmnt_ptr, __u32 flags)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct mnt_namespace *ns = task->nsproxy->mnt_ns;
	__u32 inum = ns->ns.inum;
	struct dentry *dentry = (void *)dentry_ptr;
	struct vfsmount *vfsmnt = (void *)vfsmnt_ptr;

	void *seen = dedup_map_of(inum);
	if (!seen)
		return 0;
	struct dedup_key key = dedup_key_of(dentry, vfsmnt);
	__u32 *had = bpf_map_lookup_elem(seen, &key);
	if (had) {
		if ((*had | flags) == *had)
			return 0;
		__sync_fetch_and_or(had, flags);
	} else {
		// A full map only costs dedup: the event is still sent and the
		// Go side merges duplicates.
		bpf_map_update_elem(seen, &key, &flags, BPF_NOEXIST);
	}

	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		return 0;
	struct walk w = {
		.dentry = dentry,
		.vfsmnt = vfsmnt,
		.root_dentry = BPF_CORE_READ(task, fs, root.dentry),
		.root_vfsmnt = BPF_CORE_READ(task, fs, root.mnt),
		.off = PATH_END,
	};
	bpf_loop(MAX_COMPONENTS, walk_step, &w, 0);

	struct event *e = &s->event;
	__u32 len = PATH_END - w.off;
	if (len == 0) {
		e->path[0] = '/';
		len = 1;
	} else {
		bpf_probe_read_kernel(e->path, len & (PODPROF_PATH_MAX - 1),
				      &s->walk[w.off & (PODPROF_PATH_MAX - 1)]);
	}
	e->ns_id = mntns_id(ns);
	e->mntns = inum;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->flags = flags | (w.truncated ? PODPROF_TRUNCATED : 0);
	e->path_len = len;
	bpf_get_current_comm(e->comm, sizeof(e->comm));

	__u64 size = offsetof(struct event, path) + (len & (PODPROF_PATH_MAX - 1));
	if (bpf_ringbuf_output(&events, e, size, 0)) {
		__u64 *n = bpf_map_lookup_elem(&lost, &inum);
		if (n)
			__sync_fetch_and_add(n, 1);
	}
	return 0;
}

// traced returns the dedup map of the current task's container, or NULL if
// it is not traced: the one map lookup every open on the host pays.
static __always_inline void *traced(struct task_struct *task, struct mnt_namespace **ns)
{
	*ns = task->nsproxy->mnt_ns;
	__u32 inum = (*ns)->ns.inum;

	return dedup_map_of(inum);
}

// open_flags says how file was opened. Only the kernel's own opens for
// execve can be exec opens: a system call's open never is, and skips the
// read of the open flags.
static __always_inline __u32 open_flags(struct file *file, bool may_exec)
{
	__u32 mode = BPF_CORE_READ(file, f_mode);
	__u32 flags = 0;

	if (mode & FMODE_READ)
		flags |= PODPROF_READ;
	if (mode & FMODE_WRITE)
		flags |= PODPROF_WRITE;
	if (may_exec && ((mode & FMODE_EXEC) ||
			 (BPF_CORE_READ(file, f_flags) & (FMODE_EXEC | FMODE_EXEC_OPEN_FLAG_OLD))))
		flags |= PODPROF_EXEC;
	return flags;
}

// record_open reports an open if it is the container's own. Most opens of
// a traced container are of files it opened before: that case is decided
// first, with the fewest reads.
static __always_inline void record_open(struct task_struct *task, struct mnt_namespace *ns, void *seen,
					struct file *file, bool may_exec)
{
	struct path path = BPF_CORE_READ(file, f_path);
	__u32 flags = open_flags(file, may_exec);
	struct dedup_key key = dedup_key_of(path.dentry, path.mnt);
	if (seen_before(seen, &key, flags))
		return;

	// On overlayfs the kernel opens the backing file too, under the same
	// path. Its mount is not in the task's namespace (6.8+: the overlay's
	// private clone of the layer) or its inode is not on the mount's
	// superblock (before 6.8: the overlay's path with the layer's inode).
	// Either way it is not what the container opened.
	if (!mount_in(path.mnt, ns))
		return;
	if (BPF_CORE_READ(file, f_inode, i_sb) != BPF_CORE_READ(path.mnt, mnt_sb))
		return;
	// The binary and ELF interpreter of an exec are the container's even
	// while the runtime is the one exec'ing them.
	if (!(flags & PODPROF_EXEC) && !runs_container_code(task, ns))
		return;
	report((__u64)path.dentry, (__u64)path.mnt, flags);
}

static __always_inline void file_open(struct file *file)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct mnt_namespace *ns;
	void *seen = traced(task, &ns);

	if (seen)
		record_open(task, ns, seen, file, true);
}

SEC("lsm/file_open")
int BPF_PROG(lsm_file_open, struct file *file)
{
	file_open(file);
	return 0;
}

SEC("fentry/security_file_open")
int BPF_PROG(fentry_file_open, struct file *file)
{
	file_open(file);
	return 0;
}

// sys_exit runs for every system call on the host: the syscall number and
// the result are checked before anything else.
SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit_open, struct pt_regs *regs, long ret)
{
	if (ret < 0)
		return 0;
	long nr = regs->orig_ax;
	if (nr != NR_openat && nr != NR_open && nr != NR_openat2 && nr != NR_creat &&
	    nr != NR_open_by_handle_at)
		return 0;

	struct task_struct *task = bpf_get_current_task_btf();
	struct mnt_namespace *ns;
	void *seen = traced(task, &ns);
	if (!seen)
		return 0;
	struct fdtable *fdt = task->files->fdt;
	if ((unsigned long)ret >= fdt->max_fds)
		return 0;
	struct file *file = NULL;
	bpf_probe_read_kernel(&file, sizeof(file), &fdt->fd[ret]);
	if (file)
		record_open(task, ns, seen, file, false);
	return 0;
}

static long find_interp(struct task_struct *task, struct vm_area_struct *vma, struct file **file)
{
	*file = BPF_CORE_READ(vma, vm_file);
	return 0;
}

// Linux 6.8+ names the path a backing file was opened through here.
struct backing_file___user_path {
	struct file file;
	struct path user_path;
} __attribute__((preserve_access_index));

// report_mapped reports the file behind a mapping by the path the container
// used. A mapping of an overlayfs file holds the layer's file: before 6.8 it
// carries the overlay's path, from 6.8 on the overlay's path is kept in its
// struct backing_file. That field is read only when the file's own path is
// not in the container, and trusted only if it points into the container's
// namespace.
static __always_inline void report_mapped(struct mnt_namespace *ns, struct file *file, __u32 flags)
{
	struct path path = BPF_CORE_READ(file, f_path);

	if (!mount_in(path.mnt, ns)) {
		if (!bpf_core_field_exists(struct backing_file___user_path, user_path))
			return;
		path = BPF_CORE_READ((struct backing_file___user_path *)file, user_path);
		if (!path.mnt || !mount_in(path.mnt, ns))
			return;
	}
	report((__u64)path.dentry, (__u64)path.mnt, flags);
}

// Without the open hooks, the exec'd binary and its ELF interpreter are
// found once the new program is in place: the binary in bprm, the
// interpreter as the mapping at the AT_BASE entry of the auxiliary vector.
SEC("tp_btf/sched_process_exec")
int BPF_PROG(exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	struct mnt_namespace *ns;
	void *seen = traced(task, &ns);
	if (!seen)
		return 0;
	record_open(task, ns, seen, BPF_CORE_READ(bprm, file), true);

	struct mm_struct *mm = task->mm;
	__u64 *auxv = (void *)mm + bpf_core_field_offset(struct mm_struct, saved_auxv);
	__u64 base = 0;
	for (int i = 0; i < AUXV_PAIRS; i++) {
		__u64 pair[2];
		if (bpf_probe_read_kernel(pair, sizeof(pair), auxv + 2 * i) || pair[0] == 0)
			break;
		if (pair[0] == AT_BASE) {
			base = pair[1];
			break;
		}
	}
	if (!base)
		return 0; // statically linked: no interpreter
	struct file *interp = NULL;
	bpf_find_vma(task, base, find_interp, &interp, 0);
	if (interp)
		report_mapped(ns, interp, PODPROF_EXEC | PODPROF_READ);
	return 0;
}

// The system calls of the containers that asked for them, by mount namespace
// inode number like `containers`; the Go side adds and removes the entries.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC); // most tracers record none
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct syscall_set);
} syscall_sets SEC(".maps");

#define X32_SYSCALL_BIT 0x40000000
#define TS_COMPAT 0x0002 // thread_info.status: a 32-bit system call is running
#define SECCOMP_MODE_FILTER 2

// sys_enter runs for every system call on the host while it is attached,
// which the Go side does only while a traced container records its system
// calls. A set bit is not written again: the cache line stays shared.
SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter_record, struct pt_regs *regs, long id)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct mnt_namespace *ns = task->nsproxy->mnt_ns;
	__u32 inum = ns->ns.inum;
	struct syscall_set *set = bpf_map_lookup_elem(&syscall_sets, &inum);
	if (!set)
		return 0;
	// Of the runtime's own calls before it execs the workload, only those
	// made under a seccomp filter (the recording run's, podman's default
	// one) must pass the profile too: the rest are not the container's.
	if (!runs_container_code(task, ns) && BPF_CORE_READ(task, seccomp.mode) != SECCOMP_MODE_FILTER)
		return 0;

	enum podprof_abi abi = PODPROF_ABI_X86_64;
	if (id & X32_SYSCALL_BIT) {
		abi = PODPROF_ABI_X32;
		id &= ~X32_SYSCALL_BIT;
	} else if (task->thread_info.status & TS_COMPAT) {
		abi = PODPROF_ABI_I386;
	}
	if (id < 0 || id >= PODPROF_SYSCALL_WORDS * 64)
		return 0;
	__u64 bit = 1ULL << (id & 63);
	__u64 *word = &set->bits[abi][id >> 6];
	if (!(*word & bit))
		__sync_fetch_and_or(word, bit);
	return 0;
}
