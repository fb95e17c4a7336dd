package bpf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/podprof/podprof/internal/e2e"
)

// What tracing costs an open(): each benchmark runs b.N open()+close()
// pairs of one file in a child process that times itself, so process
// start-up is not counted, after untimed pairs (the first open is the one
// a tracer records). The metrics are wall ns per pair (ns/pair) and the
// loop thread's CPU ns per pair (cpu-ns/pair), which the wait for a CPU on
// a busy machine does not inflate. Run with a fixed count, e.g.
// -test.bench=. -test.benchtime=200000x.
//
//	container/untraced  in a fake container nobody traces: the baseline
//	container/traced    in a traced one: every open after the first is a
//	                    dedup hit in the kernel
//	host/no-tracer      on the host, before the tracer is loaded
//	host/tracer-loaded  on the host while the tracer is loaded and watches
//	                    a container: the tax every process on the host pays
//	container/traced+syscalls, host/syscalls-recorded
//	                    the same two while a container records its system
//	                    calls (RecordSyscalls, --podprof-seccomp): the
//	                    sys_enter program then runs for each call on the
//	                    host; a pair is two calls
//
// The loops without "syscalls" check that the sys_enter program is not
// attached, so that what it costs there is 0 by construction.

// loopEnv makes the test binary the open()+close() loop: its value is the
// number of pairs, loopFileEnv the file.
const (
	loopEnv     = "PODPROF_TEST_LOOP"
	loopFileEnv = "PODPROF_TEST_LOOP_FILE"
)

// untimedPairs come before the timed ones: in a traced container the first
// open is recorded, the rest are dedup hits.
const untimedPairs = 1000

// openCloseLoop is the child: it prints the wall and the CPU ns per pair of
// count pairs. As bench/loop does, it makes the system calls with
// RawSyscall6, without the scheduler's bookkeeping (which, on a slow CPU
// such as qemu's TCG, can hand the thread's P to another thread in the
// middle of the loop), on one locked thread, whose CPU time it reads.
func openCloseLoop(count string) int {
	n, err := strconv.Atoi(count)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loop count:", err)
		return 1
	}
	path, err := unix.BytePtrFromString(os.Getenv(loopFileEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, "loop file:", err)
		return 1
	}
	cwd := unix.AT_FDCWD // a variable: the constant is negative
	loop := func(pairs int) error {
		for range pairs {
			fd, _, errno := unix.RawSyscall6(unix.SYS_OPENAT, uintptr(cwd), uintptr(unsafe.Pointer(path)), unix.O_RDONLY|unix.O_CLOEXEC, 0, 0, 0)
			if errno != 0 {
				return errno
			}
			unix.RawSyscall6(unix.SYS_CLOSE, fd, 0, 0, 0, 0, 0)
		}
		return nil
	}
	runtime.LockOSThread()
	if err := loop(untimedPairs); err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 1
	}
	cpu0, start := threadCPU(), time.Now()
	if err := loop(n); err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 1
	}
	wall, cpu := time.Since(start), threadCPU()-cpu0
	per := float64(max(n, 1))
	fmt.Printf("%.1f %.1f\n", float64(wall.Nanoseconds())/per, float64(cpu)/per)
	return 0
}

func threadCPU() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		panic(err)
	}
	return ts.Nano()
}

func BenchmarkOpenClose(b *testing.B) {
	e2e.Require(b, false, "it loads BPF programs")
	dir := b.TempDir()
	file := filepath.Join(dir, "opened")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	// the name the kernel reports: a /tmp that is a link is resolved
	recorded, err := filepath.EvalSymlinks(file)
	if err != nil {
		b.Fatal(err)
	}
	loop := func(b *testing.B) []string {
		return []string{loopEnv + "=" + strconv.Itoa(b.N), loopFileEnv + "=" + file}
	}
	inContainer := func(b *testing.B, tr *Tracer, opts ...WatchOption) {
		// The loop is exec'd inside the container, so it is the
		// container's own program, not the runtime.
		c, cmd, out := startFake(b, tr, b.TempDir(), []string{os.Args[0]}, loop(b), opts...)
		if tr != nil {
			requireSyscallProgram(b, tr, len(opts) > 0)
		}
		reportLoop(b, cmd, out)
		if c != nil {
			// What was measured is what the name says: the loop's
			// opens were traced, and all but the first were dedup
			// hits (one event), with nothing lost.
			res, err := c.Wait(context.Background())
			f, ok := byPath(res)[recorded]
			if err != nil || res.Lost != 0 || !ok || f.Events != 1 {
				b.Errorf("traced loop: %s recorded %t with %d events, %d files, %d lost, %v", recorded, ok, f.Events, len(res.Files), res.Lost, err)
			}
			// and, recording, the loop's calls were recorded
			if len(opts) > 0 && !slices.Contains(res.Syscalls, Syscall{X86_64, unix.SYS_OPENAT}) {
				b.Errorf("traced loop recording system calls: openat is not among the %d recorded", len(res.Syscalls))
			}
		}
	}
	onHost := func(b *testing.B) {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), loop(b)...)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		reportLoop(b, cmd, out)
	}

	b.Run("host/no-tracer", onHost)
	b.Run("container/untraced", func(b *testing.B) { inContainer(b, nil) })
	tr, err := New(benchMode(b))
	if err != nil {
		b.Fatalf("loading the tracer: %v", err)
	}
	defer tr.Close()
	b.Logf("tracer mode: %s", tr.Mode())
	b.Run("container/traced", func(b *testing.B) { inContainer(b, tr) })
	// A container stays watched meanwhile, so the map the host's opens
	// look up is not empty. (Not "read x": startFake closes its stdin.)
	idleContainer := []string{"/bin/sh", "-c", "exec sleep 3600"}
	_, idle, _ := startFake(b, tr, b.TempDir(), idleContainer, nil)
	b.Run("host/tracer-loaded", func(b *testing.B) {
		requireSyscallProgram(b, tr, false)
		onHost(b)
	})
	idle.Process.Kill()
	idle.Wait()

	b.Run("container/traced+syscalls", func(b *testing.B) { inContainer(b, tr, RecordSyscalls) })
	// The idle container records system calls: the sys_enter program
	// runs for each of the host's, and finds no set for them.
	_, recording, _ := startFake(b, tr, b.TempDir(), idleContainer, nil, RecordSyscalls)
	b.Run("host/syscalls-recorded", func(b *testing.B) {
		requireSyscallProgram(b, tr, true)
		onHost(b)
	})
	recording.Process.Kill()
	recording.Wait()
}

// requireSyscallProgram fails the benchmark unless the kernel has tr's
// sys_enter program attached exactly when a container records system
// calls: the kernel's links are asked, not the tracer's bookkeeping.
func requireSyscallProgram(b *testing.B, tr *Tracer, want bool) {
	b.Helper()
	attached, err := syscallProgramAttached(tr)
	if err != nil {
		b.Fatal(err)
	}
	if attached != want {
		b.Fatalf("the sys_enter program is attached: %t, want %t", attached, want)
	}
}

func syscallProgramAttached(tr *Tracer) (bool, error) {
	tr.syscalls.mu.Lock()
	coll := tr.syscalls.coll
	tr.syscalls.mu.Unlock()
	if coll == nil {
		return false, nil // never loaded
	}
	info, err := coll.Programs[podprofProgSysEnterRecord].Info()
	if err != nil {
		return false, fmt.Errorf("the sys_enter program: %w", err)
	}
	id, ok := info.ID()
	if !ok {
		return false, errors.New("the kernel does not tell BPF programs' ids")
	}
	var links link.Iterator
	defer links.Close()
	for links.Next() {
		l, err := links.Link.Info()
		if err != nil {
			return false, fmt.Errorf("link %d: %w", links.ID, err)
		}
		if l.Program == id {
			return true, nil
		}
	}
	if err := links.Err(); err != nil {
		return false, fmt.Errorf("listing the kernel's BPF links: %w", err)
	}
	return false, nil
}

func benchMode(b *testing.B) Mode {
	m, err := ParseMode(os.Getenv("PODPROF_TEST_TRACER"))
	if err != nil {
		b.Fatal(err)
	}
	return m
}

func reportLoop(b *testing.B, cmd *exec.Cmd, out io.Reader) {
	b.Helper()
	text, _ := io.ReadAll(out)
	if err := cmd.Wait(); err != nil {
		b.Fatalf("open loop: %v", err)
	}
	var wall, cpu float64
	if _, err := fmt.Sscanf(string(text), "%g %g", &wall, &cpu); err != nil {
		b.Fatalf("open loop printed %q: %v", text, err)
	}
	b.ReportMetric(wall, "ns/pair")
	b.ReportMetric(cpu, "cpu-ns/pair")
}
