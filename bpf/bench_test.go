package bpf

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// What tracing costs an open(): each benchmark runs b.N open()+close()
// pairs of one file in a child process that times itself, so process
// start-up is not counted; the metric is ns per pair. Run with a fixed
// count, e.g. -test.bench=. -test.benchtime=200000x.
//
//	container/untraced  in a fake container nobody traces: the baseline
//	container/traced    in a traced one: every open after the first is a
//	                    dedup hit in the kernel
//	host/no-tracer      on the host, before the tracer is loaded
//	host/tracer-loaded  on the host while the tracer is loaded and watches
//	                    a container: the tax every process on the host pays

// loopEnv makes the test binary the open()+close() loop: its value is the
// number of pairs, loopFileEnv the file.
const (
	loopEnv     = "PODPROF_TEST_LOOP"
	loopFileEnv = "PODPROF_TEST_LOOP_FILE"
)

func openCloseLoop(count string) int {
	n, err := strconv.Atoi(count)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loop count:", err)
		return 1
	}
	path := os.Getenv(loopFileEnv)
	start := time.Now()
	for range n {
		fd, err := unix.Open(path, unix.O_RDONLY, 0)
		if err != nil {
			fmt.Fprintln(os.Stderr, "open:", err)
			return 1
		}
		unix.Close(fd)
	}
	fmt.Printf("%d\n", time.Since(start).Nanoseconds()/int64(max(n, 1)))
	return 0
}

func BenchmarkOpenClose(b *testing.B) {
	dir := b.TempDir()
	file := filepath.Join(dir, "opened")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	loop := func(b *testing.B) []string {
		return []string{loopEnv + "=" + strconv.Itoa(b.N), loopFileEnv + "=" + file}
	}
	inContainer := func(b *testing.B, tr *Tracer) {
		// The loop is exec'd inside the container, so it is the
		// container's own program, not the runtime.
		c, cmd, out := startFake(b, tr, b.TempDir(), []string{os.Args[0]}, loop(b))
		reportLoop(b, cmd, out)
		if c != nil {
			res, err := c.Wait(context.Background())
			if err != nil || res.Lost != 0 || len(res.Files) == 0 {
				b.Errorf("traced loop: %d files, %d lost, %v", len(res.Files), res.Lost, err)
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
	// look up is not empty.
	_, idle, _ := startFake(b, tr, b.TempDir(), []string{"/bin/sh", "-c", "read x"}, nil)
	b.Run("host/tracer-loaded", onHost)
	idle.Process.Kill()
	idle.Wait()
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
	ns, err := strconv.ParseFloat(strings.TrimSpace(string(text)), 64)
	if err != nil {
		b.Fatalf("open loop printed %q", text)
	}
	b.ReportMetric(ns, "ns/pair")
}
