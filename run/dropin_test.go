package run

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
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
	for name := range podman {
		if !ours[name] {
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

// TestRunLikePodman runs what podman's own system tests caught podprof
// doing differently, with podman and with podprof, and compares: exit
// code, stdout, stderr, and the files left. Each podprof run is traced.
func TestRunLikePodman(t *testing.T) {
	requireImage(t, busyboxImage)
	archive := filepath.Join(t.TempDir(), "busybox.tar")
	if r := runCmd(t, "podman", "save", "--quiet", "--format", "docker-archive", "-o", archive, busyboxImage); r.code != 0 {
		t.Fatalf("podman save: %s", r.stderr)
	}
	preserved := filepath.Join(t.TempDir(), "preserved")
	if err := os.WriteFile(preserved, []byte("passed in\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// fds 3 and 4, as a shell gives them with 3</dev/null 4<preserved.
	passFDs := func(cmd *exec.Cmd) {
		devnull, err1 := os.Open(os.DevNull)
		file, err2 := os.Open(preserved)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		cmd.ExtraFiles = []*os.File{devnull, file}
	}
	hostEnv := func(cmd *exec.Cmd) { cmd.Env = append(os.Environ(), "PODPROF_TEST_HOST_ENV=from the host") }

	for _, tc := range []struct {
		name    string
		global  []string // before run
		args    []string // after run; DIR is a directory of each side's own
		prepare func(*exec.Cmd)
		traced  bool // the container ran: podprof must write its profile
	}{
		{"global flag after run", nil, []string{"--runtime", "runc", "--rm", busyboxImage, "echo", "hi"}, nil, true},
		{"--noout run -d", []string{"--noout"}, []string{"-d", "--rm", busyboxImage, "echo", "hi"}, nil, true},
		{"--noout run", []string{"--noout"}, []string{"--rm", busyboxImage, "echo", "hi"}, nil, true},
		{"--preserve-fds", nil, []string{"--rm", "--preserve-fds=2", busyboxImage, "sh", "-c", "cat <&4"}, passFDs, true},
		{"--preserve-fds not passed", nil, []string{"--rm", "--preserve-fds=2", busyboxImage, "true"}, nil, false},
		{"--env-host", nil, []string{"--rm", "--env-host", busyboxImage, "sh", "-c", "echo $PODPROF_TEST_HOST_ENV"}, hostEnv, true},
		{"docker-archive: image", nil, []string{"--rm", "docker-archive:" + archive, "echo", "from the archive"}, nil, true},
		{"--cidfile with --rm", nil, []string{"--rm", "--cidfile", "DIR/cid", busyboxImage, "true"}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			side := func(bin string, extra ...string) (result, string) {
				dir := t.TempDir()
				args := append(append(append([]string{}, tc.global...), "run"), extra...)
				for _, arg := range tc.args {
					args = append(args, strings.ReplaceAll(arg, "DIR", dir))
				}
				r := runCmdWith(t, tc.prepare, bin, args...)
				r.stderr = strings.ReplaceAll(r.stderr, dir, "DIR")
				return r, dir
			}
			want, podmanDir := side("podman")
			profile := filepath.Join(t.TempDir(), "p.json")
			got, podprofDir := side(podprofBin, "--podprof-output="+profile)
			if got != want {
				t.Errorf("podman:  %+v\npodprof: %+v", want, got)
			}
			if left, podmanLeft := listDir(t, podprofDir), listDir(t, podmanDir); !slices.Equal(left, podmanLeft) {
				t.Errorf("podprof left %q, podman %q", left, podmanLeft)
			}
			if !tc.traced {
				if _, err := os.Stat(profile); err == nil {
					t.Errorf("a profile was written though the container did not run")
				}
				return
			}
			if p := waitProfile(t, profile); len(p.Files) == 0 || p.LostEvents != 0 {
				t.Errorf("profile: %d files, %d lost", len(p.Files), p.LostEvents)
			}
		})
	}
}

// TestCidfileExists: podman 4 refuses to overwrite a --cidfile, podman 5
// overwrites it; podprof does as the podman it runs with.
func TestCidfileExists(t *testing.T) {
	requireImage(t, busyboxImage)
	side := func(bin string, extra ...string) result {
		cidfile := filepath.Join(t.TempDir(), "cid")
		if err := os.WriteFile(cidfile, []byte("taken"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := runCmd(t, bin, append(append([]string{"run"}, extra...), "--rm", "--cidfile", cidfile, busyboxImage, "true")...)
		r.stderr = strings.ReplaceAll(r.stderr, cidfile, "CIDFILE")
		return r
	}
	want := side("podman")
	got := side(podprofBin, "--podprof-output="+filepath.Join(t.TempDir(), "p.json"))
	if got != want {
		t.Errorf("podman:  %+v\npodprof: %+v", want, got)
	}
}

// TestImageHealthcheck: a container keeps its image's HEALTHCHECK, as with
// podman (podman 5's client sends an empty override, which a podman 4
// service would take as the whole healthcheck).
func TestImageHealthcheck(t *testing.T) {
	requireImage(t, busyboxImage)
	const image = "localhost/podprof-test/healthcheck:latest"
	dir := t.TempDir()
	containerfile := "FROM " + busyboxImage + "\nHEALTHCHECK --interval=41s --retries=4 CMD true\n"
	if err := os.WriteFile(filepath.Join(dir, "Containerfile"), []byte(containerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runCmd(t, "podman", "build", "--quiet", "--format", "docker", "-t", image, dir); r.code != 0 {
		t.Fatalf("podman build: %s", r.stderr)
	}
	defer runCmd(t, "podman", "rmi", "--force", image)
	healthcheck := func(bin string, extra ...string) string {
		r := runCmd(t, bin, append(append([]string{"run", "-d"}, extra...), image, "sleep", "60")...)
		if r.code != 0 {
			t.Fatalf("%s run -d: %+v", bin, r)
		}
		id := strings.TrimSpace(r.stdout)
		defer runCmd(t, "podman", "rm", "--force", "--time=0", id)
		return runCmd(t, "podman", "inspect", "--format", "{{json .Config.Healthcheck}}", id).stdout
	}
	want := healthcheck("podman")
	if !strings.Contains(want, "41s") && !strings.Contains(want, "41000000000") {
		t.Fatalf("podman itself shows no image healthcheck: %s", want)
	}
	if got := healthcheck(podprofBin, "--podprof-output="+filepath.Join(t.TempDir(), "p.json")); got != want {
		t.Errorf("healthcheck: podman %s, podprof %s", want, got)
	}
}

// TestHiddenGlobalFlagsBeforeRun: podman's global flags that its --help
// hides, before run. Where the installed podman takes one, podprof runs
// the container traced; where it refuses one, podprof refuses it too, in
// one line, never running the container untraced.
func TestHiddenGlobalFlagsBeforeRun(t *testing.T) {
	requireImage(t, busyboxImage)
	dir := t.TempDir()
	backend := strings.TrimSpace(runCmd(t, "podman", "info", "--format", "{{.Host.NetworkBackend}}").stdout)
	for _, flags := range [][]string{
		{"--max-workers", "4"},
		{"--cpu-profile", filepath.Join(dir, "cpu.prof")},
		{"--memory-profile=" + filepath.Join(dir, "mem.prof")},
		{"--default-mounts-file", "/dev/null"},
		{"--registries-conf", "/etc/containers/registries.conf"},
		{"--db-backend", "sqlite"},
		{"--pull-option", "enable_partial_images=false"},
		{"--network-backend", backend},
		{"--trace"},
		{"--debug"},
		{"-D"},
	} {
		want := runCmd(t, "podman", append(flags, "run", "--rm", busyboxImage, "echo", "hi")...)
		out := filepath.Join(dir, "p.json")
		os.Remove(out)
		r := podprof(t, append(flags, "run", "--rm", "--podprof-output="+out, busyboxImage, "echo", "hi")...)
		if want.code == 0 {
			if r.code != 0 || r.stdout != "hi\n" {
				t.Errorf("%q: podman runs it, podprof: exit %d, stdout %q, stderr %s", flags, r.code, r.stdout, r.stderr)
			} else if _, err := os.Stat(out); err != nil {
				t.Errorf("%q: the container ran untraced: %v", flags, err)
			}
			continue
		}
		requireOneLineError(t, r, 125, strings.SplitN(strings.TrimLeft(flags[0], "-"), "=", 2)[0])
	}
	// One that no podman has: refused before anything runs.
	r := podprof(t, "--no-such-global", "3", "run", "--rm", busyboxImage, "echo", "hi")
	requireOneLineError(t, r, 125, "unknown flag: --no-such-global")
	if r.stdout != "" {
		t.Errorf("the container ran: %q", r.stdout)
	}
}
