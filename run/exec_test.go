package run

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestDetachAndExec: with -d podprof returns at once with the container's
// id; what `podman exec` runs in the container is recorded too; the
// profile is written when the container ends.
func TestDetachAndExec(t *testing.T) {
	requireImage(t, demoImage)
	out := filepath.Join(t.TempDir(), "p.json")
	r := podprof(t, "run", "-d", "--rm", "--podprof-output="+out, demoImage, "sleep", "30")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	id := strings.TrimSpace(r.stdout)
	if len(id) != 64 {
		t.Fatalf("-d must print the container id, got %q", r.stdout)
	}
	if e := runCmd(t, "podman", "exec", id, "cat", "/etc/debian_version"); e.code != 0 {
		t.Fatalf("podman exec: %d %s", e.code, e.stderr)
	}
	if e := runCmd(t, "podman", "stop", "-t", "0", id); e.code != 0 {
		t.Fatalf("podman stop: %s", e.stderr)
	}
	p := waitProfile(t, out)
	for _, want := range []string{"/usr/bin/sleep", "/usr/bin/cat", "/etc/debian_version"} {
		if !hasPath(p, want) {
			t.Errorf("profile misses %s", want)
		}
	}
	for _, f := range p.Files {
		if strings.Contains(f.Path, "runc") || strings.HasPrefix(f.Path, "/proc/") {
			t.Errorf("the runtime's exec set-up was recorded: %q", f.Path)
		}
	}
}
