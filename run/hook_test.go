package run

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	hooks "go.podman.io/common/pkg/hooks/1.0.0"

	"github.com/podprof/podprof/internal/e2e"
	"github.com/podprof/podprof/podmancmd"
	"github.com/podprof/podprof/report"
	"github.com/podprof/podprof/tracerd/hook"
)

// installHook writes the installed hook (writeTestHook) into a hooks dir
// of its own, and returns podman's global flags that use it next to
// podman's default dirs.
func installHook(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	writeTestHook(t, dir)
	return []string{"--hooks-dir", "/usr/share/containers/oci/hooks.d", "--hooks-dir", dir}
}

// writeTestHook writes contrib/hooks.d/podprof.json, the hook make install
// installs, into dir, pointed at the test's podprof, with the tests' idle
// time (TestMain): a tracer the hook starts lingers no longer than those
// podprof run starts, which the leak checks wait for.
func writeTestHook(t *testing.T, dir string) {
	t.Helper()
	if err := e2e.WriteInstalledHook("..", dir, podprofBin, podmancmd.IdleEnv+"="+os.Getenv(podmancmd.IdleEnv)); err != nil {
		t.Fatal(err)
	}
}

// waitProfile waits for the tracer to write path after the container ended.
func waitProfile(t *testing.T, path string) *report.Profile {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			p, err := report.ReadProfile(path)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("no profile at %s 30s after the container ended", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func hasPath(p *report.Profile, path string) bool {
	for _, f := range p.Files {
		if f.Path == path {
			return true
		}
	}
	return false
}

// TestStandaloneHook is the talk's flow: plain podman, the hook installed
// in a hooks dir, and the annotation.
func TestStandaloneHook(t *testing.T) {
	requireImage(t, demoImage)
	hooks := installHook(t)
	out := filepath.Join(t.TempDir(), "out.json")
	args := append(hooks, "run", "--rm", "--annotation", hook.ProfileAnnotation+"="+out, demoImage, "/bin/sh", "-c", "date; cat /etc/os-release")
	r := runCmd(t, "podman", args...)
	if r.code != 0 {
		t.Fatalf("podman exit %d: %s", r.code, r.stderr)
	}
	p := waitProfile(t, out)
	for _, want := range []string{"/usr/bin/dash", "/usr/bin/date", "/usr/lib/os-release"} {
		if !hasPath(p, want) {
			t.Errorf("profile misses %s", want)
		}
	}
	if p.Image.Name != demoImage || p.Container.ID == "" {
		t.Errorf("profile does not name its image and container: %+v %+v", p.Image, p.Container)
	}
}

// TestStandaloneHookManyContainers profiles ten containers at once: each
// profile holds its own container's file and none of the others'.
func TestStandaloneHookManyContainers(t *testing.T) {
	requireImage(t, busyboxImage)
	hooks := installHook(t)
	dir := t.TempDir()
	const n = 10
	var wg sync.WaitGroup
	errs := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := filepath.Join(dir, fmt.Sprintf("c%d.json", i))
			// Each container creates and reads a file of its own name.
			script := fmt.Sprintf("echo %d > /tmp/only-%d; cat /tmp/only-%d; sleep 0.2", i, i, i)
			args := append(append([]string{}, hooks...), "run", "--rm", "--annotation", hook.ProfileAnnotation+"="+out, busyboxImage, "sh", "-c", script)
			if r := runCmd(t, "podman", args...); r.code != 0 {
				errs[i] = fmt.Sprintf("podman exit %d: %s", r.code, r.stderr)
			}
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != "" {
			t.Fatalf("container %d: %s", i, errs[i])
		}
		p := waitProfile(t, filepath.Join(dir, fmt.Sprintf("c%d.json", i)))
		for j := range n {
			if got := hasPath(p, fmt.Sprintf("/tmp/only-%d", j)); got != (i == j) {
				t.Errorf("container %d: /tmp/only-%d recorded=%v", i, j, got)
			}
		}
		if !hasPath(p, "/bin/busybox") {
			t.Errorf("container %d: its shell /bin/busybox is missing", i)
		}
	}
}

// TestHookRefusesBadPath: the container does not start, and podman shows
// the hook's one-line reason.
func TestHookRefusesBadPath(t *testing.T) {
	requireImage(t, busyboxImage)
	hooks := installHook(t)
	for _, tc := range []struct{ path, want string }{
		{"relative.json", "is not absolute"},
		{"/nonexistent-dir/p.json", "does not exist"},
		{t.TempDir(), "is not a regular file"},
	} {
		args := append(append([]string{}, hooks...), "run", "--rm", "--annotation", hook.ProfileAnnotation+"="+tc.path, busyboxImage, "echo", "ran")
		r := runCmd(t, "podman", args...)
		if r.code == 0 || strings.Contains(r.stdout, "ran") {
			t.Errorf("%s: the container ran (exit %d)", tc.path, r.code)
		}
		if !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: podman's error does not carry the hook's reason %q:\n%s", tc.path, tc.want, r.stderr)
		}
	}
}

// TestMakeInstall: the binary and the hook land under DESTDIR, and the
// installed hook names the installed binary.
func TestMakeInstall(t *testing.T) {
	dest := t.TempDir()
	if r := runCmd(t, "make", "-C", "..", "install", "DESTDIR="+dest, "PREFIX=/opt/podprof"); r.code != 0 {
		t.Fatalf("make install: %s%s", r.stdout, r.stderr)
	}
	for _, name := range []string{"podprof", podmancmd.APIExecutable, podmancmd.HookExecutable} {
		if st, err := os.Stat(filepath.Join(dest, "opt/podprof/bin", name)); err != nil || st.Mode()&0o111 == 0 {
			t.Fatalf("no executable %s under DESTDIR/PREFIX/bin: %v", name, err)
		}
	}
	installed, err := os.ReadFile(filepath.Join(dest, "usr/share/containers/oci/hooks.d/podprof.json"))
	if err != nil {
		t.Fatal(err)
	}
	var h hooks.Hook
	if err := json.Unmarshal(installed, &h); err != nil {
		t.Fatal(err)
	}
	matches := false
	for key := range h.When.Annotations {
		matches = matches || regexp.MustCompile(key).MatchString(hook.ProfileAnnotation)
	}
	if h.Hook.Path != "/opt/podprof/bin/podprof-hook" || !slices.Equal(h.Hook.Args, []string{"podprof-hook"}) || !matches || h.Stages[0] != "prestart" {
		t.Errorf("the installed hook does not run the installed podprof-hook at prestart for %s:\n%s", hook.ProfileAnnotation, installed)
	}
	// The tracer service's units: the installed podprof, on the socket
	// clients look for.
	units := filepath.Join(dest, "etc/systemd/system")
	service, err1 := os.ReadFile(filepath.Join(units, "podprof-tracer.service"))
	socket, err2 := os.ReadFile(filepath.Join(units, "podprof-tracer.socket"))
	if err1 != nil || err2 != nil {
		t.Fatalf("the tracer service's units are not installed: %v %v", err1, err2)
	}
	if !strings.Contains(string(service), "\nExecStart=/opt/podprof/bin/podprof tracer\n") {
		t.Errorf("podprof-tracer.service does not run the installed podprof tracer:\n%s", service)
	}
	if !strings.Contains(string(socket), "\nListenStream="+hook.DefaultServiceSocket+"\n") {
		t.Errorf("podprof-tracer.socket does not listen on %s:\n%s", hook.DefaultServiceSocket, socket)
	}
	// A man page for podprof and each of its commands, which man reads;
	// the completion scripts where bash, zsh and fish look.
	for _, command := range []string{"", "-run", "-report", "-slim", "-explore"} {
		page := filepath.Join(dest, "opt/podprof/share/man/man1/podprof"+command+".1")
		if r := runCmd(t, "man", "-l", page); r.code != 0 || !strings.Contains(r.stdout, "SYNOPSIS") {
			t.Errorf("man -l %s: exit %d\n%s%s", page, r.code, r.stdout, r.stderr)
		}
	}
	for _, script := range []string{"bash-completion/completions/podprof", "zsh/site-functions/_podprof", "fish/vendor_completions.d/podprof.fish"} {
		if b, err := os.ReadFile(filepath.Join(dest, "opt/podprof/share", script)); err != nil || !strings.Contains(string(b), "__complete") {
			t.Errorf("completion script %s: %v", script, err)
		}
	}
}

// TestHookInstalled: --podprof-service=auto takes the system's service only
// where a hooks dir runs this podprof's hook (podprof-hook beside it, or
// `podprof hook`) at prestart for the profile annotation.
func TestHookInstalled(t *testing.T) {
	bin, otherBin := t.TempDir(), t.TempDir()
	self := filepath.Join(bin, "podprof")
	lean := filepath.Join(bin, podmancmd.HookExecutable)
	otherLean := filepath.Join(otherBin, podmancmd.HookExecutable)
	for i, path := range []string{self, lean, filepath.Join(otherBin, "podprof"), otherLean} {
		if err := os.WriteFile(path, []byte{byte(i)}, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	profile := map[string]string{`^io\.podprof\.profile$`: ".+"}
	for _, tc := range []struct {
		name        string
		path        string
		args        []string
		stage       string
		annotations map[string]string
		want        bool
	}{
		{"podprof-hook beside podprof", lean, []string{podmancmd.HookExecutable}, "prestart", profile, true},
		{"podprof hook", self, []string{"podprof", "hook"}, "prestart", profile, true},
		{"another podprof's podprof-hook", otherLean, []string{podmancmd.HookExecutable}, "prestart", profile, false},
		{"podprof without its hook command", self, []string{"podprof"}, "prestart", profile, false},
		{"at poststop", lean, []string{podmancmd.HookExecutable}, "poststop", profile, false},
		{"for another annotation", lean, []string{podmancmd.HookExecutable}, "prestart", map[string]string{`^io\.other$`: ".+"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			data, _ := json.Marshal(map[string]any{
				"version": "1.0.0",
				"hook":    map[string]any{"path": tc.path, "args": tc.args},
				"when":    map[string]any{"annotations": tc.annotations},
				"stages":  []string{tc.stage},
			})
			if err := os.WriteFile(filepath.Join(dir, "podprof.json"), data, 0o644); err != nil {
				t.Fatal(err)
			}
			if got := hookInstalled(dir, self); got != tc.want {
				t.Errorf("hookInstalled = %v, want %v for %s", got, tc.want, data)
			}
		})
	}
}
