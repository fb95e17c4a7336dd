package imagestore

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/podprof/podprof/internal/e2e"
)

// TestReadFileMatchesPodman reads files of the demo image through its
// symbolic links (/etc/os-release -> ../usr/lib/os-release) and compares
// them with what a container of the image sees.
func TestReadFileMatchesPodman(t *testing.T) {
	e2e.Require(t, true, "it reads a real image of podman's store")
	const image = "localhost/podprof-demo/debian:bookworm"
	id, err := exec.Command("podman", "image", "inspect", "--format", "{{.ID}}", image).Output()
	if err != nil {
		t.Fatalf("podman image inspect %s: %v: run make setup first", image, err)
	}
	store, err := Default(nil)
	if err != nil {
		t.Fatal(err)
	}
	img, err := store.OpenImage(strings.TrimSpace(string(id)))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/etc/os-release", "/etc/passwd", "/usr/bin/dash"} {
		got, err := img.ReadFile(p)
		if err != nil {
			t.Fatalf("ReadFile(%s): %v", p, err)
		}
		want, err := exec.Command("podman", "run", "--rm", "--network=none", image, "cat", p).Output()
		if err != nil {
			t.Fatalf("podman run cat %s: %v", p, err)
		}
		if string(got) != string(want) {
			t.Errorf("ReadFile(%s): %d bytes differ from the container's %d", p, len(got), len(want))
		}
	}
	if _, err := img.ReadFile("/etc"); err == nil {
		t.Error("ReadFile of a directory succeeded")
	}
	if _, err := img.ReadFile("/no/such/file"); err == nil {
		t.Error("ReadFile of a missing file succeeded")
	}
}
