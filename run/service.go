package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"go.podman.io/common/pkg/config"
	hooks "go.podman.io/common/pkg/hooks/1.0.0"

	"github.com/podprof/podprof/tracerd"
)

// service is a private `podman system service` whose hooks dirs include one
// that holds podprof's hook: the hooks dir is a setting of the whole service,
// not of one request.
type service struct {
	dir  string // 0700, holds the socket, hooks.d and the log; removed by close
	cmd  *exec.Cmd
	log  *os.File
	exit chan error
	URI  string
}

// startService starts the service with podman's own global flags (those the
// user gave around `run`), and returns once it answers.
func startService(ctx context.Context, podman string, globalFlags []string) (_ *service, err error) {
	dir, hooksDirFlags, err := newRunDir(globalFlags)
	if err != nil {
		return nil, err
	}
	s := &service{dir: dir}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	args := append(append([]string{}, globalFlags...), hooksDirFlags...)
	socket := filepath.Join(dir, "podman.sock")
	s.URI = "unix://" + socket
	args = append(args, "system", "service", "--time=0", s.URI)

	s.cmd = exec.Command(podman, args...)
	// The service logs warnings about its own connections; the user sees
	// them only if it fails to start.
	s.log, err = os.Create(filepath.Join(dir, "service.log"))
	if err != nil {
		return nil, err
	}
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	// The service must not outlive podprof, even when podprof is killed.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting podman system service: %w", err)
	}
	s.exit = make(chan error, 1)
	go func() { s.exit <- s.cmd.Wait() }()
	if err := s.waitReady(ctx, socket); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *service) waitReady(ctx context.Context, socket string) error {
	deadline := time.Now().Add(30 * time.Second)
	for delay := time.Millisecond; ; delay = min(2*delay, 20*time.Millisecond) {
		if conn, err := net.Dial("unix", socket); err == nil {
			conn.Close()
			return nil
		}
		select {
		case err := <-s.exit:
			s.exit <- err
			return fmt.Errorf("podman system service exited before it answered (%v): %s", err, s.lastLogLine())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		if time.Now().After(deadline) {
			return errors.New("podman system service did not answer within 30s")
		}
	}
}

// lost says why the service no longer answers, or nil if it does.
func (s *service) lost() error {
	conn, err := net.Dial("unix", strings.TrimPrefix(s.URI, "unix://"))
	if err == nil {
		conn.Close()
		return nil
	}
	select {
	case exit := <-s.exit:
		s.exit <- exit
		return fmt.Errorf("podprof's podman system service died during the run (%v)", exit)
	case <-time.After(time.Second):
		return fmt.Errorf("podprof's podman system service stopped answering during the run (%v)", err)
	}
}

// close stops the service and removes the temporary directory.
func (s *service) close() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exit:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-s.exit
		}
	}
	if s.log != nil {
		s.log.Close()
	}
	os.RemoveAll(s.dir)
}

// lastLogLine is the service's last words, usually the reason it failed.
func (s *service) lastLogLine() string {
	data, _ := os.ReadFile(s.log.Name())
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	return lines[len(lines)-1]
}

// newRunDir creates podprof run's private directory (0700), with a hooks
// dir that holds podprof's hook, and returns the --hooks-dir flags that
// make podman read it too.
func newRunDir(globalFlags []string) (dir string, hooksDirFlags []string, err error) {
	removeStaleDirs()
	dir, err = os.MkdirTemp("", fmt.Sprintf("%s%d-", tempDirPrefix, os.Getpid()))
	if err != nil {
		return "", nil, fmt.Errorf("creating a temporary directory: %w", err)
	}
	hooksDir := filepath.Join(dir, "hooks.d")
	if err := writeHook(hooksDir); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	// --hooks-dir replaces podman's configured dirs: keep them, unless
	// the user's own --hooks-dir replaces them already.
	var dirs []string
	if !hasFlag(globalFlags, "hooks-dir") {
		defaults, err := config.Default()
		if err != nil {
			os.RemoveAll(dir)
			return "", nil, fmt.Errorf("reading podman's configuration: %w", err)
		}
		dirs = defaults.Engine.HooksDir.Get()
	}
	for _, d := range append(dirs, hooksDir) {
		hooksDirFlags = append(hooksDirFlags, "--hooks-dir", d)
	}
	return dir, hooksDirFlags, nil
}

// hasFlag says whether args, podman's global flags, set the flag name.
func hasFlag(args []string, name string) bool {
	for _, arg := range args {
		if n, _, _ := strings.Cut(arg, "="); n == "--"+name {
			return true
		}
	}
	return false
}

// tempDirPrefix names podprof run's temporary directories, followed by the
// pid of the podprof that owns one.
const tempDirPrefix = "podprof-run-"

// removeStaleDirs removes the temporary directories of podprof runs that
// were killed before they could (SIGKILL): their owner is gone.
func removeStaleDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), tempDirPrefix+"*-*"))
	for _, dir := range dirs {
		pid, err := strconv.Atoi(strings.Split(strings.TrimPrefix(filepath.Base(dir), tempDirPrefix), "-")[0])
		if err == nil && syscall.Kill(pid, 0) == syscall.ESRCH {
			os.RemoveAll(dir)
		}
	}
}

// writeHook writes the hook that makes podman run `podprof hook` before
// any container that carries tracerd.ProfileAnnotation starts.
func writeHook(dir string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding podprof's own executable: %w", err)
	}
	hook := hooks.Hook{
		Version: hooks.Version,
		Hook:    rspec.Hook{Path: self, Args: []string{"podprof", "hook"}},
		When:    hooks.When{Annotations: map[string]string{"^" + regexp.QuoteMeta(tracerd.ProfileAnnotation) + "$": ".+"}},
		Stages:  []string{"prestart"},
	}
	data, err := json.Marshal(hook)
	if err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("creating the hooks dir: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "podprof.json"), data, 0o600); err != nil {
		return fmt.Errorf("writing the hook: %w", err)
	}
	return nil
}
