package run

import (
	"regexp"
	"strings"
	"testing"
)

// TestDoctor: one mode is active, every other one is available or says
// why not, and each that works says whether it records system calls.
func TestDoctor(t *testing.T) {
	r := podprof(t, "doctor")
	if r.code != 0 {
		t.Fatalf("doctor exit %d: no mode works here?\n%s%s", r.code, r.stdout, r.stderr)
	}
	active := 0
	for _, mode := range []string{"lsm", "fentry", "tracepoint"} {
		line := regexp.MustCompile(`(?m)^` + mode + `:\s+(.*)$`).FindStringSubmatch(r.stdout)
		if line == nil {
			t.Fatalf("doctor says nothing of %s:\n%s", mode, r.stdout)
		}
		// A mode that works also says whether it records system calls;
		// here, where the CI runs, they must be.
		status, syscalls, works := strings.Cut(line[1], "; ")
		if works && syscalls != "system calls (--podprof-seccomp): recorded" {
			t.Errorf("%s: %q: system call recording does not work", mode, syscalls)
		}
		switch {
		case status == "active":
			active++
		case status == "available":
		case !works && strings.HasPrefix(line[1], "unavailable: ") && len(line[1]) > len("unavailable: ")+10:
		default:
			t.Errorf("%s: %q is neither active, available nor a reason", mode, line[1])
		}
	}
	if active != 1 {
		t.Errorf("%d active modes, want 1:\n%s", active, r.stdout)
	}
	for _, fact := range []string{"kernel:", "BTF:", "LSMs:", "user:", "podman:"} {
		if !strings.Contains(r.stdout, fact) {
			t.Errorf("doctor does not report %s", fact)
		}
	}
}
