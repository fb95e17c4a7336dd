package archive

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/podprof/podprof/imagestore"
	"github.com/podprof/podprof/internal/e2e"
	"github.com/podprof/podprof/report"
	"go.podman.io/image/v5/transports"
)

// treeLines is an image's tree, one line per name with what it is, and
// its layers: what two images with the same files have alike.
func treeLines(img *report.Image) []string {
	var lines []string
	img.Root.Walk(func(n *report.Node) bool {
		lines = append(lines, fmt.Sprintf("%q %s %d %q layer %d", n.Path(), n.Kind, n.Size, n.Target, n.Layer))
		return true
	})
	for _, l := range img.Layers {
		lines = append(lines, fmt.Sprintf("layer %s %q %d bytes %d files", l.ID, l.CreatedBy, l.Bytes, l.Files))
	}
	return append(lines, fmt.Sprintf("%d bytes %d files", img.Bytes, img.Files))
}

// TestArchiveTreeMatchesStore saves images as podman save does in each
// format and reads each back: the tree, layers and id are the store's.
// The images: the demo image, thousands of files; and one built here on
// the test busybox, with the whiteouts (files, directories, an opaque
// directory) and hard links of later layers.
func TestArchiveTreeMatchesStore(t *testing.T) {
	e2e.Require(t, true, "it saves images of podman's store with podman save")
	store, err := imagestore.Default(nil)
	if err != nil {
		t.Fatal(err)
	}
	built := fmt.Sprintf("localhost/podprof-archivetest-%d:latest", time.Now().UnixNano())
	dir := t.TempDir()
	containerfile := `FROM localhost/podprof-test/busybox:latest
RUN mkdir -p /data/opq/sub /data/dir-gone && echo a >/data/a && echo g >/data/gone && echo d >/data/dir-gone/f && echo o >/data/opq/sub/old
RUN rm -r /data/gone /data/dir-gone /data/opq && mkdir -p /data/opq && echo n >/data/opq/new && ln /data/a /data/a-third
`
	if err := os.WriteFile(filepath.Join(dir, "Containerfile"), []byte(containerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	// runc, no network and fixed rlimits: what works on this project's
	// machines, as in imagestore's tests.
	e2e.Podman(t, "build", "--quiet", "--runtime", "runc", "--network", "none",
		"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
		"--file", filepath.Join(dir, "Containerfile"), "--tag", built, dir)
	t.Cleanup(func() { exec.Command("podman", "rmi", "--force", built).Run() })

	for _, name := range []string{"localhost/podprof-demo/debian:bookworm", built} {
		id, err := store.ResolveImage(name)
		if err != nil {
			t.Fatal(err)
		}
		layers, err := store.Layers(id)
		if err != nil {
			t.Fatal(err)
		}
		fromStore, err := report.BuildImage(layers)
		if err != nil {
			t.Fatal(err)
		}
		if name == built {
			for p, want := range map[string]bool{"/data/gone": false, "/data/dir-gone": false, "/data/opq/sub": false, "/data/opq/new": true} {
				if got := fromStore.Lookup(p) != nil; got != want {
					t.Errorf("%s in the built image: %v, want %v", p, got, want)
				}
			}
			if a, third := fromStore.Lookup("/data/a"), fromStore.Lookup("/data/a-third"); a == nil || third == nil || a.Inode != third.Inode {
				t.Errorf("/data/a and its hard link /data/a-third are not one file in the built image")
			}
		}
		checkArchivesMatch(t, name, id, fromStore)
	}
}

// checkArchivesMatch saves image (of id) with podman save in each format
// and checks that Open reads the tree fromStore, and the id.
func checkArchivesMatch(t *testing.T, image, id string, fromStore *report.Image) {
	t.Helper()
	want := treeLines(fromStore)
	dir := t.TempDir()
	for _, c := range []struct{ format, name string }{
		{"docker-archive", "docker-archive:" + filepath.Join(dir, "docker.tar")},
		{"oci-archive", "oci-archive:" + filepath.Join(dir, "oci.tar")},
		{"oci-dir", "oci:" + filepath.Join(dir, "oci")},
	} {
		_, path, _ := strings.Cut(c.name, ":")
		e2e.Podman(t, "save", "--quiet", "--format", c.format, "--output", path, image)
		a, err := Open(c.name)
		if err != nil {
			t.Errorf("%s: %v", c.format, err)
			continue
		}
		tree, err := report.BuildImage(a.Layers)
		if err != nil {
			t.Errorf("%s: %v", c.format, err)
		} else if got := treeLines(tree); !slices.Equal(got, want) {
			for i := range min(len(got), len(want)) {
				if got[i] != want[i] {
					t.Errorf("%s: line %d of the tree is %s, the store's %s", c.format, i, got[i], want[i])
					break
				}
			}
			t.Errorf("%s: the tree differs from the store's (%d lines, the store's %d)", c.format, len(got), len(want))
		}
		if a.ID != id {
			t.Errorf("%s: image id %s, the store's %s", c.format, a.ID, id)
		}
		if err := a.Close(); err != nil {
			t.Error(err)
		}
	}
}

// TestArchiveTransportsAreLinked checks that every transport
// imagestore.IsArchive accepts is one this package registers.
func TestArchiveTransportsAreLinked(t *testing.T) {
	for _, name := range imagestore.ArchiveTransports {
		if transports.Get(name) == nil {
			t.Errorf("transport %s is not linked", name)
		}
	}
	if _, err := Open("docker://busybox"); err == nil || !strings.Contains(err.Error(), "docker-archive:PATH") {
		t.Errorf("Open of a registry's image: %v, want the archives podprof reads", err)
	}
}
