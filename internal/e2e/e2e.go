// Package e2e marks the tests that need the real thing: root, BPF, podman.
// Outside CI, where a developer may lack them, such a test skips and says
// what it needs (`make check` runs the rest); in CI (CI=true), which has
// them all, a missing one fails the test.
package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Require fails or skips t, as the package says, unless this process is
// root and, with podman, podman is installed. why says what the test does
// with them.
func Require(t testing.TB, podman bool, why string) {
	t.Helper()
	missing := ""
	switch {
	case os.Geteuid() != 0:
		missing = "root"
	case podman:
		if _, err := exec.LookPath("podman"); err != nil {
			missing = "podman"
		}
	}
	if missing == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("this test needs %s (%s), and CI must have it: see contrib/setup.sh", missing, why)
	}
	t.Skipf("this end-to-end test needs %s (%s); CI runs it, as root with podman", missing, why)
}

// Podman runs podman with args and returns its output, trimmed; it fails
// t, with podman's error output, when podman fails.
func Podman(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command("podman", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}
