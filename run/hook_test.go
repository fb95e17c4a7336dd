package run

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	hooks "go.podman.io/common/pkg/hooks/1.0.0"

	"github.com/podprof/podprof/podmancmd"
	"github.com/podprof/podprof/report"
	"github.com/podprof/podprof/tracerd"
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
	data, err := os.ReadFile("../contrib/hooks.d/podprof.json")
	if err != nil {
		t.Fatal(err)
	}
	var hook hooks.Hook
	if err := json.Unmarshal(data, &hook); err != nil {
		t.Fatalf("contrib/hooks.d/podprof.json: %v", err)
	}
	hook.Hook.Path = podprofBin
	hook.Hook.Env = append(hook.Hook.Env, podmancmd.IdleEnv+"="+os.Getenv(podmancmd.IdleEnv))
	if data, err = json.Marshal(hook); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "podprof.json"), data, 0o644); err != nil {
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
	args := append(hooks, "run", "--rm", "--annotation", tracerd.ProfileAnnotation+"="+out, demoImage, "/bin/sh", "-c", "date; cat /etc/os-release")
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
			args := append(append([]string{}, hooks...), "run", "--rm", "--annotation", tracerd.ProfileAnnotation+"="+out, busyboxImage, "sh", "-c", script)
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
		args := append(append([]string{}, hooks...), "run", "--rm", "--annotation", tracerd.ProfileAnnotation+"="+tc.path, busyboxImage, "echo", "ran")
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
	for _, name := range []string{"podprof", podmancmd.APIExecutable} {
		if st, err := os.Stat(filepath.Join(dest, "opt/podprof/bin", name)); err != nil || st.Mode()&0o111 == 0 {
			t.Fatalf("no executable %s under DESTDIR/PREFIX/bin: %v", name, err)
		}
	}
	hook, err := os.ReadFile(filepath.Join(dest, "usr/share/containers/oci/hooks.d/podprof.json"))
	if err != nil {
		t.Fatal(err)
	}
	var h hooks.Hook
	if err := json.Unmarshal(hook, &h); err != nil {
		t.Fatal(err)
	}
	matches := false
	for key := range h.When.Annotations {
		matches = matches || regexp.MustCompile(key).MatchString(tracerd.ProfileAnnotation)
	}
	if h.Hook.Path != "/opt/podprof/bin/podprof" || !matches || h.Stages[0] != "prestart" {
		t.Errorf("the installed hook does not run the installed podprof at prestart for %s:\n%s", tracerd.ProfileAnnotation, hook)
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
	if !strings.Contains(string(socket), "\nListenStream="+tracerd.DefaultServiceSocket+"\n") {
		t.Errorf("podprof-tracer.socket does not listen on %s:\n%s", tracerd.DefaultServiceSocket, socket)
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
