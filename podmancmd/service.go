package podmancmd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A Service is a private `podman system service`, podprof's own: podprof
// run's has a hooks dir that holds podprof's hook, a setting of the whole
// service, not of one request.
type Service struct {
	dir     string // holds the socket and the log; removed by Close
	cmd     *exec.Cmd
	log     *os.File
	done    chan struct{} // closed once the service exited, with exitErr
	exitErr error
	URI     string
}

// StartService starts `podman GLOBALFLAGS system service` on a socket in
// dir, a directory of the caller's (PrivateDir's) that the service then
// owns, with podman's global flags (those the user gave podprof), and
// returns once it answers.
func StartService(ctx context.Context, podman, dir string, globalFlags []string) (_ *Service, err error) {
	s := &Service{dir: dir}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	args := append([]string{}, globalFlags...)
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
	s.done = make(chan struct{})
	go func() {
		s.exitErr = s.cmd.Wait()
		close(s.done)
	}()
	if err := s.waitReady(ctx, socket); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Service) waitReady(ctx context.Context, socket string) error {
	deadline := time.Now().Add(30 * time.Second)
	for delay := time.Millisecond; ; delay = min(2*delay, 20*time.Millisecond) {
		if conn, err := net.Dial("unix", socket); err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("podman system service exited before it answered (%v): %s", s.exitErr, s.lastLogLine())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		if time.Now().After(deadline) {
			return errors.New("podman system service did not answer within 30s")
		}
	}
}

// Done is closed once the service has exited.
func (s *Service) Done() <-chan struct{} { return s.done }

// Close stops the service and removes its directory.
func (s *Service) Close() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-s.done
		}
	}
	if s.log != nil {
		s.log.Close()
	}
	os.RemoveAll(s.dir)
}

// lastLogLine is the service's last words, usually the reason it failed.
func (s *Service) lastLogLine() string {
	data, _ := os.ReadFile(s.log.Name())
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	return lines[len(lines)-1]
}

// TempDirPrefix names podprof's temporary directories, followed by the pid
// of the podprof that owns one.
const TempDirPrefix = "podprof-run-"

// PrivateDir creates a temporary directory (0700) for a podprof process,
// after removing those of podprof processes that were killed before they
// could (SIGKILL).
func PrivateDir() (string, error) {
	removeStaleDirs()
	dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", TempDirPrefix, os.Getpid()))
	if err != nil {
		return "", fmt.Errorf("creating a temporary directory: %w", err)
	}
	return dir, nil
}

// removeStaleDirs removes the temporary directories whose podprof is gone.
func removeStaleDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), TempDirPrefix+"*-*"))
	for _, dir := range dirs {
		pid, err := strconv.Atoi(strings.Split(strings.TrimPrefix(filepath.Base(dir), TempDirPrefix), "-")[0])
		if err == nil && syscall.Kill(pid, 0) == syscall.ESRCH {
			os.RemoveAll(dir)
		}
	}
}
