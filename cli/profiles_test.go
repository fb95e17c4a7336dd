package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/podprof/podprof/report"
)

// testSaved writes profiles of containers "web" (twice) and "db" and an
// unreadable file to a directory, as ProfileDir would hold them, the
// newest first.
func testSaved(t *testing.T) []savedProfile {
	dir := t.TempDir()
	now := time.Now()
	var saved []savedProfile
	for i, c := range []struct{ name, id string }{{"web", "aaaa1111"}, {"db", "bbbb2222"}, {"web", "cccc3333"}} {
		path := filepath.Join(dir, c.name+"-"+string(rune('1'+i))+".json")
		p := &report.Profile{Version: report.ProfileVersion, Image: report.ImageRef{Name: "localhost/app:1", ID: strings.Repeat("ab", 32)},
			Container: report.ContainerRef{ID: c.id + strings.Repeat("0", 56), Name: c.name}, Tracer: "lsm",
			Files: []report.File{{Path: "/a"}, {Path: "/b\x1b[2J"}}}
		if err := report.WriteProfile(path, p); err != nil {
			t.Fatal(err)
		}
		saved = append(saved, savedProfile{path: path, size: 100, modified: now.Add(-time.Duration(i) * 48 * time.Hour), profile: p})
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := report.ReadProfile(bad)
	return append(saved, savedProfile{path: bad, size: 1, modified: now.Add(-200 * time.Hour), err: err})
}

// runProfiles runs a profiles command over saved, with stdin.
func runProfiles(t *testing.T, cmd *cobra.Command, stdin string, args ...string) (stdout, stderr string, err error) {
	var out, errOut bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err = cmd.Execute()
	return out.String(), errOut.String(), err
}

func TestProfilesLs(t *testing.T) {
	saved := testSaved(t)
	list := func() []savedProfile { return saved }
	out, stderr, err := runProfiles(t, profilesLsCommand(list), "")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if err != nil || len(lines) != 5 || !strings.Contains(stderr, "podprof: warning: profile "+saved[3].path+" is truncated or corrupt") {
		t.Fatalf("ls: %v, stderr %q, stdout:\n%s", err, stderr, out)
	}
	for i, want := range []string{
		`^CONTAINER ID +NAME +IMAGE +CREATED +FILES OPENED +USED +PATH$`,
		`^aaaa11110000 +web +localhost/app:1 +Less than a second ago +2 +- +/.*/web-1\.json$`,
		`^bbbb22220000 +db +localhost/app:1 +2 days ago +2 +- +/.*/db-2\.json$`,
		`^cccc33330000 +web +localhost/app:1 +4 days ago +2 +- +/.*/web-3\.json$`,
		`^- +- +- +8 days ago +- +- +/.*/bad\.json$`,
	} {
		if !regexp.MustCompile(want).MatchString(lines[i]) {
			t.Errorf("line %d %q does not match %s", i+1, lines[i], want)
		}
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-q"}, saved[0].path + "\n"},
		{[]string{"--noheading", "--no-trunc", "--format", "table {{.ID}} {{.Name}}"}, "aaaa1111" + strings.Repeat("0", 56) + "  web\n"},
		{[]string{"--format", "table {{.Name}} {{.Files}}"}, "NAME        FILES OPENED\nweb         2\n"},
		{[]string{"--format", "{{.Name}}:{{.Tracer}}:{{.Size}}:{{.Used}}"}, "web:lsm:100 B:-\n"},
	} {
		out, _, err := runProfiles(t, profilesLsCommand(list), "", c.args...)
		if err != nil || !strings.HasPrefix(out, c.want) {
			t.Errorf("ls %q: %v, stdout %q, want it to start with %q", c.args, err, out, c.want)
		}
	}

	out, _, err = runProfiles(t, profilesLsCommand(list), "", "--format", "json")
	var got []map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 4 {
		t.Fatalf("ls --format json: %v, %v:\n%s", err, len(got), out)
	}
	if got[0]["container_name"] != "web" || got[0]["files"] != 2.0 || got[0]["path"] != saved[0].path || got[3]["error"] == nil || got[0]["podprof_version"] != nil {
		t.Errorf("ls --format json: %v", got)
	}
	if _, _, err := runProfiles(t, profilesLsCommand(list), "", "--format", "{{.Nope}}"); err == nil || strings.Contains(err.Error(), "\n") {
		t.Errorf("a template naming no field: %v, want a one-line error", err)
	}
}

func TestProfilesNamed(t *testing.T) {
	saved := testSaved(t)
	names := func(list []savedProfile) []string {
		var base []string
		for _, s := range list {
			base = append(base, filepath.Base(s.path))
		}
		return base
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"web"}, []string{"web-1.json", "web-3.json"}},
		{[]string{"bbbb2"}, []string{"db-2.json"}},
		{[]string{"bad.json", "web-1.json", "web"}, []string{"web-1.json", "web-3.json", "bad.json"}},
		{[]string{saved[1].path}, []string{"db-2.json"}},
	} {
		got, err := profilesNamed(saved, c.args)
		if err != nil || !slices.Equal(names(got), c.want) {
			t.Errorf("%q: %v, %v; want %v", c.args, names(got), err, c.want)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"web", "nosuch"}, "no saved profile of container nosuch in "},
		{[]string{"bb"}, "no saved profile of container bb in "}, // too short an ID prefix
		{[]string{"/etc/passwd"}, "/etc/passwd is not a profile saved in "},
		{[]string{"../x.json"}, "../x.json is not a profile saved in "},
	} {
		if got, err := profilesNamed(saved, c.args); err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q: %v, %v; want an error %q", c.args, names(got), err, c.want)
		}
	}
}

func TestProfilesRm(t *testing.T) {
	saved := testSaved(t)
	list := func() []savedProfile { return saved }
	out, _, err := runProfiles(t, profilesRmCommand(list), "", "web", "nosuch")
	if err == nil || out != "" {
		t.Fatalf("rm with an unknown name: %v, %q; want an error and nothing removed", err, out)
	}
	out, _, err = runProfiles(t, profilesRmCommand(list), "", "web")
	if err != nil || out != saved[0].path+"\n"+saved[2].path+"\n" {
		t.Errorf("rm web: %v, %q", err, out)
	}
	for i, s := range saved {
		if _, err := os.Stat(s.path); (err == nil) != (i == 1 || i == 3) {
			t.Errorf("after rm web, %s: %v", s.path, err)
		}
	}
}

func TestProfilesPrune(t *testing.T) {
	saved := testSaved(t)
	base := func(list []savedProfile) []string {
		var names []string
		for _, s := range list {
			names = append(names, filepath.Base(s.path))
		}
		return names
	}
	now := time.Now()
	for _, c := range []struct {
		age  time.Duration
		keep int
		want []string
	}{
		{0, 0, []string{"web-1.json", "db-2.json", "web-3.json", "bad.json"}},
		{24 * time.Hour, 0, []string{"db-2.json", "web-3.json", "bad.json"}},
		{24 * time.Hour, 2, []string{"web-3.json", "bad.json"}},
		{0, 3, []string{"bad.json"}},
		{0, 10, nil},
		{300 * time.Hour, 0, nil},
	} {
		if got := base(pruneSelect(saved, now, c.age, c.keep)); !slices.Equal(got, c.want) {
			t.Errorf("older than %v, keep %d: %v, want %v", c.age, c.keep, got, c.want)
		}
	}

	list := func() []savedProfile { return saved }
	out, _, err := runProfiles(t, profilesPruneCommand(list), "n\n", "--older-than", "3d")
	if err != nil || out != "WARNING! This command removes 2 of the 4 profiles in "+ProfileDir()+": written more than 3d ago.\nAre you sure you want to continue? [y/N] " {
		t.Errorf("prune, answered no: %v, %q", err, out)
	}
	if _, err := os.Stat(saved[3].path); err != nil {
		t.Fatalf("prune answered no removed a profile: %v", err)
	}
	out, _, err = runProfiles(t, profilesPruneCommand(list), "", "--keep", "2", "-f")
	if want := saved[2].path + "\n" + saved[3].path + "\nTotal reclaimed space: 101 B\n"; err != nil || out != want {
		t.Errorf("prune --keep 2 -f: %v, %q, want %q", err, out, want)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--older-than", "week"}, `invalid --older-than: "week" is not a duration such as 90m, 24h or 7d`},
		{[]string{"--older-than", "-1h"}, `invalid --older-than: "-1h" is not a duration such as 90m, 24h or 7d`},
		{[]string{"--keep", "-1"}, "invalid --keep -1: give 0 or more profiles to keep"},
	} {
		if _, _, err := runProfiles(t, profilesPruneCommand(list), "y\n", c.args...); err == nil || err.Error() != c.want {
			t.Errorf("prune %q: %v, want %q", c.args, err, c.want)
		}
	}
}

func TestParseAge(t *testing.T) {
	for in, want := range map[string]time.Duration{"90m": 90 * time.Minute, "24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "0": 0, "1h30m": 90 * time.Minute} {
		if got, err := parseAge(in); err != nil || got != want {
			t.Errorf("parseAge(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "1.5d", "-2d", "7 days", "1w"} {
		if got, err := parseAge(in); err == nil {
			t.Errorf("parseAge(%q) = %v, want an error", in, got)
		}
	}
}
