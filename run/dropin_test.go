package run

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// helpFlags lists the long flag names a --help text shows.
func helpFlags(help string) map[string]bool {
	flags := make(map[string]bool)
	for _, m := range regexp.MustCompile(`(?m)^\s+(?:-\w, )?--([\w-]+)`).FindAllStringSubmatch(help, -1) {
		flags[m[1]] = true
	}
	return flags
}

// TestRunHelpHasEveryPodmanRunFlag: podprof run takes whatever podman run
// takes, plus its own --podprof-* options.
func TestRunHelpHasEveryPodmanRunFlag(t *testing.T) {
	podman := helpFlags(runCmd(t, "podman", "run", "--help").stdout)
	podprofHelp := podprof(t, "run", "--help").stdout
	ours := helpFlags(podprofHelp)
	if len(podman) < 100 {
		t.Fatalf("podman run --help shows only %d flags: cannot compare", len(podman))
	}
	// Through an API socket, podman cannot hand the client's open file
	// descriptors, environment or decryption keys to the container.
	notThroughTheAPI := map[string]bool{"preserve-fds": true, "preserve-fd": true, "env-host": true, "decryption-key": true}
	for name := range podman {
		if !ours[name] && !notThroughTheAPI[name] {
			t.Errorf("podprof run --help lacks podman's --%s", name)
		}
	}
	for _, name := range []string{"podprof-output", "podprof-summary", "podprof-format", "podprof-tracer", "podprof-untraceable"} {
		if !ours[name] {
			t.Errorf("podprof run --help lacks its own --%s", name)
		}
	}
}

func TestGlobalFlagsBeforeRun(t *testing.T) {
	requireImage(t, busyboxImage)
	out := filepath.Join(t.TempDir(), "p.json")
	r := podprof(t, "--log-level", "error", "--cgroup-manager=cgroupfs", "--runtime", "runc", "run", "--rm", "--podprof-output="+out, busyboxImage, "echo", "hi")
	if r.code != 0 || r.stdout != "hi\n" {
		t.Fatalf("exit %d stdout %q stderr %s", r.code, r.stdout, r.stderr)
	}
	waitProfile(t, out)

	// --noout silences stdout, the container's too, as with podman.
	r = podprof(t, "--noout", "run", "--rm", "--podprof-output="+out, busyboxImage, "echo", "hi")
	want := runCmd(t, "podman", "--noout", "run", "--rm", busyboxImage, "echo", "hi")
	if r != want {
		t.Errorf("podprof --noout run = %+v, podman = %+v", r, want)
	}

	// --out (podman 5; podman 4 refuses it) sends stdout to a file.
	dir := t.TempDir()
	podmanOut, podprofOut := filepath.Join(dir, "podman.out"), filepath.Join(dir, "podprof.out")
	want = runCmd(t, "podman", "--out", podmanOut, "run", "--rm", busyboxImage, "echo", "hi")
	r = podprof(t, "--out", podprofOut, "run", "--rm", "--podprof-output="+out, busyboxImage, "echo", "hi")
	wantFile, _ := os.ReadFile(podmanOut)
	gotFile, _ := os.ReadFile(podprofOut)
	if r.code != want.code || r.stdout != want.stdout || string(gotFile) != string(wantFile) {
		t.Errorf("--out: podprof exit %d stdout %q file %q; podman exit %d stdout %q file %q",
			r.code, r.stdout, gotFile, want.code, want.stdout, wantFile)
	}

	r = podprof(t, "--url", "unix:///nowhere", "run", "--rm", busyboxImage, "true")
	if r.code != 125 || !strings.Contains(r.stderr, "--url") {
		t.Errorf("a remote podman must be refused with 125; got %d: %s", r.code, r.stderr)
	}
}

// TestUntraceable: where podprof can't trace, it fails by default and runs
// the container untraced, with a one-line warning, when asked to.
func TestUntraceable(t *testing.T) {
	requireImage(t, busyboxImage)
	// A mode this kernel refuses stands in for a kernel that can't trace:
	// CI's kernel refuses trampolines, qemu guests run lsm and fentry.
	unavailable := ""
	for _, mode := range []string{"lsm", "fentry"} {
		if r := podprof(t, "run", "--rm", "--podprof-tracer="+mode, "--podprof-output="+filepath.Join(t.TempDir(), "p.json"), busyboxImage, "true"); r.code == 125 {
			unavailable = mode
			break
		}
	}
	if unavailable == "" {
		t.Fatal("both lsm and fentry trace on this kernel: no way to make podprof unable to trace here")
	}
	r := podprof(t, "run", "--rm", "--podprof-tracer="+unavailable, busyboxImage, "sh", "-c", "echo hi; exit 4")
	if r.code != 125 || r.stdout != "" || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("default: want a one-line error and exit 125 without running; got %+v", r)
	}
	r = podprof(t, "run", "--rm", "--podprof-tracer="+unavailable, "--podprof-untraceable=run", busyboxImage, "sh", "-c", "echo hi; exit 4")
	if r.code != 4 || r.stdout != "hi\n" || !strings.HasPrefix(r.stderr, "podprof: not tracing") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("untraceable=run: want the container's output and exit 4 and a one-line warning; got %+v", r)
	}
}

func TestWithoutPodprofFlags(t *testing.T) {
	args := []string{"--rm", "--podprof-output", "/x", "-i", "--podprof-tracer=lsm", "img", "--podprof-output", "kept"}
	got := withoutPodprofFlags(args, 3)
	want := []string{"--rm", "-i", "img", "--podprof-output", "kept"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %q, want %q", got, want)
	}
}
