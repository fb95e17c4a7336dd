package bpf

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/podprof/podprof/internal/e2e"
)

// makeLongPath creates a file whose absolute path is exactly n bytes, below
// base in directories named with c, and returns the path, an ancestor dir
// and the path from that ancestor: each shorter than the kernel's 4,096
// bytes, so that a shell can cd to one and open the other.
func makeLongPath(t *testing.T, base string, n int, c byte) (full, dir, rel string) {
	t.Helper()
	fd, err := unix.Open(base, unix.O_DIRECTORY|unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	full = base
	for left := n - len(base) - len("/f"); left > 0; {
		size := min(200, left-1)
		if left-1-size == 1 {
			size-- // no room for a name after this one
		}
		name := strings.Repeat(string(c), size)
		if err := unix.Mkdirat(fd, name, 0o755); err != nil {
			t.Fatal(err)
		}
		next, err := unix.Openat(fd, name, unix.O_DIRECTORY|unix.O_RDONLY, 0)
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		fd, full, left = next, full+"/"+name, left-1-size
		if len(full) < 3900 {
			dir = full
		}
	}
	f, err := unix.Openat(fd, "f", unix.O_CREAT|unix.O_WRONLY, 0o644)
	unix.Close(fd)
	if err != nil {
		t.Fatal(err)
	}
	unix.Write(f, []byte("x\n"))
	unix.Close(f)
	full += "/f"
	if len(full) != n {
		t.Fatalf("made a path of %d bytes, want %d", len(full), n)
	}
	return full, dir, strings.TrimPrefix(full, dir+"/")
}

// TestTracerLongPaths: a path up to the kernel's limit, 4,095 bytes, is
// recorded exactly; a longer one (opened relative to a deep directory) as
// its last whole components that fit, flagged Truncated.
func TestTracerLongPaths(t *testing.T) {
	e2e.Require(t, false, "it loads BPF programs")
	tr := newTestTracer(t)
	dir := t.TempDir()
	base := filepath.Join(dir, "long")
	if err := os.Mkdir(base, 0o755); err != nil {
		t.Fatal(err)
	}
	fulls := map[int]string{}
	var script strings.Builder
	for i, n := range []int{4094, 4095, 4096, 4097, 5000, 7000} {
		full, from, rel := makeLongPath(t, base, n, byte('a'+i))
		fulls[n] = full
		fmt.Fprintf(&script, "cd %s && read x < %s\n", from, rel)
	}
	c, cmd := startFakeContainer(t, tr, dir, script.String())
	files := byPath(waitResult(t, c, cmd))
	for n, full := range fulls {
		if n <= 4095 {
			if f, ok := files[full]; !ok || f.Flags&Truncated != 0 {
				t.Errorf("a path of %d bytes: recorded %v, flags %04b; want it exactly, not truncated", n, ok, f.Flags)
			}
			continue
		}
		var tails []File
		for _, f := range files {
			if strings.HasSuffix(full, f.Path) && f.Path != "/f" {
				tails = append(tails, f)
			}
		}
		if len(tails) != 1 {
			t.Errorf("a path of %d bytes: %d recorded paths end it, want 1", n, len(tails))
			continue
		}
		f := tails[0]
		cut := full[:len(full)-len(f.Path)]
		if f.Flags&Truncated == 0 || len(f.Path) > 4095 || f.Path[0] != '/' {
			t.Errorf("a path of %d bytes: recorded as %d bytes, flags %04b; want its last whole components, at most 4,095 bytes, flagged truncated", n, len(f.Path), f.Flags)
		}
		// Whole components: one more would not have fit.
		parent := cut[strings.LastIndex(cut, "/"):]
		if len(parent)+len(f.Path) <= 4095 {
			t.Errorf("a path of %d bytes: recorded as %d bytes, but its component %q more would fit", n, len(f.Path), parent[:min(len(parent), 10)])
		}
	}
	for p := range files {
		if len(p) > 4095 {
			t.Errorf("a path of %d bytes was recorded", len(p))
		}
	}
}

// TestNewWithoutBTF: on a kernel without BTF, played by an empty
// /sys/kernel/btf in a mount namespace of the test's own, New says so once
// and how to fix it, and every mode fails alike.
func TestNewWithoutBTF(t *testing.T) {
	e2e.Require(t, false, "it loads BPF programs")
	if os.Getenv("PODPROF_TEST_NO_BTF") == "" {
		if _, err := exec.LookPath("unshare"); err != nil {
			t.Skip("unshare is not installed")
		}
		cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c",
			`mount -t tmpfs podprof-test /sys/kernel/btf && exec "$@"`, "sh", os.Args[0], "-test.run=^TestNewWithoutBTF$", "-test.v")
		cmd.Env = append(os.Environ(), "PODPROF_TEST_NO_BTF=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v:\n%s", err, out)
		}
		t.Logf("%s", out)
		return
	}
	_, err := New("")
	if err == nil {
		t.Fatal("the tracer loaded without BTF")
	}
	msg := err.Error()
	if strings.Count(msg, "the kernel has no BTF") != 1 || !strings.Contains(msg, "CONFIG_DEBUG_INFO_BTF=y") || strings.Contains(msg, "\n") {
		t.Errorf("want one line saying once that BTF is missing and how to get it; got %q", msg)
	}
	for _, m := range Modes {
		if _, err := New(m); err == nil || !strings.Contains(err.Error(), "the kernel has no BTF") {
			t.Errorf("mode %s without BTF: %v", m, err)
		}
	}
	t.Logf("without BTF: %v", err)
}

func TestJoinReasons(t *testing.T) {
	e2e.Require(t, false, "it loads BPF programs")
	noBTF := errors.New("no BTF")
	if got := joinReasons(Modes, []error{noBTF, noBTF, noBTF}); got != "no BTF" {
		t.Errorf("the same reason for every mode: %q, want it once", got)
	}
	got := joinReasons(Modes, []error{errors.New("a"), errors.New("b"), errors.New("a")})
	if want := "lsm: a; fentry: b; tracepoint: a"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
