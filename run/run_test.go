package run

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/podprof/podprof/podmancmd"
	"github.com/podprof/podprof/report"
)

// End-to-end tests: the real podprof binary, the real podman, real images
// (made by contrib/setup.sh), the real tracer in this kernel. They need
// root, podman and BPF; CI has all three.

const (
	demoImage    = "localhost/podprof-demo/debian:bookworm"
	busyboxImage = "localhost/podprof-test/busybox:latest"
)

var podprofBin string

// testIdle is the tests' idle time, unless PODPROF_IDLE_TIME sets another.
const testIdle = 2 * time.Second

func TestMain(m *testing.M) {
	// The kept service and the tracer linger this long after a run: the
	// leak checks wait for them to go.
	if _, ok := os.LookupEnv(podmancmd.IdleEnv); !ok {
		os.Setenv(podmancmd.IdleEnv, testIdle.String())
	}
	// PODPROF_TEST_BIN runs the suite against a podprof built elsewhere
	// (as inside the Podman 5 chroot, which has no Go), with its
	// podprof-podman and podprof-hook beside it.
	if podprofBin = os.Getenv("PODPROF_TEST_BIN"); podprofBin != "" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "podprof-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	podprofBin = filepath.Join(dir, "podprof")
	// podprof execs podprof-podman, beside it, for run and slim; podprof
	// run's hooks dir names podprof-hook, beside it too.
	for output, pkg := range map[string]string{
		podprofBin: "..",
		filepath.Join(dir, podmancmd.APIExecutable):  "./podprof-podman",
		filepath.Join(dir, podmancmd.HookExecutable): "../tracerd/podprof-hook",
	} {
		build := exec.Command("go", "build", "-tags", buildTags, "-o", output, pkg)
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building podprof:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildTags are the Makefile's: podman's bindings without cgo.
const buildTags = "remote exclude_graphdriver_btrfs btrfs_noversion exclude_graphdriver_devicemapper containers_image_openpgp"

func requireImage(t *testing.T, image string) {
	t.Helper()
	if err := exec.Command("podman", "image", "exists", image).Run(); err != nil {
		t.Fatalf("test image %s is missing: run contrib/setup.sh (make setup) first", image)
	}
}

type result struct {
	code           int
	stdout, stderr string
}

func runCmd(t *testing.T, name string, args ...string) result {
	t.Helper()
	return runCmdWith(t, nil, name, args...)
}

// runCmdWith runs the command after prepare, if any, has set what it needs
// (environment, descriptors).
func runCmdWith(t *testing.T, prepare func(*exec.Cmd), name string, args ...string) result {
	t.Helper()
	// Bounded: a hung podman fails its test instead of the whole suite.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if prepare != nil {
		prepare(cmd)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	code := 0
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("running %s: %v", name, err)
	}
	return result{code, stdout.String(), stderr.String()}
}

func podprof(t *testing.T, args ...string) result {
	t.Helper()
	return runCmd(t, podprofBin, args...)
}

func TestRunProfilesDemoImage(t *testing.T) {
	requireImage(t, demoImage)
	out := filepath.Join(t.TempDir(), "profile.json")
	r := podprof(t, "run", "--rm", "--podprof-output="+out, demoImage, "/bin/sh", "-c", "date; cat /etc/os-release")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "Debian GNU/Linux 12") {
		t.Errorf("the container's stdout did not pass through:\n%s", r.stdout)
	}
	if r.stderr != "" {
		t.Errorf("stderr is not a terminal, so the summary must not be printed by default; got:\n%s", r.stderr)
	}
	p, err := report.ReadProfile(out)
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]report.File{}
	for _, f := range p.Files {
		paths[f.Path] = f
		t.Logf("%q exec=%v read=%v write=%v comm=%q", f.Path, f.Exec, f.Read, f.Write, f.Comm)
	}
	for _, want := range []string{
		"/usr/bin/dash", "/usr/bin/date", "/usr/bin/cat", "/usr/lib/os-release",
		"/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "/usr/lib/x86_64-linux-gnu/libc.so.6",
	} {
		if _, ok := paths[want]; !ok {
			t.Errorf("profile misses %s", want)
		}
	}
	if f := paths["/usr/bin/dash"]; !f.Exec {
		t.Errorf("/usr/bin/dash not marked exec")
	}
	for path := range paths {
		for _, bad := range []string{"/var/lib/containers", "overlay", "merged", "/run/runc", "exec.fifo", "/proc/1/"} {
			if strings.Contains(path, bad) {
				t.Errorf("profile holds a runtime or host path: %q", path)
			}
		}
	}
	id := strings.TrimSpace(runCmd(t, "podman", "image", "inspect", "--format", "{{.Id}}", demoImage).stdout)
	if p.Image.ID != id {
		t.Errorf("profile image id %q, podman says %q", p.Image.ID, id)
	}
	if p.Image.Name != demoImage {
		t.Errorf("profile image name %q, want %q", p.Image.Name, demoImage)
	}
	if p.LostEvents != 0 {
		t.Errorf("%d events lost", p.LostEvents)
	}
	if p.Container.ID == "" || p.Tracer == "" || p.Kernel == "" {
		t.Errorf("profile misses container, tracer or kernel: %+v", p)
	}
}

// TestRunSummaryMatchesImage checks the summary's image totals against an
// independent count: the tar of a container's filesystem from podman export.
func TestRunSummaryMatchesImage(t *testing.T) {
	requireImage(t, demoImage)
	out := filepath.Join(t.TempDir(), "profile.json")
	r := podprof(t, "run", "--rm", "--podprof-output="+out, "--podprof-summary=always", "--podprof-format=json", demoImage, "true")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	var s report.Summary
	if err := json.Unmarshal([]byte(r.stderr), &s); err != nil {
		t.Fatalf("the summary is not JSON: %v\n%s", err, r.stderr)
	}
	bytes, files := exportedTotals(t, demoImage)
	if s.ImageBytes != bytes || s.ImageFiles != files {
		t.Errorf("summary says %d bytes in %d files; podman export counts %d bytes in %d files", s.ImageBytes, s.ImageFiles, bytes, files)
	}
	if s.UsedFiles == 0 || s.UsedBytes == 0 || s.UsedBytes > s.ImageBytes {
		t.Errorf("implausible use: %+v", s)
	}
	if s.Profile != out {
		t.Errorf("summary names profile %q, want %q", s.Profile, out)
	}
}

func TestRunExitCodes(t *testing.T) {
	requireImage(t, busyboxImage)
	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		podprof bool // podprof's own error: one line, and podman has no say
	}{
		{"container's own code", []string{busyboxImage, "sh", "-c", "exit 3"}, 3, false},
		{"command not found", []string{busyboxImage, "/no/such/command"}, 127, false},
		{"command not executable", []string{busyboxImage, "/etc/passwd"}, 126, false},
		{"unknown image", []string{"localhost/podprof-no-such-image:latest", "true"}, 125, false},
		{"bad podman flag", []string{"--no-such-flag", busyboxImage, "true"}, 125, false},
		{"bad podprof option", []string{"--podprof-summary=sometimes", busyboxImage, "true"}, 125, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "p.json")
			args := append([]string{"run", "--rm", "--podprof-output=" + out}, tc.args...)
			r := podprof(t, args...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", r.code, tc.code, r.stderr)
			}
			if tc.podprof {
				if strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.HasPrefix(r.stderr, "Error: ") {
					t.Errorf("want a one-line error, got:\n%s", r.stderr)
				}
				return
			}
			want := runCmd(t, "podman", append([]string{"run", "--rm"}, tc.args...)...)
			if want.code != r.code {
				t.Errorf("podman exits %d, podprof %d", want.code, r.code)
			}
			// podman's errors byte for byte; of a failed pull, the last
			// line: the service logs the retries it makes.
			if r.code == 125 && lastLine(r.stderr) != lastLine(want.stderr) {
				t.Errorf("podprof's error %q differs from podman's %q", lastLine(r.stderr), lastLine(want.stderr))
			}
			if (r.code == 126 || r.code == 127) && r.stderr != want.stderr {
				t.Errorf("podprof's error %q differs from podman's %q", r.stderr, want.stderr)
			}
		})
	}
}

func TestPassThrough(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"images", "--format", "{{.Repository}}"}, {"ps", "-a", "--format", "{{.ID}}"}} {
		got := podprof(t, args...)
		want := runCmd(t, "podman", args...)
		if got != want {
			t.Errorf("podprof %v = %+v, podman = %+v", args, got, want)
		}
	}
}

// exportedTotals counts the final filesystem of image the independent way:
// podman export of a created container is exactly that filesystem as a tar.
func exportedTotals(t *testing.T, image string) (bytes, files int64) {
	t.Helper()
	id := strings.TrimSpace(runCmd(t, "podman", "create", image, "true").stdout)
	defer runCmd(t, "podman", "rm", id)
	tarPath := filepath.Join(t.TempDir(), "fs.tar")
	if r := runCmd(t, "podman", "export", "-o", tarPath, id); r.code != 0 {
		t.Fatalf("podman export: %s", r.stderr)
	}
	f, err := os.Open(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// docs/accounting.md: bytes are regular files' sizes, each hardlinked
	// file once; files are the non-directory entries, a hardlink group once.
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return bytes, files
		}
		if err != nil {
			t.Fatal(err)
		}
		switch hdr.Typeflag {
		case tar.TypeDir, tar.TypeLink:
		case tar.TypeReg:
			bytes += hdr.Size
			files++
		default:
			files++
		}
	}
}
