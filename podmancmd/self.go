package podmancmd

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// APIExecutable is the name of the executable that does podprof's
// commands that drive podman through its API, `podprof run` and `podprof
// slim`, installed beside podprof. It links podman's client and its run
// command, whose packages take tens of milliseconds to start and tens of
// megabytes of memory; podprof itself, which the OCI hook and the tracer
// process run, and which every other command goes through, does not.
const APIExecutable = "podprof-podman"

// HookExecutable is the name of podprof's OCI prestart hook, installed
// beside podprof: a container's start waits for it, so it is built of the
// hook alone (tracerd/podprof-hook), without the packages whose start
// alone takes podprof 15 ms.
const HookExecutable = "podprof-hook"

// Self is podprof's own executable, the one users run, also when the
// caller is podprof-podman or podprof-hook: the tracer process a
// container's hook talks to is the one podprof run holds, which podprof
// runs.
func Self() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding podprof's own executable: %w", err)
	}
	if name := filepath.Base(exe); name == APIExecutable || name == HookExecutable {
		return filepath.Join(filepath.Dir(exe), "podprof"), nil
	}
	return exe, nil
}

// APIPath is podprof-podman, beside podprof.
func APIPath() (string, error) { return besideSelf(APIExecutable) }

// HookPath is podprof-hook, beside podprof.
func HookPath() (string, error) { return besideSelf(HookExecutable) }

func besideSelf(name string) (string, error) {
	self, err := Self()
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(self), name), nil
}

// ExecAPI replaces podprof with podprof-podman, given podprof's arguments
// as they were. It returns only on failure, with podman's error exit code.
func ExecAPI(args []string) int {
	path, err := APIPath()
	return replaceWith(path, err, append([]string{"podprof"}, args...), ": podprof run, slim and reports of image archives need it beside podprof (make install puts it there)")
}

// BuildID names the executable at path as built and installed: two
// podprof builds (an upgrade while containers are traced, two installs)
// never share a tracer or a kept service, whose protocol, hook or BPF
// programs may differ.
func BuildID(path string) (string, error) {
	id, err := fileIdentity(path)
	if err != nil {
		return "", fmt.Errorf("identifying %s: %w", path, err)
	}
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:6]), nil
}

// fileIdentity changes when the file at path is replaced or written.
func fileIdentity(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	sys := st.Sys().(*syscall.Stat_t)
	return fmt.Sprintf("%d:%d:%d:%d", sys.Dev, sys.Ino, st.Size(), st.ModTime().UnixNano()), nil
}

// IdleEnv sets how long podprof keeps its podman service and its tracer
// process after the last run that used them (a Go duration, "2s", or
// seconds; 0 stops them as soon as nothing uses them).
const IdleEnv = "PODPROF_IDLE_TIME"

// DefaultIdle is the idle time without IdleEnv: long enough for the runs
// of a script or an edit-run loop to find them warm, short enough that a
// host rarely keeps what nobody uses (an idle tracer has no BPF program
// attached; a service and its keeper are memory only).
const DefaultIdle = 30 * time.Second

// IdleTime is the idle time IdleEnv sets, DefaultIdle if unset.
func IdleTime() (time.Duration, error) {
	value, ok := os.LookupEnv(IdleEnv)
	if !ok || value == "" {
		return DefaultIdle, nil
	}
	if seconds, err := strconv.ParseFloat(value, 64); err == nil && seconds >= 0 {
		return time.Duration(seconds * float64(time.Second)), nil
	}
	if d, err := time.ParseDuration(value); err == nil && d >= 0 {
		return d, nil
	}
	return 0, fmt.Errorf("invalid %s %q: use a duration such as 30s, or 0", IdleEnv, value)
}

// RuntimeDir is the calling user's directory for podprof's sockets and
// locks (0700): /run/podprof for root, $XDG_RUNTIME_DIR/podprof or
// $TMPDIR/podprof-UID for another user. What it holds is never shared
// across users: one that is not the user's own, or open to others, is
// refused.
func RuntimeDir() (string, error) {
	uid := os.Geteuid()
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("podprof-%d", uid))
	switch xdg := os.Getenv("XDG_RUNTIME_DIR"); {
	case uid == 0:
		dir = "/run/podprof"
	case xdg != "" && filepath.IsAbs(xdg):
		dir = filepath.Join(xdg, "podprof")
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("creating %s: %w", dir, err)
	}
	st, err := os.Lstat(dir)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", dir, err)
	}
	if sys := st.Sys().(*syscall.Stat_t); !st.IsDir() || int(sys.Uid) != uid || st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("%s is not a directory of yours that only you can open: remove it", dir)
	}
	return dir, nil
}

// StartDetached starts cmd, one of podprof's own processes that outlive
// their caller (the tracer, the keeper of a podman service), in its own
// session, so that no terminal signal reaches it, and returns the first
// line it writes on its fd 3 once it serves or has failed: "" when it
// exits without a word. When ctx ends first, cmd is killed.
func StartDetached(ctx context.Context, cmd *exec.Cmd) (string, error) {
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return "", err
	}
	defer readyR.Close()
	cmd.ExtraFiles = []*os.File{readyW} // fd 3
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	readyW.Close()
	if err != nil {
		return "", err
	}
	go cmd.Wait()
	answer := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(readyR).ReadString('\n')
		answer <- strings.TrimSpace(line)
	}()
	select {
	case line := <-answer:
		return line, nil
	case <-ctx.Done():
		cmd.Process.Kill()
		return "", ctx.Err()
	}
}

// StopSignals delivers the signals that stop podprof's background
// processes (the tracer, a service's keeper, the tracer service) cleanly:
// SIGTERM (kill, a shutdown) and SIGINT (^C, where run by hand).
func StopSignals() <-chan os.Signal {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	return signals
}

// Detached is StartDetached's other side, in the process it started: it
// points stdin, stdout and stderr at /dev/null, which nobody reads once
// the starter is gone, and returns fd 3, on which to write the line that
// says it serves ("ok") or why it does not.
func Detached() *os.File {
	if devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0); err == nil {
		for fd := range 3 {
			unix.Dup2(int(devnull.Fd()), fd)
		}
		devnull.Close()
	}
	return os.NewFile(3, "ready")
}
