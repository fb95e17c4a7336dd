package run

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/syslog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podprof/podprof/bpf"
	"github.com/podprof/podprof/report"
)

// traceArg makes `podprof hook` the tracer the hook leaves behind.
const traceArg = "--trace"

// readyTimeout bounds how long a container start waits for tracing to be
// live: past it the start fails rather than run untraced.
const readyTimeout = 20 * time.Second

// HookMain is `podprof hook`, the OCI prestart hook. The runtime gives it
// the container's state on stdin, with no PATH in the environment. It
// returns once the container is traced, leaving a tracer process behind that
// writes the profile when the container's init exits; or it fails the
// container's start with a one-line reason.
func HookMain(args []string) int {
	if len(args) == 1 && args[0] == traceArg {
		return traceMain()
	}
	if len(args) != 0 {
		fmt.Fprintf(os.Stderr, "podprof hook: unexpected arguments %q: the hook reads the OCI state on stdin and takes no arguments\n", args)
		return 1
	}
	if err := hook(os.Stdin); err != nil {
		fmt.Fprintf(os.Stderr, "podprof hook: %v\n", err)
		return 1
	}
	return 0
}

func hook(stdin io.Reader) error {
	stateJSON, err := io.ReadAll(stdin)
	if err != nil {
		return fmt.Errorf("reading the container state: %w", err)
	}
	var state rspec.State
	if err := json.Unmarshal(stateJSON, &state); err != nil {
		return fmt.Errorf("the container state on stdin is not OCI state JSON: %w", err)
	}
	if err := checkOutputPath(state.Annotations[ProfileAnnotation]); err != nil {
		return err
	}
	if state.Pid <= 0 {
		return errors.New("the container state has no pid: run the hook at the prestart or createRuntime stage")
	}

	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding podprof's own executable: %w", err)
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer readyR.Close()
	tracer := exec.Command(self, "hook", traceArg)
	tracer.Stdin = strings.NewReader(string(stateJSON))
	tracer.ExtraFiles = []*os.File{readyW} // fd 3
	// Its own session: the runtime waits for the hook, not for the tracer,
	// and a terminal's signals must not reach it.
	tracer.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := tracer.Start(); err != nil {
		readyW.Close()
		return fmt.Errorf("starting the tracer: %w", err)
	}
	readyW.Close()
	go tracer.Wait() // reap it if it fails before the hook returns

	answer := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(readyR).ReadString('\n')
		answer <- strings.TrimSpace(line)
	}()
	select {
	case line := <-answer:
		if line == "ok" {
			return nil
		}
		if line == "" {
			return errors.New("the tracer exited before tracing started")
		}
		return errors.New(line)
	case <-time.After(readyTimeout):
		tracer.Process.Kill()
		return fmt.Errorf("tracing did not start within %s", readyTimeout)
	}
}

// checkOutputPath refuses what report.WriteProfile would refuse, before the
// container starts: the path comes from whoever starts the container and
// the hook runs as root.
func checkOutputPath(path string) error {
	if path == "" {
		return fmt.Errorf("annotation %s is empty: set it to an absolute path for the profile", ProfileAnnotation)
	}
	if !filepath.IsAbs(path) {
		return fmt.Errorf("profile path %q is not absolute: set %s to an absolute path", path, ProfileAnnotation)
	}
	if st, err := os.Stat(filepath.Dir(path)); err != nil || !st.IsDir() {
		return fmt.Errorf("the directory of profile path %q does not exist: create it first", path)
	}
	if st, err := os.Lstat(path); err == nil && !st.Mode().IsRegular() {
		return fmt.Errorf("profile path %q exists and is not a regular file: choose another path", path)
	}
	return nil
}

// traceMain is the tracer left behind by the hook. It reports on fd 3
// "ok" once the container is traced, or the reason it can't be.
func traceMain() int {
	ready := os.NewFile(3, "ready")
	logger, _ := syslog.New(syslog.LOG_DAEMON|syslog.LOG_WARNING, "podprof")
	fail := func(err error) int {
		if ready != nil {
			fmt.Fprintln(ready, err)
		} else if logger != nil {
			logger.Err(err.Error())
		}
		return 1
	}
	// Nothing reads our stdout or stderr once the hook has returned.
	if devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0); err == nil {
		unix.Dup2(int(devnull.Fd()), 1)
		unix.Dup2(int(devnull.Fd()), 2)
		devnull.Close()
	}

	var state rspec.State
	if err := json.NewDecoder(os.Stdin).Decode(&state); err != nil {
		return fail(fmt.Errorf("reading the container state: %w", err))
	}
	mode, err := bpf.ParseMode(state.Annotations[TracerAnnotation])
	if err != nil {
		return fail(err)
	}
	started := time.Now()
	tracer, err := bpf.New(mode)
	if err != nil {
		return fail(err)
	}
	defer tracer.Close()
	ctr, err := tracer.Watch(state.Pid)
	if err != nil {
		return fail(err)
	}
	fmt.Fprintln(ready, "ok")
	ready.Close()
	ready = nil

	res, err := ctr.Wait(context.Background())
	if err != nil {
		return fail(err)
	}
	container, image := containerOfBundle(state.Bundle, state.ID)
	profile := &report.Profile{
		Version:    report.ProfileVersion,
		Image:      image,
		Container:  container,
		Tracer:     string(tracer.Mode()),
		Kernel:     kernelRelease(),
		Started:    started,
		Ended:      time.Now(),
		LostEvents: res.Lost,
		Files:      profileFiles(res.Files),
	}
	if err := report.WriteProfile(state.Annotations[ProfileAnnotation], profile); err != nil {
		return fail(err)
	}
	return 0
}

func profileFiles(files []bpf.File) []report.File {
	out := make([]report.File, len(files))
	for i, f := range files {
		out[i] = report.File{
			Path:  f.Path,
			Exec:  f.Flags&bpf.Exec != 0,
			Read:  f.Flags&bpf.Read != 0,
			Write: f.Flags&bpf.Write != 0,
			PID:   f.PID,
			Comm:  f.Comm,
		}
	}
	return out
}

func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}
