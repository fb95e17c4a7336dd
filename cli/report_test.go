package cli

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "1000": 1000, "50MB": 50_000_000, "50mb": 50_000_000, "50M": 50_000_000, "50 MB": 50_000_000,
		"1.5GB": 1_500_000_000, "4kB": 4000, "4KiB": 4096, "1.5GiB": 1_610_612_736, "2mib": 2 << 20, "10B": 10,
	} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MB", "-5MB", "5XB", "5MBB", "1e30", "9300000PB", "lots"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, got)
		}
	}
}

func TestParsePercent(t *testing.T) {
	for in, want := range map[string]float64{"0": 0, "50": 50, "12.5%": 12.5, "100": 100, " 7 ": 7} {
		if got, err := parsePercent(in); err != nil || got != want {
			t.Errorf("parsePercent(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "100.1", "NaN", "half", "5%%"} {
		if got, err := parsePercent(in); err == nil {
			t.Errorf("parsePercent(%q) = %v, want an error", in, got)
		}
	}
}

// Bad flags are podprof's own errors: 125 and one line, before any
// profile is read.
func TestReportFlagErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--format", "xml", "p.json"}, `Error: invalid --format "xml": use text, json, tree, paths or a Go template such as '{{.UnusedBytes}}'`},
		{[]string{"--format", "{{.Unused", "p.json"}, `Error: invalid --format template "{{.Unused": template: report:1: unclosed action`},
		{[]string{"-z", "p.json"}, "Error: --null is for --format paths"},
		{[]string{"--format", "tree", "--top", "3", "p.json"}, "Error: --top is for the summary: --format text, json or a template"},
		{[]string{"--packages", "--top", "3", "p.json"}, "Error: --top is for the summary: --format text, json or a template"},
		{[]string{"--format", "paths", "--packages", "p.json"}, "Error: --packages is for --format text or json"},
		{[]string{"--top", "-1", "p.json"}, "Error: invalid --top -1: give 0 or more entries to list"},
		{[]string{"--depth", "2", "p.json"}, "Error: --depth is for --format tree"},
		{[]string{"--format", "json", "--unused-only", "p.json"}, "Error: --unused-only is for --format tree"},
		{[]string{"--format", "tree", "--depth", "-1", "p.json"}, "Error: invalid --depth -1: give 0 or more levels"},
		{[]string{"--format", "tree", "--sort", "age", "p.json"}, `Error: invalid --sort "age": use size or name`},
		{[]string{"--fail-unused-bytes", "lots", "p.json"}, `Error: invalid --fail-unused-bytes: "lots" is not a size such as 50MB, 1.5GiB or 1000`},
		{[]string{"--fail-unused-percent", "150", "p.json"}, `Error: invalid --fail-unused-percent: "150" is not a percentage from 0 to 100`},
		{[]string{"--format", "tree", "podprof-no-such-container"}, "Error: no profile of container podprof-no-such-container in " + DefaultProfileDir + ": a container's profile is written when it ends; or name a PROFILE file"},
		{[]string{filepath.Join(t.TempDir(), "missing.json")}, "Error: cannot read profile "},
	} {
		code, stdout, stderr := podprof(append([]string{"report"}, c.args...)...)
		if code != 125 || stdout.Len() != 0 || !strings.HasPrefix(stderr.String(), c.want) || strings.Count(stderr.String(), "\n") != 1 {
			t.Errorf("report %q: exit %d, stdout %q, stderr %q; want 125 and %q", c.args, code, stdout.String(), stderr.String(), c.want)
		}
	}
	if code, stdout, stderr := podprof("report", "--help"); code != 0 || !strings.Contains(stdout.String(), "--fail-unused-bytes SIZE") || stderr.Len() != 0 {
		t.Errorf("--help: exit %d, stdout %s, stderr %s", code, stdout.String(), stderr.String())
	}
}

// podprof runs podprof's command line in args as main.go does, for
// commands IsCommand says are podprof's.
func podprof(args ...string) (code int, stdout, stderr *bytes.Buffer) {
	stdout, stderr = new(bytes.Buffer), new(bytes.Buffer)
	return Main(args, stdout, stderr), stdout, stderr
}

func TestReadsArchive(t *testing.T) {
	for _, c := range []struct {
		args []string
		want bool
	}{
		{[]string{"report", "--image", "docker-archive:/tmp/a.tar", "p.json"}, true},
		{[]string{"explore", "--image=oci:/tmp/layout"}, true},
		{[]string{"profiles", "diff", "--image-b", "oci-archive:/tmp/b.tar", "a", "b"}, true},
		{[]string{"report", "--image", "localhost/app:1", "p.json"}, false},
		{[]string{"report", "p.json"}, false},
		{[]string{"report", "--no-such-flag", "docker-archive:/tmp/a.tar"}, false}, // podprof says what is wrong
		{[]string{"images", "docker-archive:/tmp/a.tar"}, false},                   // podman's
		{[]string{"load", "-i", "docker-archive:/tmp/a.tar"}, false},
		{nil, false},
	} {
		if got := ReadsArchive(c.args); got != c.want {
			t.Errorf("ReadsArchive(%q) = %v, want %v", c.args, got, c.want)
		}
	}
}
