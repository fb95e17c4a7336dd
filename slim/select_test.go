package slim

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/podprof/podprof/report"
)

// testImage builds an image tree from one layer of headers: "d NAME" a
// directory, "f NAME SIZE" a file, "l NAME TARGET" a symbolic link, "h NAME
// TARGET" a hard link.
func testImage(t *testing.T, entries ...string) *report.Image {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		f := strings.Fields(e)
		hdr := &tar.Header{Name: f[1], Mode: 0o644}
		switch f[0] {
		case "d":
			hdr.Typeflag, hdr.Mode = tar.TypeDir, 0o755
		case "f":
			hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(f[2]))
		case "l":
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, f[2]
		case "h":
			hdr.Typeflag, hdr.Linkname = tar.TypeLink, f[2]
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag == tar.TypeReg {
			tw.Write([]byte(f[2]))
		}
	}
	tw.Close()
	img, err := report.BuildImage([]report.Layer{{ID: "test", Open: func() (report.HeaderReader, io.Closer, error) {
		return tar.NewReader(bytes.NewReader(buf.Bytes())), io.NopCloser(nil), nil
	}}})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func profileOf(paths ...string) *report.Profile {
	p := &report.Profile{Version: report.ProfileVersion}
	for _, path := range paths {
		p.Files = append(p.Files, report.File{Path: path, Read: true})
	}
	return p
}

var sampleEntries = []string{
	"d etc", "f etc/passwd root", "f etc/group root", "f etc/hostname x", "d etc/ssl", "f etc/ssl/ca.pem pem",
	"d usr", "d usr/bin", "f usr/bin/dash elf", "h usr/bin/sh usr/bin/dash", "f usr/bin/cat elf2",
	"d usr/lib", "f usr/lib/libc.so elfso", "f usr/lib/libm.so elfso2", "d usr/share", "d usr/share/doc", "f usr/share/doc/README text",
	"l bin usr/bin", "l lib usr/lib", "l lib64 usr/lib", "l etc/alt /usr/bin/cat",
	"d tmp", "d srv", "d srv/data", "f srv/data/seed s", "d work",
}

func TestSelectKeepsUsedFilesTheirNamesLinksAndDirectories(t *testing.T) {
	img := testImage(t, sampleEntries...)
	u := report.Join(img, profileOf("/usr/bin/dash", "/usr/lib/libc.so"))
	sel, err := Select(u, Needs{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"/bin",           // a link to a touched directory
		"/etc",           // above what the runtime reads
		"/etc/group",     // read by the runtime
		"/etc/passwd",    // read by the runtime
		"/lib", "/lib64", // links to a touched directory
		"/tmp",
		"/usr", "/usr/bin", "/usr/bin/dash", "/usr/bin/sh", // both names of the hard link
		"/usr/lib", "/usr/lib/libc.so",
	}
	if got := sel.Paths(); !slices.Equal(got, want) {
		t.Errorf("kept\n%q\nwant\n%q", got, want)
	}
}

func TestSelectNeeds(t *testing.T) {
	img := testImage(t, sampleEntries...)
	u := report.Join(img, profileOf("/usr/bin/dash"))
	sel, err := Select(u, Needs{
		WorkingDir: "/work",
		Volumes:    []string{"/srv/data"},
		Include:    []string{"/etc/ssl/*.pem", "/etc/alt"},
		Exclude:    []string{"/usr/bin/sh"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := sel.Paths()
	for _, p := range []string{"/work", "/srv", "/srv/data", "/srv/data/seed", "/etc/ssl/ca.pem", "/etc/alt", "/usr/bin/cat"} {
		if !slices.Contains(got, p) {
			t.Errorf("%s is not kept: %q", p, got)
		}
	}
	for _, p := range []string{"/usr/bin/sh", "/usr/share", "/etc/hostname", "/usr/lib/libm.so"} {
		if slices.Contains(got, p) {
			t.Errorf("%s is kept: %q", p, got)
		}
	}
}

func TestSelectKeepsWhatPythonStats(t *testing.T) {
	img := testImage(t, "d lib", "d lib/python3.11", "f lib/python3.11/os.py src", "d lib/python3.11/lib-dynload", "f lib/python3.11/lib-dynload/x.so so",
		"f lib/python3.11/json.py src", "f lib/python3.11/re.py src", "f lib/python3.11/unused.py src", "d lib/python3.11/__pycache__",
		"f lib/python3.11/__pycache__/json.cpython-311.pyc bc", "f lib/python3.11/__pycache__/re.cpython-311.opt-1.pyc bc",
		"f lib/python3.11/__pycache__/gone.cpython-311.pyc bc", "f lib/python3.11/__pycache__/unused.cpython-311.pyc bc")
	pycache := "/lib/python3.11/__pycache__/"
	u := report.Join(img, profileOf(pycache+"json.cpython-311.pyc", pycache+"re.cpython-311.opt-1.pyc", pycache+"gone.cpython-311.pyc"))
	sel, err := Select(u, Needs{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/lib", "/lib/python3.11", "/lib/python3.11/__pycache__", pycache + "gone.cpython-311.pyc", pycache + "json.cpython-311.pyc",
		pycache + "re.cpython-311.opt-1.pyc", "/lib/python3.11/json.py", "/lib/python3.11/lib-dynload", "/lib/python3.11/os.py", "/lib/python3.11/re.py"}
	if got := sel.Paths(); !slices.Equal(got, want) {
		t.Errorf("kept %q, want %q", got, want)
	}
}

func TestSelectRefusesPatternsThatMatchNothing(t *testing.T) {
	img := testImage(t, sampleEntries...)
	u := report.Join(img, profileOf("/usr/bin/dash"))
	for _, needs := range []Needs{
		{Include: []string{"/no/such"}},
		{Include: []string{"relative/path"}},
		{Include: []string{"/usr/[bin"}},
		{Exclude: []string{"/usr/bin/nope*"}},
	} {
		if _, err := Select(u, needs); err == nil {
			t.Errorf("Select(%+v) succeeded", needs)
		}
	}
}

func TestSelectFollowsLinkLoopsOnce(t *testing.T) {
	img := testImage(t, "d a", "l a/up ..", "l a/self up/a", "f a/f x")
	u := report.Join(img, profileOf("/a/f"))
	sel, err := Select(u, Needs{Include: []string{"/a"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sel.Paths(), []string{"/a", "/a/f", "/a/self", "/a/up"}; !slices.Equal(got, want) {
		t.Errorf("kept %q, want %q", got, want)
	}
}

func TestConfigKeepsEveryFieldButLayersHistoryAndLabel(t *testing.T) {
	original := []byte(`{"architecture":"amd64","os":"linux","created":"2024-01-02T03:04:05Z","author":"me",
		"config":{"User":"www-data","Env":["PATH=/bin"],"Entrypoint":["/bin/sh"],"Cmd":["-c","x"],"WorkingDir":"/w",
			"ExposedPorts":{"80/tcp":{}},"Volumes":{"/v":{}},"StopSignal":"SIGQUIT","Labels":{"a":"b"},
			"Healthcheck":{"Test":["CMD","true"]},"OnBuild":null,"Unknown":1},
		"rootfs":{"type":"layers","diff_ids":["sha256:1","sha256:2"]},
		"history":[{"created_by":"one"},{"created_by":"two"}]}`)
	layer := WrittenLayer{DiffID: "sha256:abc", Size: 10}
	slimmed, err := Config(original, "feed", layer, "podprof slim: 1 of 2 files", "podprof slim p.json")
	if err != nil {
		t.Fatal(err)
	}
	var before, after map[string]any
	json.Unmarshal(original, &before)
	if err := json.Unmarshal(slimmed, &after); err != nil {
		t.Fatal(err)
	}
	for key := range before {
		switch key {
		case "rootfs", "history", "config":
		default:
			if !jsonEqual(before[key], after[key]) {
				t.Errorf("%s: %v, was %v", key, after[key], before[key])
			}
		}
	}
	runBefore, runAfter := before["config"].(map[string]any), after["config"].(map[string]any)
	for key := range runBefore {
		if key != "Labels" && !jsonEqual(runBefore[key], runAfter[key]) {
			t.Errorf("config.%s: %v, was %v", key, runAfter[key], runBefore[key])
		}
	}
	if labels := runAfter["Labels"].(map[string]any); labels["a"] != "b" || labels[FromLabel] != "feed" || len(labels) != 2 {
		t.Errorf("labels %v", labels)
	}
	if got := after["rootfs"]; !jsonEqual(got, map[string]any{"type": "layers", "diff_ids": []any{"sha256:abc"}}) {
		t.Errorf("rootfs %v", got)
	}
	history := after["history"].([]any)
	if len(history) != 1 || !jsonEqual(history[0], map[string]any{"created": "2024-01-02T03:04:05Z", "created_by": "podprof slim p.json", "comment": "podprof slim: 1 of 2 files"}) {
		t.Errorf("history %v", history)
	}
	again, _ := Config(original, "feed", layer, "podprof slim: 1 of 2 files", "podprof slim p.json")
	if ImageID(again) != ImageID(slimmed) {
		t.Error("the same inputs give another config")
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}
