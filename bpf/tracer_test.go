package bpf

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/podprof/podprof/internal/e2e"
)

// These tests load the real programs into the running kernel. They need
// root and a kernel with BTF; PODPROF_TEST_TRACER forces a mode (the qemu
// matrix in contrib/kernels sets it), otherwise the best mode is used.

const childEnv = "PODPROF_TEST_CHILD"

func init() {
	// The fake container unshares its mount namespace on the thread that
	// later execs; it must be the main thread, whose namespace is the
	// process's in /proc/PID/ns/mnt. Only init runs there for sure.
	if os.Getenv(childEnv) != "" {
		runtime.LockOSThread()
	}
}

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(fakeContainer())
	}
	if n := os.Getenv(loopEnv); n != "" {
		os.Exit(openCloseLoop(n))
	}
	if calls := os.Getenv(syscallsEnv); calls != "" {
		os.Exit(makeSyscalls(calls))
	}
	os.Exit(m.Run())
}

// fakeContainer plays a container runtime: it moves into a new mount
// namespace on a host executable (as runc init does), mounts an overlay,
// opens a file as "runtime set-up" (which must not be recorded), then execs
// the workload script given in argv.
func fakeContainer() int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "fake container: "+format+"\n", a...)
		return 1
	}
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fail("unshare: %v", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fail("making / private: %v", err)
	}
	dir := os.Getenv("DIR")
	opts := fmt.Sprintf("lowerdir=%s/lower,upperdir=%s/upper,workdir=%s/work", dir, dir, dir)
	if err := unix.Mount("overlay", dir+"/merged", "overlay", 0, opts); err != nil {
		return fail("mounting overlay: %v", err)
	}
	// Tell the test we are ready to be traced, and wait until we are.
	os.Stdout.Write([]byte("R"))
	var b [1]byte
	os.Stdin.Read(b[:])

	if f, err := os.Open(dir + "/runtime-setup"); err == nil {
		f.Close()
	}
	argv := os.Args[1:]
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, childEnv+"=") {
			env = append(env, kv) // the workload is not the fake runtime
		}
	}
	if err := unix.Exec(argv[0], argv, env); err != nil {
		return fail("exec %s: %v", argv[0], err)
	}
	return 0
}

func testMode(t *testing.T) Mode {
	m, err := ParseMode(os.Getenv("PODPROF_TEST_TRACER"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newTestTracer(t *testing.T) *Tracer {
	t.Helper()
	tr, err := New(testMode(t))
	if err != nil {
		t.Fatalf("loading the tracer (needs root and BTF; CI runs as root): %v", err)
	}
	t.Cleanup(func() { tr.Close() })
	t.Logf("tracer mode: %s", tr.Mode())
	return tr
}

// startFakeContainer starts the workload script in its own mount namespace
// and returns once it is traced, before it execs.
func startFakeContainer(t *testing.T, tr *Tracer, dir, script string) (*Container, *exec.Cmd) {
	t.Helper()
	c, cmd, _ := startFake(t, tr, dir, []string{"/bin/sh", "-c", script}, nil)
	return c, cmd
}

// startFake starts argv in a fake container of its own, watched by tr
// unless tr is nil, and returns once argv is about to be exec'd. The rest
// of argv's stdout is left in stdout.
func startFake(t testing.TB, tr *Tracer, dir string, argv, env []string, opts ...WatchOption) (*Container, *exec.Cmd, io.Reader) {
	t.Helper()
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(os.Args[0], argv...)
	cmd.Env = append(append(os.Environ(), childEnv+"=1", "DIR="+dir), env...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	if _, err := stdout.Read(b[:]); err != nil {
		t.Fatalf("fake container did not start: %v", err)
	}
	var c *Container
	if tr != nil {
		if c, err = tr.Watch(cmd.Process.Pid, opts...); err != nil {
			t.Fatalf("watching the fake container: %v", err)
		}
	}
	stdin.Write([]byte("G"))
	stdin.Close()
	return c, cmd, stdout
}

func waitResult(t *testing.T, c *Container, cmd *exec.Cmd) Result {
	t.Helper()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("workload failed: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := c.Wait(ctx)
	if err != nil {
		t.Fatalf("collecting the result: %v", err)
	}
	return res
}

func byPath(res Result) map[string]File {
	m := make(map[string]File, len(res.Files))
	for _, f := range res.Files {
		m[f.Path] = f
	}
	return m
}

// resolved returns path with every symlink resolved: the kernel reports
// the file that was opened, not the name used to reach it.
func resolved(t *testing.T, path string) string {
	t.Helper()
	p, err := filepath.EvalSymlinks(path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTracerRecordsWorkload(t *testing.T) {
	e2e.Require(t, false, "it loads BPF programs")
	tr := newTestTracer(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("runtime-setup", "x\n")
	readFile := write("read-me", "x\n")
	childFile := write("child-reads-me", "x\n")
	hostFile := write("host-only", "x\n")
	if err := os.MkdirAll(filepath.Join(dir, "lower"), 0o755); err != nil {
		t.Fatal(err)
	}
	write("lower/layered", "x\n")
	written := filepath.Join(dir, "written")

	// 200 opens of one file through shell redirections, a child process,
	// five opens through the overlay, and a write.
	script := fmt.Sprintf(`i=0; while [ $i -lt 200 ]; do read x < %[1]s; i=$((i+1)); done
/bin/sh -c 'read x < %[2]s'
for i in 1 2 3 4 5; do read x < %[3]s/merged/layered; done
echo hi > %[4]s`, readFile, childFile, dir, written)
	c, cmd := startFakeContainer(t, tr, dir, script)
	// The host opens a file while the container runs: not the container's.
	if f, err := os.Open(hostFile); err == nil {
		f.Close()
	}
	res := waitResult(t, c, cmd)
	files := byPath(res)
	for _, f := range res.Files {
		t.Logf("%-60q %04b pid=%d comm=%q events=%d", f.Path, f.Flags, f.PID, f.Comm, f.Events)
	}

	if res.Lost != 0 {
		t.Errorf("lost %d events", res.Lost)
	}
	sh := resolved(t, "/bin/sh")
	if f, ok := files[sh]; !ok || f.Flags&Exec == 0 {
		t.Errorf("the exec'd shell %s is missing or not marked exec: %+v", sh, f)
	}
	if interp := elfInterpreter(t, sh); interp != "" {
		if f, ok := files[resolved(t, interp)]; !ok || f.Flags&Exec == 0 {
			t.Errorf("the ELF interpreter %s is missing or not marked exec: %+v", resolved(t, interp), f)
		}
		if !hasLibc(files) {
			t.Errorf("libc is missing from a dynamically linked shell's opens")
		}
	}
	if f, ok := files[readFile]; !ok || f.Flags&Read == 0 {
		t.Errorf("%s is missing or not marked read: %+v", readFile, f)
	} else if f.Events != 1 {
		t.Errorf("%s was opened 200 times and reached user space %d times; the kernel should dedup to 1", readFile, f.Events)
	}
	if _, ok := files[childFile]; !ok {
		t.Errorf("the child process's open of %s is missing", childFile)
	}
	layered := filepath.Join(dir, "merged", "layered")
	if f, ok := files[layered]; !ok {
		t.Errorf("the overlay file %s is missing", layered)
	} else if f.Events != 1 {
		t.Errorf("the overlay file reached user space %d times, want 1", f.Events)
	}
	for p := range files {
		if strings.HasPrefix(p, filepath.Join(dir, "lower")) || strings.HasPrefix(p, filepath.Join(dir, "upper")) {
			t.Errorf("an overlay backing file was recorded: %s", p)
		}
	}
	if f, ok := files[written]; !ok || f.Flags&Write == 0 {
		t.Errorf("%s is missing or not marked write: %+v", written, f)
	}
	if _, ok := files[hostFile]; ok {
		t.Errorf("the host's open of %s was recorded", hostFile)
	}
	if _, ok := files[filepath.Join(dir, "runtime-setup")]; ok {
		t.Errorf("an open by the runtime before exec was recorded")
	}
	if _, ok := files[resolved(t, os.Args[0])]; ok {
		t.Errorf("the runtime's own executable was recorded")
	}
}

// TestTracerSeparatesContainers runs two containers at once: each result
// holds its own file only.
func TestTracerSeparatesContainers(t *testing.T) {
	e2e.Require(t, false, "it loads BPF programs")
	tr := newTestTracer(t)
	type run struct {
		file string
		c    *Container
		cmd  *exec.Cmd
	}
	var runs []run
	for i := range 2 {
		dir := t.TempDir()
		file := filepath.Join(dir, fmt.Sprintf("only-%d", i))
		if err := os.WriteFile(file, []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		c, cmd := startFakeContainer(t, tr, dir, fmt.Sprintf("read x < %s", file))
		runs = append(runs, run{file, c, cmd})
	}
	for i, r := range runs {
		files := byPath(waitResult(t, r.c, r.cmd))
		if _, ok := files[r.file]; !ok {
			t.Errorf("container %d: its file %s is missing", i, r.file)
		}
		other := runs[1-i].file
		if _, ok := files[other]; ok {
			t.Errorf("container %d: recorded the other container's file %s", i, other)
		}
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if n := len(tr.containers); n != 0 {
		t.Errorf("%d containers still registered after both ended", n)
	}
	var key uint32
	if err := tr.coll.Maps[podprofMapContainers].NextKey(nil, &key); err == nil {
		t.Errorf("the kernel's containers map still holds namespace %d", key)
	}
}

func elfInterpreter(t *testing.T, path string) string {
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err != nil {
				t.Fatal(err)
			}
			return strings.TrimRight(string(b), "\x00")
		}
	}
	return ""
}

func hasLibc(files map[string]File) bool {
	for p := range files {
		if strings.Contains(filepath.Base(p), "libc.so") {
			return true
		}
	}
	return false
}

// TestTracerNamespaceReuse: the kernel hands a freed mount namespace's
// inode number to the next one. A container whose init has exited, but
// whose result nobody collected yet, must neither block the next
// container nor receive its files.
func TestTracerNamespaceReuse(t *testing.T) {
	e2e.Require(t, false, "it loads BPF programs")
	tr := newTestTracer(t)
	var containers []*Container
	var results []Result
	var files []string
	reused := false
	var firstInum uint32
	for i := range 5 {
		dir := t.TempDir()
		file := filepath.Join(dir, "mine")
		if err := os.WriteFile(file, []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		c, cmd := startFakeContainer(t, tr, dir, fmt.Sprintf("read x < %s", file))
		if err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			firstInum = c.inum
		} else if c.inum == firstInum {
			reused = true
		}
		containers = append(containers, c)
		files = append(files, file)
	}
	// Collected only now: each container's init exited before the next
	// one was watched, in a namespace that may carry the same number.
	for _, c := range containers {
		res, err := c.Wait(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, res)
	}
	for i, res := range results {
		got := byPath(res)
		for j, f := range files {
			if _, ok := got[f]; ok != (i == j) {
				t.Errorf("container %d: %s recorded=%v", i, f, ok)
			}
		}
	}
	t.Logf("namespace number reused: %v", reused)
}

// A watch stopped before its process exits leaves nothing behind: no
// goroutine blocked on the process, no descriptor.
func TestStopLeavesNoWaiter(t *testing.T) {
	tr := newTestTracer(t)
	fds := func() int {
		entries, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(entries)
	}
	goroutines, descriptors := runtime.NumGoroutine(), fds()
	c, cmd := startFakeContainer(t, tr, t.TempDir(), "exec sleep 60")
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	c.Stop(errors.New("stopped by the test"))
	if _, err := c.Wait(context.Background()); err == nil || err.Error() != "stopped by the test" {
		t.Fatalf("Wait after Stop: %v, want the Stop's error", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > goroutines {
		t.Errorf("%d goroutines after the watch was stopped, %d before: its waiter is still blocked", n, goroutines)
	}
	// The fake container's pipes are the test's, not the watch's.
	cmd.Process.Kill()
	cmd.Wait()
	if n := fds(); n > descriptors {
		t.Errorf("%d descriptors open after the watch was stopped, %d before", n, descriptors)
	}
}

// TestCloseEndsWatches: closing the tracer while it watches a container
// ends the watch with an error, rather than deadlocking on its own lock.
func TestCloseEndsWatches(t *testing.T) {
	tr, err := New(testMode(t))
	if err != nil {
		t.Fatalf("loading the tracer (needs root and BTF; CI runs as root): %v", err)
	}
	c, cmd := startFakeContainer(t, tr, t.TempDir(), "exec sleep 60")
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	closed := make(chan error, 1)
	go func() { closed <- tr.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close with a container watched did not return within 10s")
	}
	if _, err := c.Wait(context.Background()); err == nil || !strings.Contains(err.Error(), "tracer closed") {
		t.Errorf("Wait after Close: %v, want the tracer closed", err)
	}
}

// TestWatchTakesFilledSlot: Watch gives the container the slot of dedups
// filled ahead, so a container's start waits neither for the kernel to
// make a map nor for a grace period; the next slot is filled in the
// background; a container's end empties its slot, and Close the spare.
func TestWatchTakesFilledSlot(t *testing.T) {
	tr, err := New(testMode(t))
	if err != nil {
		t.Fatalf("loading the tracer (needs root and BTF; CI runs as root): %v", err)
	}
	closeTracer := sync.OnceValue(tr.Close)
	defer closeTracer()
	spare := func() dedupSlot {
		t.Helper()
		select {
		case slot := <-tr.dedups.spare:
			tr.dedups.spare <- slot
			return slot
		case <-time.After(5 * time.Second):
			t.Fatal("no slot filled ahead within 5s")
			return dedupSlot{}
		}
	}
	// inSlot is the id of the map in the kernel's slot index, 0 if none.
	inSlot := func(index uint32) ebpf.MapID {
		var id ebpf.MapID
		if err := tr.coll.Maps[podprofMapDedups].Lookup(index, &id); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			t.Fatalf("looking up slot %d: %v", index, err)
		}
		return id
	}
	first := spare()
	firstID := mapID(t, first.m)
	if got := inSlot(first.index); got != firstID {
		t.Fatalf("slot %d filled ahead holds map %d in the kernel, not %d", first.index, got, firstID)
	}
	c, cmd := startFakeContainer(t, tr, t.TempDir(), "exec sleep 60")
	if *c.dedup != first {
		t.Errorf("the watched container has slot %d, not the one filled ahead, %d", c.dedup.index, first.index)
	}
	var slot uint32
	if err := tr.coll.Maps[podprofMapContainers].Lookup(c.inum, &slot); err != nil || slot != first.index {
		t.Errorf("the kernel's containers map has slot %d (%v) for the container, want %d", slot, err, first.index)
	}
	next := spare()
	if next.index == first.index {
		t.Errorf("the slot filled after a Watch is the one the container took (%d)", next.index)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if _, err := c.Wait(context.Background()); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for inSlot(first.index) != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if inSlot(first.index) != 0 {
		t.Errorf("slot %d still holds the ended container's map after 5s", first.index)
	}
	nextID := mapID(t, next.m)
	closeTracer()
	for _, id := range []ebpf.MapID{firstID, nextID} {
		if m, err := ebpf.NewMapFromID(id); err == nil {
			m.Close()
			t.Errorf("dedup map %d is still in the kernel after the container's end and Close", id)
		}
	}
}

func mapID(t *testing.T, m *ebpf.Map) ebpf.MapID {
	t.Helper()
	info, err := m.Info()
	if err != nil {
		t.Fatalf("the info of a dedup map: %v", err)
	}
	id, ok := info.ID()
	if !ok {
		t.Fatal("this kernel gives no map ids")
	}
	return id
}
