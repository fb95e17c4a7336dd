package run

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/podprof/podprof/cli"
	"github.com/podprof/podprof/internal/e2e"
	"github.com/podprof/podprof/report"
)

// savedDemoProfiles runs two different commands in the demo image under
// container names of this test, saved in the profile directory as
// podprof run saves them, and returns the names. Whatever the test leaves
// of them is removed after it.
func savedDemoProfiles(t *testing.T) (a, b string) {
	t.Helper()
	e2e.Require(t, true, "it saves profiles of the demo image with podprof run")
	requireImage(t, demoImage)
	prefix := fmt.Sprintf("podprof-test-profiles-%d-", os.Getpid())
	t.Cleanup(func() {
		leftovers, _ := filepath.Glob(filepath.Join(cli.ProfileDir(), prefix+"*.json"))
		for _, path := range leftovers {
			os.Remove(path)
		}
	})
	a, b = prefix+"a", prefix+"b"
	for _, run := range []struct{ name, script string }{{a, demoScriptA}, {b, "grep -c root /etc/passwd; cat /etc/os-release"}} { // b the newest
		if r := podprof(t, "run", "--rm", "--name", run.name, demoImage, "/bin/sh", "-c", run.script); r.code != 0 {
			t.Fatalf("podprof run --name %s: exit %d, stderr:\n%s", run.name, r.code, r.stderr)
		}
	}
	return a, b
}

// demoScriptA is what the first of savedDemoProfiles runs.
const demoScriptA = "date; cat /etc/os-release"

// podprof profiles ls, diff and rm over profiles podprof run saved.
func TestProfilesDemo(t *testing.T) {
	a, b := savedDemoProfiles(t)

	var listed []struct {
		Path           string `json:"path"`
		ContainerName  string `json:"container_name"`
		ImageName      string `json:"image_name"`
		Files          int    `json:"files"`
		PodprofVersion string `json:"podprof_version"`
	}
	r := podprof(t, "profiles", "ls", "--format", "json")
	if err := json.Unmarshal([]byte(r.stdout), &listed); r.code != 0 || err != nil {
		t.Fatalf("profiles ls --format json: exit %d, %v:\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	var paths []string
	for _, p := range listed {
		if p.ContainerName == a || p.ContainerName == b {
			paths = append(paths, p.Path)
			if p.ImageName != demoImage || p.Files == 0 || p.PodprofVersion == "" || filepath.Dir(p.Path) != cli.ProfileDir() {
				t.Errorf("listed %+v", p)
			}
		}
	}
	if len(paths) != 2 || !strings.Contains(paths[0], b) {
		t.Fatalf("profiles ls lists %q of %s and %s, want both, the newest (%s) first", paths, a, b, b)
	}

	table := podprof(t, "profiles", "ls")
	if !regexp.MustCompile(`(?m)^CONTAINER ID +NAME +IMAGE +CREATED +FILES OPENED +USED +PATH$`).MatchString(table.stdout) ||
		!regexp.MustCompile(`(?m)^[0-9a-f]{12}  +`+a+`  +`+regexp.QuoteMeta(demoImage)+`  +(Less than a second|\d+ seconds?) ago  +\d+  +2\.\d\d MB \(2\.\d%\)  +`+regexp.QuoteMeta(paths[1])+`$`).MatchString(table.stdout) {
		t.Errorf("profiles ls: exit %d, no heading or no line of %s:\n%s%s", table.code, a, table.stdout, table.stderr)
	}
	if r := podprof(t, "profiles", "ls", "--noheading", "--format", "{{.Name}} {{.Image}}"); !strings.Contains(r.stdout, "\n"+b+" "+demoImage+"\n") && !strings.HasPrefix(r.stdout, b+" "+demoImage+"\n") {
		t.Errorf("profiles ls --format: %s%s", r.stdout, r.stderr)
	}
	if r := podprof(t, "profiles", "ls", "-q"); !slices.Contains(strings.Split(r.stdout, "\n"), paths[0]) {
		t.Errorf("profiles ls -q lacks %s:\n%s", paths[0], r.stdout)
	}

	t.Run("diff", func(t *testing.T) {
		var d struct {
			A, B       struct{ Used report.Counts }
			OnlyA      report.Counts `json:"only_a"`
			OnlyB      report.Counts `json:"only_b"`
			Both       report.Counts
			OnlyAFiles []struct{ Path string } `json:"only_a_files"`
			OnlyBFiles []struct{ Path string } `json:"only_b_files"`
		}
		r := podprof(t, "profiles", "diff", "--format", "json", a, b)
		if err := json.Unmarshal([]byte(r.stdout), &d); r.code != 0 || err != nil {
			t.Fatalf("profiles diff --format json: exit %d, %v:\n%s%s", r.code, err, r.stdout, r.stderr)
		}
		has := func(files []struct{ Path string }, path string) bool {
			return slices.ContainsFunc(files, func(f struct{ Path string }) bool { return f.Path == path })
		}
		if !has(d.OnlyAFiles, "/usr/bin/date") || !has(d.OnlyBFiles, "/usr/bin/grep") || !has(d.OnlyBFiles, "/etc/passwd") ||
			has(d.OnlyAFiles, "/usr/bin/cat") || has(d.OnlyBFiles, "/usr/bin/cat") {
			t.Errorf("only in %s %v, only in %s %v: want date, then grep and passwd, and cat on both", a, d.OnlyAFiles, b, d.OnlyBFiles)
		}
		for _, side := range []struct{ used, only report.Counts }{{d.A.Used, d.OnlyA}, {d.B.Used, d.OnlyB}} {
			if side.used.Files != side.only.Files+d.Both.Files || side.used.Bytes != side.only.Bytes+d.Both.Bytes {
				t.Errorf("used %+v is not only %+v + both %+v", side.used, side.only, d.Both)
			}
		}
		// Another run of the same command differs in nothing but its pids
		// and times, which the diff does not see.
		again := filepath.Join(t.TempDir(), "again.json")
		if r := podprof(t, "run", "--rm", "--podprof-output="+again, demoImage, "/bin/sh", "-c", demoScriptA); r.code != 0 {
			t.Fatalf("podprof run: exit %d, stderr:\n%s", r.code, r.stderr)
		}
		same := podprof(t, "profiles", "diff", a, again)
		if same.code != 0 || !strings.Contains(same.stdout, "\nused only in A: 0 B in 0 files\nused only in B: 0 B in 0 files\n") {
			t.Errorf("profiles diff of two runs of one command: exit %d:\n%s%s", same.code, same.stdout, same.stderr)
		}
		text := podprof(t, "profiles", "diff", a, b)
		if text.code != 0 || !regexp.MustCompile(`(?m)^files used only in B:\n(.*\n)*  +[\d.]+ kB  /usr/bin/grep$`).MatchString(text.stdout) {
			t.Errorf("profiles diff: exit %d:\n%s%s", text.code, text.stdout, text.stderr)
		}
		if bad := podprof(t, "profiles", "diff", a, "podprof-no-such-container"); bad.code != 125 || !strings.HasPrefix(bad.stderr, "Error: no profile of container podprof-no-such-container in ") {
			t.Errorf("profiles diff of a missing container: exit %d, %s", bad.code, bad.stderr)
		}
	})

	rm := podprof(t, "profiles", "rm", a, b)
	if rm.code != 0 || rm.stdout != paths[0]+"\n"+paths[1]+"\n" {
		t.Errorf("profiles rm: exit %d, stdout %q, stderr %q", rm.code, rm.stdout, rm.stderr)
	}
	for _, path := range paths {
		if _, err := os.Stat(path); err == nil {
			t.Errorf("%s is still there after profiles rm", path)
		}
	}
	outside := filepath.Join(t.TempDir(), "outside.json")
	if err := os.WriteFile(outside, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := podprof(t, "profiles", "rm", outside); r.code != 125 || !strings.Contains(r.stderr, "is not a profile saved in") {
		t.Errorf("profiles rm of a file elsewhere: exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(outside); err != nil {
		t.Errorf("profiles rm removed a file outside the profile directory: %v", err)
	}
}

// The summary's other forms on a real profile: --top, every unused path,
// templates, the version in the JSON.
func TestReportDemoFormats(t *testing.T) {
	e2e.Require(t, true, "it profiles the demo image with podprof run")
	profile := demoProfile(t)
	var s report.Summary
	r := podprof(t, "report", "--format", "json", "--top", "12", profile)
	if err := json.Unmarshal([]byte(r.stdout), &s); r.code != 0 || err != nil {
		t.Fatalf("report --format json: exit %d, %v:\n%s", r.code, err, r.stderr)
	}
	if s.Version == "" || len(s.LargestUnusedDirs) != 12 || len(s.LargestUnusedFiles) != 12 {
		t.Errorf("version %q, %d dirs, %d files; want a version, 12 and 12", s.Version, len(s.LargestUnusedDirs), len(s.LargestUnusedFiles))
	}
	if text := podprof(t, "report", "--top", "1", profile); !regexp.MustCompile(`\nlargest unused directories:\n  [^\n]+\nlargest unused files:\n  [^\n]+\nlayers, bottom first:\n`).MatchString(text.stdout) {
		t.Errorf("report --top 1 lists other than one directory and one file:\n%s", text.stdout)
	}

	lines := podprof(t, "report", "--format", "paths", profile)
	nul := podprof(t, "report", "--format", "paths", "-z", profile)
	paths := strings.Split(strings.TrimSuffix(lines.stdout, "\n"), "\n")
	if lines.code != 0 || nul.code != 0 || strings.Join(paths, "\x00")+"\x00" != nul.stdout {
		t.Fatalf("--format paths (exit %d) and -z (exit %d) differ:\n%s%s", lines.code, nul.code, lines.stderr, nul.stderr)
	}
	if !slices.Contains(paths, "/usr/bin/perl") || slices.Contains(paths, "/usr/bin/dash") || slices.Contains(paths, "/usr/share") ||
		int64(len(paths)) < s.UnusedFiles {
		t.Errorf("%d unused paths for %d unused files; want perl, neither dash (used) nor /usr/share (a directory)", len(paths), s.UnusedFiles)
	}
	// Each path names a file of the image, as a container sees it (but
	// where podman mounts its own: /dev, /etc/hosts...).
	usr := slices.DeleteFunc(slices.Clone(paths), func(p string) bool { return !strings.HasPrefix(p, "/usr/") })
	for _, path := range []string{usr[0], usr[len(usr)/2], usr[len(usr)-1]} {
		if err := exec.Command("podman", "run", "--rm", "--network=none", demoImage, "test", "-e", path, "-o", "-L", path).Run(); err != nil {
			t.Errorf("unused path %s is not in the image: %v", path, err)
		}
	}

	template := podprof(t, "report", "--format", "{{.UnusedBytes}} {{.UsedFiles}}/{{.ImageFiles}} {{len .Layers}}", profile)
	if want := fmt.Sprintf("%d %d/%d 1\n", s.UnusedBytes, s.UsedFiles, s.ImageFiles); template.code != 0 || template.stdout != want {
		t.Errorf("report --format template: exit %d, %q, want %q; stderr %s", template.code, template.stdout, want, template.stderr)
	}
	gate := podprof(t, "report", "--format", "{{.UnusedFiles}}", "--fail-unused-percent", "50", profile)
	if gate.code != 1 || gate.stdout != fmt.Sprintf("%d\n", s.UnusedFiles) || !strings.HasPrefix(gate.stderr, "podprof: gate failed: ") {
		t.Errorf("a template with a failed gate: exit %d, %q, %q", gate.code, gate.stdout, gate.stderr)
	}
	p, err := report.ReadProfile(profile)
	if err != nil || p.PodprofVersion != s.Version {
		t.Errorf("the profile's podprof_version %q, the summary's %q: %v", p.PodprofVersion, s.Version, err)
	}
}

// podprof profiles prune as a user without root, in its own profile
// directory ($XDG_DATA_HOME/podprof/profiles): podman's question, -f,
// --older-than and --keep, and nothing else removed.
func TestRootlessProfilesPrune(t *testing.T) {
	e2e.Require(t, false, "it runs podprof as a test user")
	u := requireRootlessUser(t, rootlessA)
	data := u.tempDir(t)
	dir := filepath.Join(data, "podprof", "profiles")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := &report.Profile{Version: report.ProfileVersion, Image: report.ImageRef{Name: demoImage}, Container: report.ContainerRef{Name: "web"}}
	now := time.Now()
	var names []string
	for age := range 5 { // web-0 is the newest, web-4 four days old
		name := fmt.Sprintf("web-%d.json", age)
		path := filepath.Join(dir, name)
		modified := now.Add(-time.Duration(age) * 24 * time.Hour)
		if err := report.WriteProfile(path, p); err != nil || os.Chtimes(path, modified, modified) != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	other := filepath.Join(data, "other.json") // beside the profile directory, not in it
	link := filepath.Join(dir, "link.json")    // a link there, to it
	if err := os.WriteFile(other, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(other, link); err != nil {
		t.Fatal(err)
	}
	owned := []string{filepath.Dir(dir), dir, other, link}
	for _, name := range names {
		owned = append(owned, filepath.Join(dir, name))
	}
	for _, path := range owned {
		if err := os.Lchown(path, u.uid, u.gid); err != nil {
			t.Fatal(err)
		}
	}
	prune := func(stdin string, args ...string) result {
		t.Helper()
		return u.run(t, func(cmd *exec.Cmd) {
			cmd.Env = append(u.env(""), "XDG_DATA_HOME="+data)
			cmd.Stdin = strings.NewReader(stdin)
		}, filepath.Join(rootlessBin(t), "podprof"), append([]string{"profiles", "prune"}, args...)...)
	}
	left := func() []string {
		entries, _ := os.ReadDir(dir)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return names
	}

	r := prune("n\n", "--older-than", "36h")
	if want := "WARNING! This command removes 3 of the 5 profiles in " + dir + ": written more than 36h ago.\nAre you sure you want to continue? [y/N] "; r.code != 0 || r.stdout != want {
		t.Errorf("prune answered no: exit %d, stdout %q, want %q; stderr %s", r.code, r.stdout, want, r.stderr)
	}
	if got := left(); len(got) != 6 {
		t.Fatalf("prune answered no removed profiles: %v left", got)
	}
	r = prune("y\n", "--older-than", "36h", "--keep", "3")
	if r.code != 0 || !strings.HasSuffix(r.stdout, "[y/N] "+filepath.Join(dir, "web-3.json")+"\n"+filepath.Join(dir, "web-4.json")+"\nTotal reclaimed space: "+report.HumanBytes(2*fileSize(t, filepath.Join(dir, "web-0.json")))+"\n") {
		t.Errorf("prune --keep 3, answered yes: exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
	if r := prune("", "-f"); r.code != 0 || strings.Contains(r.stdout, "WARNING") {
		t.Errorf("prune -f: exit %d, %s%s", r.code, r.stdout, r.stderr)
	}
	if got := left(); !slices.Equal(got, []string{"link.json"}) {
		t.Errorf("after prune -f, %v is left; want the link alone, never a profile", got)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("prune removed %s, outside the profile directory: %v", other, err)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}
