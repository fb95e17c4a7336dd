package run

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/podprof/podprof/report"
)

// requireRoot fails, rather than skips, a test that needs root and
// podman: CI has both, and a skipped end-to-end test is a silent hole.
func requireRoot(t *testing.T, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root (BPF tracing and podman's image store): run it as root, as CI does")
	}
	for _, tool := range append([]string{"podman"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("this test needs %s: run contrib/setup.sh (make setup) to install it", tool)
		}
	}
}

// demoProfile profiles a shell printing the date and /etc/os-release in
// the demo image, and returns the profile's path.
func demoProfile(t *testing.T) string {
	t.Helper()
	requireRoot(t)
	requireImage(t, demoImage)
	out := filepath.Join(t.TempDir(), "demo.json")
	r := podprof(t, "run", "--rm", "--podprof-output="+out, demoImage, "/bin/sh", "-c", "date; cat /etc/os-release")
	if r.code != 0 {
		t.Fatalf("podprof run: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	return out
}

func TestReportDemo(t *testing.T) {
	profile := demoProfile(t)
	id := strings.TrimSpace(runCmd(t, "podman", "image", "inspect", "--format", "{{.Id}}", demoImage).stdout)
	history := strings.TrimSpace(runCmd(t, "podman", "history", "--no-trunc", "--format", "{{.CreatedBy}}", demoImage).stdout)

	t.Run("text", func(t *testing.T) {
		r := podprof(t, "report", profile)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
		}
		_, layers, found := strings.Cut(r.stdout, "layers, bottom first:\n")
		lines := strings.Split(layers, "\n")
		if !found || len(lines) < 3 {
			t.Fatalf("no layer table:\n%s", r.stdout)
		}
		// One layer: it is the whole image, with the command podman shows.
		if !regexp.MustCompile(`^  1  [0-9a-f]{12}  117 MB  2\.\d\d MB   2\.\d%     \d\d/5892  `).MatchString(lines[1]) ||
			!strings.HasPrefix(history, strings.TrimSuffix(lines[1][strings.Index(lines[1], "/bin/sh"):], "…")) {
			t.Errorf("layer line %q; podman history says %q", lines[1], history)
		}
	})

	t.Run("json", func(t *testing.T) {
		r := podprof(t, "report", "--format", "json", profile)
		var s report.Summary
		if err := json.Unmarshal([]byte(r.stdout), &s); r.code != 0 || err != nil {
			t.Fatalf("exit %d, %v:\n%s%s", r.code, err, r.stdout, r.stderr)
		}
		if len(s.Layers) != 1 {
			t.Fatalf("%d layers, want 1", len(s.Layers))
		}
		l := s.Layers[0]
		if l.CreatedBy != history || l.Bytes != s.ImageBytes || l.Files != s.ImageFiles || l.UsedBytes != s.UsedBytes || l.UsedFiles != s.UsedFiles || s.ImageID != id {
			t.Errorf("layer %+v of image %s, summary %+v; podman history says %q", l, s.ImageID, s, history)
		}
	})

	t.Run("tree", func(t *testing.T) {
		r := podprof(t, "report", "--format", "tree", profile)
		if r.code != 0 {
			t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
		}
		lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		for i, want := range []string{
			`^podprof: localhost/podprof-demo/debian:bookworm \([0-9a-f]{12}\), traced with `,
			`^   SIZE     USED   USED%  USED/FILES  NAME \(\* used\)$`,
			`^ 117 MB  2\.\d\d MB    2\.\d%     \d\d/5892  \* /$`,
			`^ 112 MB  2\.\d\d MB    2\.\d%     \d\d/5273  \* ├── usr/$`, // the biggest first
		} {
			if !regexp.MustCompile(want).MatchString(lines[i]) {
				t.Errorf("tree line %d does not match %s:\n%s", i+1, want, strings.Join(lines[:5], "\n"))
			}
		}
		// Depth 3 lists /usr/bin/dash, used, but no deeper.
		if !regexp.MustCompile(`(?m)\* │   │   ├── dash$`).MatchString(r.stdout) {
			t.Errorf("tree lacks a used /usr/bin/dash at depth 3")
		}
		if strings.Contains(r.stdout, "libc.so.6") {
			t.Errorf("tree goes below depth 3: it lists /usr/lib/x86_64-linux-gnu/libc.so.6")
		}
		deeper := podprof(t, "report", "--format", "tree", "--depth", "4", "--unused-only", profile)
		if deeper.code != 0 || strings.Contains(deeper.stdout, "libc.so.6") || !strings.Contains(deeper.stdout, "libstdc++.so.6.0.30") {
			t.Errorf("--depth 4 --unused-only: exit %d, libc.so.6 (used) listed or libstdc++ (unused) missing:\n%s", deeper.code, deeper.stderr)
		}
		if root := podprof(t, "report", "--format", "tree", "--depth", "0", profile); strings.Count(root.stdout, "\n") != 3 {
			t.Errorf("--depth 0 prints more than the root:\n%s", root.stdout)
		}
	})

	t.Run("gate", func(t *testing.T) {
		for _, c := range []struct {
			args   []string
			code   int
			reason string
		}{
			{[]string{"--fail-unused-bytes=200MB"}, 0, ""},
			{[]string{"--fail-unused-percent=99.5"}, 0, ""},
			{[]string{"--fail-unused-bytes=50MB"}, 1, `^podprof: gate failed: 11\d MB of 117 MB unused \(9\d\.\d%\): over the limit of 50 MB\n$`},
			{[]string{"--fail-unused-percent", "90", "--format", "json"}, 1, `^podprof: gate failed: 11\d MB of 117 MB unused \(9\d\.\d%\): over the limit of 90%\n$`},
			{[]string{"--fail-unused-bytes=1GiB", "--fail-unused-percent=10%", "--format=tree", "--depth=1"}, 1, `over the limit of 10%\n$`},
			{[]string{"--fail-unused-bytes=10MiB", "--fail-unused-percent=10"}, 1, `over the limits of 10.5 MB and 10%\n$`},
		} {
			r := podprof(t, append(append([]string{"report"}, c.args...), profile)...)
			if r.code != c.code || (c.reason == "" && r.stderr != "") || !regexp.MustCompile(c.reason).MatchString(r.stderr) {
				t.Errorf("%q: exit %d, stderr %q; want %d and %s", c.args, r.code, r.stderr, c.code, c.reason)
			}
			if r.stdout == "" {
				t.Errorf("%q: no report printed with the gate", c.args)
			}
		}
	})
}

// TestReportDemoTime holds podprof report to its budget: the summary of
// the demo image within 0.3 s, best of five runs.
func TestReportDemoTime(t *testing.T) {
	profile := demoProfile(t)
	for _, format := range []string{"text", "json", "tree"} {
		best := time.Hour
		for range 5 {
			start := time.Now()
			if r := podprof(t, "report", "--format", format, profile); r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			best = min(best, time.Since(start))
		}
		t.Logf("podprof report --format %s: %v (best of 5)", format, best.Round(time.Millisecond))
		if best > 300*time.Millisecond {
			t.Errorf("podprof report --format %s takes %v, over the 0.3 s budget", format, best)
		}
	}
}

// TestReportImageArchive: podprof report of the image podman save wrote,
// through the real podprof, which hands it to podprof-podman (the reader
// of archives), says what the report of the store's image says.
func TestReportImageArchive(t *testing.T) {
	profile := profileOf(t, busyboxImage, "ls /bin >/dev/null; cat /etc/passwd")
	archive := filepath.Join(t.TempDir(), "busybox.tar")
	if r := runCmd(t, "podman", "save", "--quiet", "--format", "docker-archive", "-o", archive, busyboxImage); r.code != 0 {
		t.Fatalf("podman save: exit %d: %s", r.code, r.stderr)
	}
	summaryOf := func(args ...string) map[string]any {
		t.Helper()
		r := podprof(t, append(append([]string{"report", "--format", "json"}, args...), profile)...)
		var summary map[string]any
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &summary) != nil {
			t.Fatalf("podprof report %q: exit %d, stdout %q, stderr:\n%s", args, r.code, r.stdout, r.stderr)
		}
		return summary
	}
	fromStore, fromArchive := summaryOf(), summaryOf("--image", "docker-archive:"+archive)
	if fromArchive["image_name"] != "docker-archive:"+archive {
		t.Errorf("image_name %q, want the archive as --image named it", fromArchive["image_name"])
	}
	delete(fromStore, "image_name")
	delete(fromArchive, "image_name")
	if want, got := mustJSON(t, fromStore), mustJSON(t, fromArchive); got != want {
		t.Errorf("report of the archive differs from the store's image's:\n%s\nwant\n%s", got, want)
	}
	if fromStore["used_files"] == 0.0 {
		t.Errorf("the profile used nothing of the image: %v", fromStore)
	}
	// A report of an archive that is not there says so, in one line.
	r := podprof(t, "report", "--image", "docker-archive:"+archive+".missing", profile)
	if r.code != 125 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, ".missing") {
		t.Errorf("report of a missing archive: exit %d, stderr %q; want 125 and one line naming it", r.code, r.stderr)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
