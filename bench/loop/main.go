// Command loop is the workload of podprof's benchmarks (see ../main.go). It
// is built static and bind-mounted into containers, and also run on the
// host. It times itself, so that container start never counts.
//
//	loop pairs -n N -path P [-ctl C]
//	    open(P, O_RDONLY)+close N times, after 1,000 untimed pairs (the first
//	    open is the one a tracer reports; the rest hit its dedup)
//	loop burst -n N -dir D [-ctl C] [-open-only]
//	    create N empty files under D (O_WRONLY|O_CREAT|O_EXCL, close), then
//	    open each once O_RDONLY (close); with -open-only the files exist
//	    already and only the opens are made
//
// Both print one JSON line on stdout: wall times (elapsed) and the CPU time
// of the timing thread, which a busy machine does not inflate. With -ctl
// they hand-shake with the bench through files in C, so that it can look at
// the tracer at set points: they write C/ready and wait for C/go before the
// timed part, then write C/done and wait for C/release before they exit.
//
// System calls go through syscall.RawSyscall6: no scheduler bookkeeping, so
// a pair costs what the kernel (and a tracer in it) costs, plus a few ns.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const filesPerDir = 1000

func main() {
	if len(os.Args) < 2 {
		fail(fmt.Errorf("usage: loop pairs|burst ..."))
	}
	var err error
	switch os.Args[1] {
	case "pairs":
		err = pairs(os.Args[2:])
	case "burst":
		err = burst(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "loop:", err)
	os.Exit(1)
}

func cstring(s string) *byte {
	b, err := syscall.BytePtrFromString(s)
	if err != nil {
		fail(err)
	}
	return b
}

func openat(path *byte, flags int) (uintptr, syscall.Errno) {
	fd, _, errno := syscall.RawSyscall6(syscall.SYS_OPENAT, atFDCWD, uintptr(unsafe.Pointer(path)), uintptr(flags|syscall.O_CLOEXEC), 0o644, 0, 0)
	return fd, errno
}

func closefd(fd uintptr) {
	syscall.RawSyscall6(syscall.SYS_CLOSE, fd, 0, 0, 0, 0, 0)
}

var atFDCWD = func() uintptr { fd := -100; return uintptr(fd) }() // AT_FDCWD

func pairs(args []string) error {
	fs := flag.NewFlagSet("pairs", flag.ContinueOnError)
	n := fs.Int("n", 1000000, "open+close pairs")
	path := fs.String("path", "/etc/passwd", "file to open")
	ctl := fs.String("ctl", "", "hand-shake directory shared with the bench")
	if err := fs.Parse(args); err != nil {
		return err
	}
	p := cstring(*path)
	loop := func(count int) error {
		for i := 0; i < count; i++ {
			fd, errno := openat(p, syscall.O_RDONLY)
			if errno != 0 {
				return fmt.Errorf("open %s: %v", *path, errno)
			}
			closefd(fd)
		}
		return nil
	}
	if err := loop(1000); err != nil {
		return err
	}
	if err := handshake(*ctl, "ready", "go"); err != nil {
		return err
	}
	t := startTimer()
	if err := loop(*n); err != nil {
		return err
	}
	elapsed, cpu := t.stop()
	if err := handshake(*ctl, "done", "release"); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"pairs":           *n,
		"elapsed_ns":      elapsed,
		"cpu_ns":          cpu,
		"ns_per_pair":     float64(elapsed) / float64(*n),
		"cpu_ns_per_pair": float64(cpu) / float64(*n),
	})
}

// timer measures wall time and the CPU time of the calling thread, which
// it locks: the loops run on one thread, and what a busy machine makes them
// wait is not CPU time. A tracer's work in the system calls is.
type timer struct {
	wall time.Time
	cpu  int64
}

func startTimer() timer {
	runtime.LockOSThread()
	return timer{wall: time.Now(), cpu: threadCPU()}
}

func (t timer) stop() (wall, cpu int64) {
	return time.Since(t.wall).Nanoseconds(), threadCPU() - t.cpu
}

func threadCPU() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		fail(err)
	}
	return ts.Nano()
}

func burstPath(dir string, i int) string {
	return fmt.Sprintf("%s/d%03d/f%06d", dir, i/filesPerDir, i)
}

func burst(args []string) error {
	fs := flag.NewFlagSet("burst", flag.ContinueOnError)
	n := fs.Int("n", 100000, "files")
	dir := fs.String("dir", "/burst", "where the files are")
	ctl := fs.String("ctl", "", "hand-shake directory shared with the bench")
	openOnly := fs.Bool("open-only", false, "the files exist: only open them")
	if err := fs.Parse(args); err != nil {
		return err
	}
	// Paths are made up front, so that the timed loops are system calls.
	paths := make([]*byte, *n)
	for i := range paths {
		paths[i] = cstring(burstPath(*dir, i))
	}
	if !*openOnly {
		for d := 0; d*filesPerDir < *n; d++ {
			// mkdir is not an open: tracers do not see it.
			if err := os.Mkdir(fmt.Sprintf("%s/d%03d", *dir, d), 0o755); err != nil {
				return err
			}
		}
	}
	if err := handshake(*ctl, "ready", "go"); err != nil {
		return err
	}

	result := map[string]any{"files": *n}
	if !*openOnly {
		t := startTimer()
		for i, p := range paths {
			fd, errno := openat(p, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL)
			if errno != 0 {
				return fmt.Errorf("create %s: %v", burstPath(*dir, i), errno)
			}
			closefd(fd)
		}
		result["create_ns"], result["create_cpu_ns"] = t.stop()
	}
	t := startTimer()
	for i, p := range paths {
		fd, errno := openat(p, syscall.O_RDONLY)
		if errno != 0 {
			return fmt.Errorf("open %s: %v", burstPath(*dir, i), errno)
		}
		closefd(fd)
	}
	result["open_ns"], result["open_cpu_ns"] = t.stop()

	out, err := json.Marshal(result)
	if err != nil {
		return err
	}
	if err := handshake(*ctl, "done", "release"); err != nil {
		return err
	}
	_, err = fmt.Printf("%s\n", out)
	return err
}

// handshake writes ctl/mine and waits for ctl/theirs. A stat is not an
// open, so the wait adds nothing to the profile.
func handshake(ctl, mine, theirs string) error {
	if ctl == "" {
		return nil
	}
	if err := os.WriteFile(filepath.Join(ctl, mine), nil, 0o644); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		if _, err := os.Stat(filepath.Join(ctl, theirs)); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no %s from the bench within 10 minutes", theirs)
		}
		time.Sleep(time.Millisecond)
	}
}
