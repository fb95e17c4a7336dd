package seccomp

import (
	"slices"
	"testing"

	podman "go.podman.io/common/pkg/seccomp"
)

// A profile from a run that got no signal still lets a later run return
// from a signal handler and restart the call the signal interrupted.
func TestFromSyscallsAllowsSignalReturn(t *testing.T) {
	profile, unnamed := FromSyscalls(nil)
	if len(unnamed) != 0 {
		t.Fatalf("unnamed calls from none: %v", unnamed)
	}
	var allowed []string
	for _, rule := range profile.Syscalls {
		if rule.Action == podman.ActAllow {
			allowed = append(allowed, rule.Names...)
		}
	}
	for _, name := range []string{"rt_sigreturn", "restart_syscall", "execve"} {
		if !slices.Contains(allowed, name) {
			t.Errorf("%s is not allowed: %v", name, allowed)
		}
	}
}
