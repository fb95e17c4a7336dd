package run

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/podprof/podprof/internal/e2e"
	"github.com/podprof/podprof/podmancmd"
	"github.com/podprof/podprof/tracerd/hook"
)

// The kept service and the lingering tracer (issue 14): a run finds those
// of the run before it warm, a run that configures podman otherwise gets
// its own service, and nothing is left one idle time (TestMain's) after
// the last run.

// tracerPids are the tracer processes of the test's podprof.
func tracerPids(t *testing.T) []int {
	t.Helper()
	self, err := os.Stat(podprofBin)
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, p := range scanProcs() {
		exe, err := os.Stat(fmt.Sprintf("/proc/%d/exe", p.pid))
		if err == nil && os.SameFile(exe, self) && len(p.args) >= 3 && p.args[1] == "hook" && p.args[2] == hook.DaemonArg {
			pids = append(pids, p.pid)
		}
	}
	return pids
}

// idleLongerThanARun sets an idle time for the test's runs that outlasts
// a run and what the test does between two, on a loaded machine: the
// tests' 2 s does not. The leak check's 20 s still outlast it.
func idleLongerThanARun(t *testing.T) {
	t.Setenv(podmancmd.IdleEnv, "8s")
}

func runTrue(t *testing.T, lc *leakCheck, args ...string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "p.json")
	args = append(args, "run", "--rm", "--label", faultsLabel, "--podprof-output="+out, busyboxImage, "true")
	if r := run(t, lc, args...); r.code != 0 {
		t.Fatalf("podprof %q: exit %d: %s", args, r.code, r.stderr)
	}
	waitProfile(t, out)
}

// TestKeptServiceReused: the second run uses the service and the tracer
// the first one started.
func TestKeptServiceReused(t *testing.T) {
	requireImage(t, busyboxImage)
	lc := checkLeaks(t)
	idleLongerThanARun(t)
	runTrue(t, lc)
	services, tracers := keptServices(t), tracerPids(t)
	if len(services) != 1 || len(tracers) != 1 {
		t.Fatalf("after a run: want 1 kept service and 1 tracer, found services %v, tracers %v", services, tracers)
	}
	runTrue(t, lc)
	if again, tracersAgain := keptServices(t), tracerPids(t); !slices.Equal(again, services) || !slices.Equal(tracersAgain, tracers) {
		t.Errorf("the second run did not reuse the first one's service %v and tracer %v: now %v and %v", services, tracers, again, tracersAgain)
	}
}

// TestKeptServiceKeys: a run with other global flags (the store's root
// given, though it is the same) or another storage configuration gets a
// service of its own; the first one's serves its own key still.
func TestKeptServiceKeys(t *testing.T) {
	requireImage(t, busyboxImage)
	lc := checkLeaks(t)
	idleLongerThanARun(t)
	runTrue(t, lc)
	first := keptServices(t)
	if len(first) != 1 {
		t.Fatalf("after a run: want 1 kept service, found %v", first)
	}
	root, err := exec.Command("podman", "info", "--format", "{{.Store.GraphRoot}}").Output()
	if err != nil {
		t.Fatal(err)
	}
	runTrue(t, lc, "--root", strings.TrimSpace(string(root)))
	withRoot := keptServices(t)
	if len(withRoot) != 2 || !slices.Contains(withRoot, first[0]) {
		t.Fatalf("a run with --root: want a service of its own beside %v, found %v", first, withRoot)
	}
	// The same storage.conf podman reads, named by the environment.
	conf := filepath.Join(t.TempDir(), "storage.conf")
	if err := os.WriteFile(conf, storageConf(t), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CONTAINERS_STORAGE_CONF", conf)
	runTrue(t, lc)
	if all := keptServices(t); len(all) != 3 {
		t.Errorf("a run with CONTAINERS_STORAGE_CONF: want a service of its own beside %v, found %v", withRoot, all)
	}
	os.Unsetenv("CONTAINERS_STORAGE_CONF")
	runTrue(t, lc)
	if all := keptServices(t); len(all) != 3 {
		t.Errorf("a run as the first: want it to reuse %v, found %v", first, all)
	}
}

// storageConf is a storage.conf with the store podman uses. It names no
// driver: podman takes the one its database recorded, where a driver named
// that differs from the recorded one (none, on a machine without
// storage.conf) makes every container's cleanup fail on a "database
// configuration mismatch", and podman run wait 20 s for it.
func storageConf(t *testing.T) []byte {
	t.Helper()
	out, err := exec.Command("podman", "info", "--format", "{{.Store.GraphRoot}}\n{{.Store.RunRoot}}").Output()
	lines := strings.Fields(string(out))
	if err != nil || len(lines) != 2 {
		t.Fatalf("podman info: %q %v", out, err)
	}
	return fmt.Appendf(nil, "[storage]\ngraphroot = %q\nrunroot = %q\n", lines[0], lines[1])
}

// TestKeptServiceExpires: after a run, the service, its keeper and the
// tracer linger, the tracer's programs detached (it costs the host's
// opens nothing); one idle time later, nothing is left.
func TestKeptServiceExpires(t *testing.T) {
	requireImage(t, busyboxImage)
	lc := checkLeaks(t)
	idle, err := podmancmd.IdleTime()
	if err != nil {
		t.Fatal(err)
	}
	runTrue(t, lc)
	ended := time.Now()
	// The tracer detaches its programs once it has seen the run's last
	// watch end, a moment after the run.
	lingering := lc.state()
	for time.Since(ended) < idle/2 && lingering.Links != 0 {
		time.Sleep(20 * time.Millisecond)
		lingering = lc.state()
	}
	t.Logf("host while they linger: %s", lingering)
	if lingering.Services != 2 || lingering.Tracers != 1 || lingering.TempDirs != 1 {
		t.Errorf("want a service and its keeper, its directory and a tracer lingering: %s", lingering)
	}
	if lingering.Progs == 0 || lingering.Links != 0 {
		t.Errorf("the lingering tracer must hold its programs, none attached: %s", lingering)
	}
	// The keeper and the tracer count from the run's last request; the
	// service takes up to a second or two to stop.
	for deadline := ended.Add(idle + 3*time.Second); ; time.Sleep(100 * time.Millisecond) {
		s := lc.state()
		if s.clean() {
			t.Logf("clean %s after the run, idle time %s", time.Since(ended).Round(10*time.Millisecond), idle)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not clean one idle time (%s) and 3s after the run: %s", idle, s)
		}
	}
}

// TestServiceSystem: --podprof-service=system runs the container through
// the system's podman socket, where podprof's hook is in its hooks dirs,
// and starts no service; auto does the same, and falls back to a kept
// service where the hook is not installed; system says why it can't.
func TestServiceSystem(t *testing.T) {
	requireImage(t, busyboxImage)
	lc := checkLeaks(t)
	// make install's hook, for the test's podprof.
	hooksDir := t.TempDir()
	writeTestHook(t, hooksDir)
	t.Setenv("CONTAINERS_CONF", containersConf(t, hooksDir))
	startSystemService(t)

	for _, choice := range []string{"system", "auto"} {
		out := filepath.Join(t.TempDir(), "p.json")
		r := run(t, lc, "run", "--rm", "--label", faultsLabel, "--podprof-service="+choice, "--podprof-output="+out, busyboxImage, "cat", "/etc/group")
		if r.code != 0 {
			t.Fatalf("--podprof-service=%s: exit %d: %s", choice, r.code, r.stderr)
		}
		if p := waitProfile(t, out); !hasPath(p, "/etc/group") {
			t.Errorf("--podprof-service=%s: the profile misses /etc/group", choice)
		}
		if pids := keptServices(t); len(pids) != 0 {
			t.Errorf("--podprof-service=%s started a service of its own: %v", choice, pids)
		}
	}
	r := run(t, lc, "--log-level=info", "run", "--rm", "--podprof-service=system", busyboxImage, "true")
	requireOneLineError(t, r, 125, "--podprof-service=system", "global flags", "--podprof-service=private")

	t.Setenv("CONTAINERS_CONF", containersConf(t, t.TempDir()))
	r = run(t, lc, "run", "--rm", "--podprof-service=system", busyboxImage, "true")
	requireOneLineError(t, r, 125, "hook", "make install")
	r = run(t, lc, "run", "--rm", "--label", faultsLabel, "--podprof-service=auto", "--podprof-output="+filepath.Join(t.TempDir(), "p.json"), busyboxImage, "true")
	if r.code != 0 {
		t.Fatalf("--podprof-service=auto without the hook installed: exit %d: %s", r.code, r.stderr)
	}
	if pids := keptServices(t); len(pids) != 1 {
		t.Errorf("--podprof-service=auto without the hook installed: want a kept service, found %v", pids)
	}
}

// containersConf writes e2e.ContainersConf for hooksDir and returns its
// path.
func containersConf(t *testing.T, hooksDir string) string {
	t.Helper()
	conf, err := e2e.ContainersConf(hooksDir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "containers.conf")
	if err := os.WriteFile(path, conf, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// startSystemService runs `podman system service` on the system's socket,
// as podman.socket would, for the test; it fails the test if one is
// running already (the test can't know its hooks dirs).
func startSystemService(t *testing.T) {
	t.Helper()
	if conn, err := net.Dial("unix", systemSocket); err == nil {
		conn.Close()
		t.Skipf("a podman service answers on %s already: this test runs its own there", systemSocket)
	}
	made := false
	if err := os.Mkdir(filepath.Dir(systemSocket), 0o700); err == nil {
		made = true
	} else if !errors.Is(err, os.ErrExist) {
		t.Fatal(err)
	}
	os.Remove(systemSocket) // a dead service's
	cmd := exec.Command("podman", "system", "service", "--time=0", "unix://"+systemSocket)
	log := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		os.Remove(systemSocket)
		if made {
			os.Remove(filepath.Dir(systemSocket))
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if conn, err := net.Dial("unix", systemSocket); err == nil {
			conn.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("podman system service on %s did not answer within 30s: %s", systemSocket, log)
		}
	}
}
