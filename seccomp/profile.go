// Package seccomp turns the system calls a traced container made into a
// seccomp profile in the format podman reads (--security-opt seccomp=PATH),
// and merges such profiles.
package seccomp

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"

	podman "go.podman.io/common/pkg/seccomp"

	"github.com/podprof/podprof/bpf"
	"github.com/podprof/podprof/report"
)

// enosys is what a call outside the profile returns, as in podman's default
// profile: a program then takes the fallback it has for an older kernel.
const enosys = 38

// Comments of the rules podprof writes; merging recognises them.
const (
	recordedComment = "recorded by podprof"
	runtimeComment  = "needed by the OCI runtime after it installs the filter (runc, crun)"
	signalComment   = "made when a signal arrives: returning from its handler, restarting the call it interrupted"
)

// runtimeSyscalls are the calls the OCI runtime makes in the container
// after it installs the filter. The tracer records them when the recording
// run had a filter (podman's default profile); these lists cover a run
// without one (seccomp=unconfined, --privileged). Published lists:
//   - runc, filter installed before it drops privileges (podman's default,
//     no --security-opt no-new-privileges): moby/moby#22252 (capget capset
//     chdir fchown futex getdents64 getpid getppid lstat openat prctl setgid
//     setgroups setuid stat) and opencontainers/runc#2097, the list recorded
//     by oci-seccomp-bpf-hook's authors (nanosleep futex brk epoll_pwait
//     openat epoll_ctl getdents64 newfstatat close fcntl capget read prctl
//     fstat fchown setgroups setgid setuid capset chdir getppid write
//     execve);
//   - runc 1.1.5 (Debian 12's), observed: fstatfs (closing the exec fds,
//     it checks that /proc/self/fd is procfs) and faccessat2 (looking up
//     the workload's executable);
//   - crun applies the filter last, right before it execs the workload
//     (src/libcrun/container.c, container_init: libcrun_apply_seccomp, then
//     execv): execve.
var runtimeSyscalls = []string{
	"brk", "capget", "capset", "chdir", "close", "epoll_ctl", "epoll_pwait",
	"execve", "faccessat2", "fchown", "fcntl", "fstat", "fstatfs", "futex", "getdents64", "getpid",
	"getppid", "lstat", "nanosleep", "newfstatat", "openat", "prctl", "read",
	"setgid", "setgroups", "setuid", "stat", "write",
}

// signalSyscalls are the calls a process makes because a signal arrived:
// the return from its handler (the restorer's rt_sigreturn, i386's
// sigreturn) and the restart of the call it interrupted. A recording run
// that got no signal does not see them, and any run may get one (SIGCHLD,
// SIGWINCH, SIGCONT): without them a handled signal kills the workload
// (python3 segfaulted in one replay in 12 here, on rt_sigreturn). podman's
// default profile allows them too.
var signalSyscalls = []string{"restart_syscall", "rt_sigreturn", "sigreturn"}

// archOf is each ABI's seccomp architecture.
var archOf = map[bpf.ABI]podman.Arch{
	bpf.X86_64: podman.ArchX86_64,
	bpf.I386:   podman.ArchX86,
	bpf.X32:    podman.ArchX32,
}

// FromSyscalls is the profile that allows calls, the runtime's own and
// those signals make (signalSyscalls), and
// answers ENOSYS to every other call. Only the ABIs the workload used are
// allowed at all (x86_64 always: the runtime's). unnamed are the calls
// libseccomp has no name for, which no profile can allow by name.
func FromSyscalls(calls []bpf.Syscall) (profile *podman.Seccomp, unnamed []bpf.Syscall) {
	errno := uint(enosys)
	profile = &podman.Seccomp{
		DefaultAction:   podman.ActErrno,
		DefaultErrnoRet: &errno,
		Architectures:   []podman.Arch{podman.ArchX86_64},
	}
	var names []string
	for _, call := range calls {
		name := Name(call)
		if name == "" {
			unnamed = append(unnamed, call)
			continue
		}
		names = append(names, name)
		if arch := archOf[call.ABI]; !slices.Contains(profile.Architectures, arch) {
			profile.Architectures = append(profile.Architectures, arch)
		}
	}
	profile.Syscalls = []*podman.Syscall{
		allow(names, recordedComment),
		allow(runtimeSyscalls, runtimeComment),
		allow(signalSyscalls, signalComment),
	}
	return profile, unnamed
}

func allow(names []string, comment string) *podman.Syscall {
	names = slices.Clone(names)
	slices.Sort(names)
	return &podman.Syscall{Names: slices.Compact(names), Action: podman.ActAllow, Args: []*podman.Arg{}, Comment: comment}
}

// Merge adds to base what the other profiles allow: their architectures,
// the calls they allow unconditionally, and their other rules that base
// does not have. base's default action stays.
func Merge(base *podman.Seccomp, others ...*podman.Seccomp) *podman.Seccomp {
	merged := *base
	merged.Syscalls = slices.Clone(base.Syscalls)
	merged.Architectures = slices.Clone(base.Architectures)
	allowed := map[string]bool{}
	for _, rule := range merged.Syscalls {
		if unconditional(rule) {
			for _, name := range ruleNames(rule) {
				allowed[name] = true
			}
		}
	}
	var added []string
	for _, other := range others {
		for _, arch := range other.Architectures {
			if !slices.Contains(merged.Architectures, arch) {
				merged.Architectures = append(merged.Architectures, arch)
			}
		}
		for _, rule := range other.Syscalls {
			if !unconditional(rule) {
				if !slices.ContainsFunc(merged.Syscalls, func(r *podman.Syscall) bool { return sameRule(r, rule) }) {
					merged.Syscalls = append(merged.Syscalls, rule)
				}
				continue
			}
			for _, name := range ruleNames(rule) {
				if !allowed[name] {
					allowed[name] = true
					added = append(added, name)
				}
			}
		}
	}
	if len(added) > 0 {
		merged.Syscalls = append(merged.Syscalls, allow(added, recordedComment))
	}
	return &merged
}

// unconditional tells a rule that allows its calls whatever their
// arguments, capabilities and architecture.
func unconditional(rule *podman.Syscall) bool {
	return rule.Action == podman.ActAllow && len(rule.Args) == 0 &&
		len(rule.Includes.Caps)+len(rule.Includes.Arches)+len(rule.Excludes.Caps)+len(rule.Excludes.Arches) == 0
}

func ruleNames(rule *podman.Syscall) []string {
	if rule.Name != "" {
		return append([]string{rule.Name}, rule.Names...)
	}
	return rule.Names
}

func sameRule(a, b *podman.Syscall) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// Read reads a seccomp profile in podman's format.
func Read(path string) (*podman.Seccomp, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading seccomp profile: %w", err)
	}
	var profile podman.Seccomp
	if err := json.Unmarshal(data, &profile); err != nil {
		return nil, fmt.Errorf("seccomp profile %s is not JSON of podman's seccomp format: %w", report.Printable(path), err)
	}
	if profile.DefaultAction == "" {
		return nil, fmt.Errorf("seccomp profile %s has no defaultAction: it is not a seccomp profile", report.Printable(path))
	}
	return &profile, nil
}

// Encode writes the profile as indented JSON.
func Encode(w io.Writer, profile *podman.Seccomp) error {
	return report.WriteJSON(w, "seccomp profile", profile)
}

// Write writes the profile to the absolute path, atomically.
func Write(path string, profile *podman.Seccomp) error {
	return report.WriteFileAtomic(path, "seccomp profile", func(w io.Writer) error { return Encode(w, profile) })
}
