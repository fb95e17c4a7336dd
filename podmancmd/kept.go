package podmancmd

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// A kept service is a private `podman system service` that outlives the
// podprof run that started it by the idle time (IdleTime), so that the
// next run with the same key finds it warm. Its keeper, a process of its
// own (KeepService), is the service's parent: it counts the runs that hold
// the service, stops it and removes its directory once none has for the
// idle time, and dies with it. A directory's lock serializes a run's
// look-up (and start) with the keeper's teardown: a run never finds a
// service that is stopping.

// ServiceDirPrefix names a kept service's directory in RuntimeDir,
// followed by the build of podprof (BuildID) and the service's key.
const ServiceDirPrefix = "service-"

// KeepServiceArg makes podprof-podman the keeper of a service:
// podprof-podman run ARG DIR PODMAN FLAGS...
const KeepServiceArg = "--podprof-keep-service"

// keeperSocket is where the keeper takes holds, in the service's dir.
const keeperSocket = "keeper.sock"

// A Lease is a run's hold on a kept service: the service stays up at
// least until the lease is closed.
type Lease struct {
	URI    string
	socket string
	keeper net.Conn
}

// Close lets the service go: its keeper stops it after the idle time,
// unless another run holds it.
func (l *Lease) Close() error { return l.keeper.Close() }

// Lost says why the service no longer answers, or nil if it does.
func (l *Lease) Lost() error {
	conn, err := net.Dial("unix", l.socket)
	if err == nil {
		conn.Close()
		return nil
	}
	// The keeper ends a lease only when the service has exited.
	l.keeper.SetReadDeadline(time.Now().Add(time.Second))
	if _, rerr := l.keeper.Read(make([]byte, 1)); !errors.Is(rerr, os.ErrDeadlineExceeded) {
		return errors.New("podprof's podman system service died during the run")
	}
	return fmt.Errorf("podprof's podman system service stopped answering during the run (%v)", err)
}

// AcquireService holds the caller's kept service for podman started with
// flags, starting it if there is none: prepare fills its new directory
// (a hooks dir) and returns the flags that name what it put there.
func AcquireService(ctx context.Context, podman string, flags []string, prepare func(dir string) ([]string, error)) (_ *Lease, err error) {
	root, err := RuntimeDir()
	if err != nil {
		return nil, err
	}
	self, err := Self()
	if err != nil {
		return nil, err
	}
	build, err := BuildID(self)
	if err != nil {
		return nil, err
	}
	key, err := serviceKey(podman, flags)
	if err != nil {
		return nil, err
	}
	removeStaleServices(root)
	dir := filepath.Join(root, ServiceDirPrefix+build+"-"+key)
	lock, err := lockServiceDir(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	if l := holdService(dir); l != nil {
		return l, nil
	}
	// No keeper: a killed one's leftovers, if any, are ours to clear.
	if err := clearExcept(dir, filepath.Base(lock.Name())); err != nil {
		return nil, err
	}
	dirFlags, err := prepare(dir)
	if err != nil {
		return nil, err
	}
	if err := spawnKeeper(ctx, dir, podman, append(append([]string{}, flags...), dirFlags...)); err != nil {
		return nil, err
	}
	if l := holdService(dir); l != nil {
		return l, nil
	}
	return nil, errors.New("podprof's podman service keeper started but takes no run: see its log in " + dir)
}

// holdService connects to the keeper of the service in dir, nil if none
// answers.
func holdService(dir string) *Lease {
	conn, err := net.Dial("unix", filepath.Join(dir, keeperSocket))
	if err != nil {
		return nil
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if line, err := bufio.NewReader(conn).ReadString('\n'); err != nil || line != "ok\n" {
		conn.Close()
		return nil
	}
	conn.SetReadDeadline(time.Time{})
	socket := filepath.Join(dir, "podman.sock")
	return &Lease{URI: "unix://" + socket, socket: socket, keeper: conn}
}

// spawnKeeper starts the keeper of a new service in dir, in its own
// session (it outlives the run, and no terminal signal reaches it), and
// returns once the service answers, or with the reason it does not.
func spawnKeeper(ctx context.Context, dir, podman string, flags []string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding podprof-podman: %w", err)
	}
	line, err := StartDetached(ctx, exec.Command(exe, append([]string{"run", KeepServiceArg, dir, podman}, flags...)...))
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case err != nil:
		return fmt.Errorf("starting podprof's podman service keeper: %w", err)
	case line == "ok":
		return nil
	case line == "":
		return errors.New("podprof's podman service keeper exited before the service answered")
	}
	return errors.New(line)
}

// KeepService is the keeper process of the service in dir, podman with
// flags. It tells whoever started it, on fd 3, "ok" once the service
// answers or the reason it does not, and returns once the service is
// stopped and dir removed.
func KeepService(dir, podman string, flags []string) int {
	ready := Detached()
	fail := func(err error) int {
		fmt.Fprintln(ready, err)
		return 1
	}
	idle, err := IdleTime()
	if err != nil {
		return fail(err)
	}
	svc, err := StartService(context.Background(), podman, dir, flags)
	if err != nil {
		return fail(err)
	}
	socket := filepath.Join(dir, keeperSocket)
	listener, err := net.Listen("unix", socket)
	if err != nil {
		svc.Close()
		return fail(fmt.Errorf("listening on %s: %w", socket, err))
	}
	k := &keeper{dir: dir, idle: idle, listener: listener}
	// Idle from the start: the spawner holds the lock until it holds
	// the service, so the first teardown can't come before.
	k.timer = time.AfterFunc(idle, k.expire)
	// Stopped from outside (kill, a shutdown), it stops the service and
	// removes its directory as at the end of its idle time.
	stopped := StopSignals()
	go func() {
		select {
		case <-svc.Done(): // died: a run then starts a new one
		case <-stopped:
		}
		k.lock()
		k.stop()
	}()
	fmt.Fprintln(ready, "ok")
	ready.Close()
	k.serve()
	svc.Close() // removes dir, its lock file too, while k.stop holds it
	return 0
}

type keeper struct {
	dir      string
	idle     time.Duration
	listener net.Listener
	timer    *time.Timer

	mu        sync.Mutex
	holders   int
	idleSince time.Time
	closing   bool
}

func (k *keeper) serve() {
	for {
		conn, err := k.listener.Accept()
		if err != nil {
			return // closed by stop
		}
		if !k.hold() {
			conn.Close()
			continue
		}
		go func() {
			defer k.release()
			defer conn.Close()
			if _, err := conn.Write([]byte("ok\n")); err == nil {
				conn.Read(make([]byte, 1)) // held until the run closes it
			}
		}()
	}
}

func (k *keeper) hold() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closing {
		return false
	}
	k.holders++
	k.timer.Stop()
	return true
}

func (k *keeper) release() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.holders--; k.holders == 0 {
		k.idleSince = time.Now()
		k.timer.Reset(k.idle)
	}
}

// expire stops the service if it is still idle once the keeper holds
// the directory's lock: a run that holds the lock is about to hold the
// service.
func (k *keeper) expire() {
	lock := k.lock()
	k.mu.Lock()
	idle := k.holders == 0 && time.Since(k.idleSince) >= k.idle
	k.mu.Unlock()
	if !idle {
		lock.Close()
		return
	}
	k.stop()
}

// lock locks the service's directory, for good: it stays locked until the
// keeper exits, once the service is stopped and the directory removed, so
// that no run starts a new service in it meanwhile.
func (k *keeper) lock() *os.File {
	lock, err := os.OpenFile(filepath.Join(k.dir, serviceLock), os.O_RDWR, 0)
	if err == nil {
		unix.Flock(int(lock.Fd()), unix.LOCK_EX)
	}
	return lock // nil, and Close a no-op, if it is gone: so is the directory
}

// stop takes no more runs; serve returns and the service is stopped.
func (k *keeper) stop() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.closing {
		k.closing = true
		k.listener.Close()
	}
}

// serviceLock is the lock file in a kept service's directory.
const serviceLock = "lock"

// lockServiceDir creates dir if need be and locks it, waiting for a run
// that starts its service or a keeper that removes it. The lock file
// held is the one dir has: a keeper removes it, still locked, with the
// directory.
func lockServiceDir(ctx context.Context, dir string) (*os.File, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("creating %s: %w", dir, err)
		}
		path := filepath.Join(dir, serviceLock)
		lock, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed meanwhile
			}
			return nil, fmt.Errorf("opening %s: %w", path, err)
		}
		if unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			held, errHeld := lock.Stat()
			named, errNamed := os.Stat(path)
			if errHeld == nil && errNamed == nil && os.SameFile(held, named) {
				return lock, nil
			}
		}
		lock.Close()
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s stayed locked for a minute: another podprof run is stuck starting its service", dir)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// clearExcept empties dir but for the file keep.
func clearExcept(dir, keep string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading %s: %w", dir, err)
	}
	for _, e := range entries {
		if e.Name() != keep {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("clearing %s: %w", dir, err)
			}
		}
	}
	return nil
}

// removeStaleServices removes the directories of kept services whose
// keeper was killed (SIGKILL) before it could: unlocked, and no keeper
// answers.
func removeStaleServices(root string) {
	dirs, _ := filepath.Glob(filepath.Join(root, ServiceDirPrefix+"*"))
	for _, dir := range dirs {
		lock, err := os.OpenFile(filepath.Join(dir, serviceLock), os.O_RDWR, 0)
		if err != nil {
			continue // being made or removed
		}
		if unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			if conn, err := net.Dial("unix", filepath.Join(dir, keeperSocket)); err == nil {
				conn.Close()
			} else {
				os.RemoveAll(dir)
			}
		}
		lock.Close()
	}
}

// serviceKey is what a kept service must have been started with to serve
// a run: the podprof-podman and podman builds, podman's global flags, the
// working directory (relative paths a service resolves), the environment
// podman and its configuration read, and the configuration files'
// identities (storage, registries, containers.conf and their drop-ins).
// The user is the directory's.
func serviceKey(podman string, flags []string) (string, error) {
	h := sha256.New()
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding podprof-podman: %w", err)
	}
	for _, path := range []string{exe, podman} {
		id, err := BuildID(path)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %s\n", path, id)
	}
	cwd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("reading the working directory: %w", err)
	}
	fmt.Fprintf(h, "cwd %s\n", cwd)
	for _, f := range flags {
		fmt.Fprintf(h, "flag %q\n", f)
	}
	env := os.Environ()
	slices.Sort(env)
	for _, kv := range env {
		if name, _, _ := strings.Cut(kv, "="); keyedEnv(name) {
			fmt.Fprintf(h, "env %q\n", kv)
		}
	}
	for _, path := range configPaths() {
		id, _ := fileIdentity(path) // "" for none
		fmt.Fprintf(h, "config %s %s\n", path, id)
		if entries, err := os.ReadDir(path); err == nil {
			for _, e := range entries {
				id, _ := fileIdentity(filepath.Join(path, e.Name()))
				fmt.Fprintf(h, "config %s/%s %s\n", path, e.Name(), id)
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:8]), nil
}

// keyedEnv says whether podman, its configuration or podprof's hook reads
// the environment variable name.
func keyedEnv(name string) bool {
	for _, prefix := range []string{"CONTAINERS_", "PODMAN_", "BUILDAH_", "STORAGE_", "XDG_", "PODPROF_", "_CONTAINERS_"} {
		if strings.HasPrefix(name, prefix) {
			return true
		}
	}
	switch strings.ToUpper(name) {
	case "HOME", "PATH", "TMPDIR", "USER", "HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "TZ", "NOTIFY_SOCKET":
		return true
	}
	return false
}

// configPaths are the files and directories of podman's configuration.
func configPaths() []string {
	paths := []string{
		"/usr/share/containers/containers.conf", "/etc/containers/containers.conf", "/etc/containers/containers.conf.d",
		"/usr/share/containers/storage.conf", "/etc/containers/storage.conf",
		"/etc/containers/registries.conf", "/etc/containers/registries.conf.d", "/etc/containers/policy.json",
		"/usr/share/containers/mounts.conf", "/etc/containers/mounts.conf",
		"/usr/share/containers/seccomp.json", "/etc/containers/seccomp.json",
		"/etc/containers/libpod.conf", "/usr/share/containers/libpod.conf",
	}
	if home, err := os.UserConfigDir(); err == nil {
		dir := filepath.Join(home, "containers")
		paths = append(paths, dir, filepath.Join(dir, "containers.conf.d"), filepath.Join(dir, "registries.conf.d"))
	}
	return paths
}
