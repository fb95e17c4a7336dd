package cli

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/podprof/podprof/imagestore/archive" // as podprof-podman links it
	"github.com/podprof/podprof/internal/e2e"
	"github.com/podprof/podprof/report"
)

// TestReportImageArchives checks that podprof report --image reads an
// image saved by podman save, in each of its formats, as it reads the same
// image in the store: the same report in every format but for the name
// it shows; and that explore reads it too.
func TestReportImageArchives(t *testing.T) {
	e2e.Require(t, true, "it saves an image of podman's store with podman save")
	const demo = "localhost/podprof-demo/debian:bookworm"
	id := e2e.Podman(t, "image", "inspect", "--format", "{{.Id}}", demo)
	dir := t.TempDir()
	profile := filepath.Join(dir, "p.json")
	now := time.Now()
	err := report.WriteProfile(profile, &report.Profile{
		Version: report.ProfileVersion, Image: report.ImageRef{Name: demo, ID: id},
		Tracer: "tracepoint", Started: now, Ended: now,
		Files: []report.File{{Path: "/usr/bin/dash", Exec: true, Read: true}, {Path: "/etc/os-release", Read: true}, {Path: "/usr/lib/os-release", Read: true}},
	})
	if err != nil {
		t.Fatal(err)
	}

	images := []string{demo}
	for _, c := range []struct{ format, name string }{
		{"docker-archive", "docker-archive:" + filepath.Join(dir, "docker.tar")},
		{"oci-archive", "oci-archive:" + filepath.Join(dir, "oci.tar")},
		{"oci-dir", "oci:" + filepath.Join(dir, "oci")},
	} {
		_, path, _ := strings.Cut(c.name, ":")
		e2e.Podman(t, "save", "--quiet", "--format", c.format, "--output", path, demo)
		images = append(images, c.name)
	}
	for _, args := range [][]string{{"report"}, {"report", "--format", "json"}, {"report", "--format", "tree", "--depth", "2"}, {"explore"}} {
		var want string
		for _, image := range images {
			code, stdout, stderr := podprof(append(args, "--image", image, profile)...)
			if code != 0 {
				t.Errorf("%q --image %s: exit %d, %s", args, image, code, stderr)
				continue
			}
			// The name shown is the one given; the id is the same.
			got := strings.ReplaceAll(stdout.String(), image, "IMAGE")
			if !strings.Contains(got, id[:12]) {
				t.Errorf("%q --image %s does not show the image id %s:\n%s", args, image, id[:12], got)
			}
			if image == demo {
				want = got
			} else if got != want {
				t.Errorf("%q --image %s:\n%s\nthe store's image:\n%s", args, image, got, want)
			}
		}
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"report", "--packages", "--image", images[1], profile}, "Error: package databases are read from images of the local store, not " + images[1] + ": podman load it, then name the loaded image\n"},
		{[]string{"report", "--image", "oci:" + filepath.Join(dir, "none"), profile}, "Error: opening image oci:" + filepath.Join(dir, "none") + ": "},
		{[]string{"report", "--image", "podprof-demo/debian", profile}, "Error: podprof-demo/debian: image not known\n"},
	} {
		code, _, stderr := podprof(c.args...)
		if code != 125 || !strings.HasPrefix(stderr.String(), c.want) || strings.Count(stderr.String(), "\n") != 1 {
			t.Errorf("%q: exit %d, stderr %q; want 125 and %q", c.args, code, stderr, c.want)
		}
	}
}
