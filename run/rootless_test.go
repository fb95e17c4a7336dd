package run

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/podprof/podprof/podmancmd"
	"github.com/podprof/podprof/tracerd"
	"github.com/podprof/podprof/tracerd/hook"
)

// Rootless podman (issue 17): real unprivileged users (made by
// contrib/setup.sh), their own rootless podman and stores, served by a
// tracer service (`podprof tracer`) that each test starts as root on a
// socket of its own. The security tests attack the service as those users:
// through podprof run, through the hook, and with raw requests.

const (
	rootlessA     = "podprof-rootless-a"
	rootlessB     = "podprof-rootless-b"
	rootlessLabel = testLabel + "=rootless"
)

// testUser is an unprivileged user of the host, set up for rootless podman.
type testUser struct {
	name     string
	uid, gid int
	home     string
}

// requireRootlessUser fails unless setup made the user, with subordinate
// ids, and loaded the test images into its store.
func requireRootlessUser(t *testing.T, name string, images ...string) testUser {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("test user %s is missing: run contrib/setup.sh (make setup) first", name)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	tu := testUser{name: name, uid: uid, gid: gid, home: u.HomeDir}
	for _, file := range []string{"/etc/subuid", "/etc/subgid"} {
		if !hasSubordinateIDs(file, u) {
			t.Fatalf("test user %s has no range in %s: run contrib/setup.sh (make setup) first", name, file)
		}
	}
	for _, image := range images {
		if r := tu.run(t, nil, "podman", "image", "exists", image); r.code != 0 {
			t.Fatalf("test image %s is missing from %s's store: run contrib/setup.sh (make setup) first", image, name)
		}
	}
	return tu
}

// rootlessBinPrefix names the directories of rootlessBinOnce, followed by
// the pid of the test binary that made one.
const rootlessBinPrefix = "podprof-rootless-bin-"

// rootlessBinOnce copies podprof, podprof-podman, podprof-hook and this test binary (the
// raw client) to a directory every user can reach: TestMain's is root's.
// Nothing removes it when the tests end, so each run removes those of
// test binaries that are gone.
var rootlessBinOnce = sync.OnceValues(func() (string, error) {
	stale, _ := filepath.Glob(filepath.Join(os.TempDir(), rootlessBinPrefix+"*-*"))
	for _, dir := range stale {
		pid, err := strconv.Atoi(strings.Split(strings.TrimPrefix(filepath.Base(dir), rootlessBinPrefix), "-")[0])
		if err == nil && syscall.Kill(pid, 0) == syscall.ESRCH {
			os.RemoveAll(dir)
		}
	}
	dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", rootlessBinPrefix, os.Getpid()))
	if err != nil {
		return "", err
	}
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	for name, from := range map[string]string{
		"podprof":                 podprofBin,
		podmancmd.APIExecutable:   filepath.Join(filepath.Dir(podprofBin), podmancmd.APIExecutable),
		podmancmd.HookExecutable:  filepath.Join(filepath.Dir(podprofBin), podmancmd.HookExecutable),
		"podprof-raw-test-client": self,
	} {
		data, err := os.ReadFile(from)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, name), data, 0o755)
		}
		if err != nil {
			return "", err
		}
	}
	return dir, os.Chmod(dir, 0o755)
})

func rootlessBin(t *testing.T) string {
	t.Helper()
	dir, err := rootlessBinOnce()
	if err != nil {
		t.Fatalf("copying the binaries for the test users: %v", err)
	}
	return dir
}

// env is the user's clean environment, as a login would give it, with the
// service's socket.
func (u testUser) env(socket string) []string {
	env := []string{"HOME=" + u.home, "USER=" + u.name, "LOGNAME=" + u.name,
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		podmancmd.IdleEnv + "=" + os.Getenv(podmancmd.IdleEnv)} // TestMain's
	if socket != "" {
		env = append(env, hook.ServiceSocketEnv+"="+socket)
	}
	return env
}

// command is name with args as the user, in its home.
func (u testUser) command(socket string, name string, args ...string) *exec.Cmd {
	cmd := exec.Command("setpriv", append([]string{"--reuid=" + strconv.Itoa(u.uid), "--regid=" + strconv.Itoa(u.gid), "--init-groups", name}, args...)...)
	cmd.Env = u.env(socket)
	cmd.Dir = u.home
	return cmd
}

// run runs name as the user to its end; prepare may set more.
func (u testUser) run(t *testing.T, prepare func(*exec.Cmd), name string, args ...string) result {
	t.Helper()
	return runCmdWith(t, func(cmd *exec.Cmd) {
		as := u.command("", name, args...)
		cmd.Path, cmd.Args, cmd.Env, cmd.Dir = as.Path, as.Args, as.Env, as.Dir
		if prepare != nil {
			prepare(cmd)
		}
	}, "setpriv")
}

// podprof runs the copied podprof as the user, served on socket.
func (u testUser) podprof(t *testing.T, socket string, args ...string) result {
	t.Helper()
	return u.run(t, func(cmd *exec.Cmd) { cmd.Env = u.env(socket) }, filepath.Join(rootlessBin(t), "podprof"), args...)
}

// tempDir is a directory of the user's, removed after the test.
func (u testUser) tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp(u.home, "podprof-rootless-test-")
	if err == nil {
		err = os.Chown(dir, u.uid, u.gid)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// tracerService is a `podprof tracer` a test started.
type tracerService struct {
	socket string
	cmd    *exec.Cmd
	log    *lockedBuffer
}

// startTracerService starts `podprof tracer` as root on a socket of the
// test's, with extra flags, and stops it when the test ends; it fails the
// test if the service does not stop cleanly on SIGTERM.
func startTracerService(t *testing.T, flags ...string) *tracerService {
	t.Helper()
	dir, err := os.MkdirTemp("", "podprof-rootless-service-")
	if err == nil {
		err = os.Chmod(dir, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	s := &tracerService{socket: filepath.Join(dir, "tracer.sock"), log: &lockedBuffer{}}
	s.cmd = exec.Command(filepath.Join(rootlessBin(t), "podprof"), append([]string{"tracer", "--socket", s.socket}, flags...)...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- s.cmd.Wait() }()
	t.Cleanup(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("podprof tracer exited with %v on SIGTERM; its log:\n%s", err, s.log)
			}
		case <-time.After(20 * time.Second):
			s.cmd.Process.Kill()
			t.Errorf("podprof tracer still runs 20s after SIGTERM; its log:\n%s", s.log)
		}
		if _, err := os.Lstat(s.socket); err == nil {
			t.Errorf("podprof tracer left its socket %s", s.socket)
		}
		os.RemoveAll(dir)
		t.Logf("podprof tracer's log:\n%s", s.log)
	})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if strings.Contains(s.log.String(), "serving on") {
			return s
		}
		select {
		case err := <-exited:
			t.Fatalf("podprof tracer exited (%v) before serving:\n%s", err, s.log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("podprof tracer did not serve within 20s:\n%s", s.log)
		}
	}
}

// ---- the raw client: this test binary, run as a test user ----

// rawClientEnv makes this test binary a raw client of the tracer service
// (see rawClient) instead of running tests: the attacks that podprof's own
// clients would refuse before asking.
const rawClientEnv = "PODPROF_TEST_RAW_CLIENT"

func init() {
	if os.Getenv(rawClientEnv) != "" {
		os.Exit(rawClient())
	}
}

// rawClient opens PODPROF_TEST_COPIES connections at once to the service,
// sends PODPROF_TEST_REQUEST on each, and prints every line each gets, as
// "INDEX LINE", until the service closes it or, with PODPROF_TEST_HOLD=1,
// until its stdin ends; it prints "INDEX EOF" when a connection ended.
func rawClient() int {
	copies, _ := strconv.Atoi(os.Getenv("PODPROF_TEST_COPIES"))
	copies = max(copies, 1)
	request := os.Getenv("PODPROF_TEST_REQUEST")
	var out sync.Mutex
	var wg sync.WaitGroup
	var conns []net.Conn
	for i := range copies {
		conn, err := net.Dial("unix", hook.ServiceSocket())
		if err != nil {
			fmt.Printf("%d dial error: %v\n", i, err)
			continue
		}
		conns = append(conns, conn)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fmt.Fprintln(conn, request)
			lines := bufio.NewScanner(conn)
			lines.Buffer(nil, 64<<20)
			for lines.Scan() {
				out.Lock()
				fmt.Printf("%d %s\n", i, lines.Text())
				out.Unlock()
			}
			out.Lock()
			fmt.Printf("%d EOF\n", i)
			out.Unlock()
		}()
	}
	if os.Getenv("PODPROF_TEST_HOLD") == "1" {
		// Until the test closes our stdin, then every connection.
		os.Stdin.Read(make([]byte, 1))
		for _, conn := range conns {
			conn.Close()
		}
	}
	wg.Wait()
	return 0
}

// rawReplies are what a raw client printed, by connection.
type rawReplies map[int][]string

func parseRaw(t *testing.T, stdout string) rawReplies {
	t.Helper()
	replies := rawReplies{}
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		index, text, ok := strings.Cut(line, " ")
		i, err := strconv.Atoi(index)
		if !ok || err != nil {
			t.Fatalf("raw client printed %q", line)
		}
		replies[i] = append(replies[i], text)
	}
	return replies
}

// firstReply is the service's first answer on a connection: "" for ok,
// else its error.
func firstReply(t *testing.T, lines []string) string {
	t.Helper()
	if len(lines) == 0 || lines[0] == "EOF" {
		t.Fatalf("the service answered nothing: %q", lines)
	}
	var reply struct{ Error string }
	if err := json.Unmarshal([]byte(lines[0]), &reply); err != nil {
		return lines[0] // a dial error
	}
	return reply.Error
}

// rawRequest runs the raw client as the user with the request sent on
// copies connections; hold keeps them open until release is called.
func (u testUser) rawRequest(t *testing.T, socket string, request any, copies int, hold bool) (output func() string, release func()) {
	t.Helper()
	data, err := json.Marshal(request)
	if err != nil {
		t.Fatal(err)
	}
	cmd := u.command(socket, filepath.Join(rootlessBin(t), "podprof-raw-test-client"))
	cmd.Env = append(cmd.Env, rawClientEnv+"=1", "PODPROF_TEST_REQUEST="+string(data), "PODPROF_TEST_COPIES="+strconv.Itoa(copies))
	if hold {
		cmd.Env = append(cmd.Env, "PODPROF_TEST_HOLD=1")
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	r := start(t, nil, cmd)
	return func() string { return r.wait(t).stdout }, func() { stdin.Close() }
}

// serviceStatus is what the service holds for the user, asked as the user.
func (u testUser) serviceStatus(t *testing.T, socket string) tracerd.ServiceStatus {
	t.Helper()
	output, _ := u.rawRequest(t, socket, map[string]bool{"status": true}, 1, false)
	lines := parseRaw(t, output())[0]
	if msg := firstReply(t, lines); msg != "" || len(lines) < 2 {
		t.Fatalf("status as %s: %q", u.name, lines)
	}
	var st tracerd.ServiceStatus
	if err := json.Unmarshal([]byte(lines[1]), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// ---- leaks ----

// requireNoRootlessLeaks waits up to 20s for each user to hold nothing
// more of the service than the status request itself, to run no podprof
// process (a collector, podprof-podman, a service's keeper), no podman
// system service and no container labelled rootlessLabel, and to have no
// podprof run temporary directory or kept service's directory: one idle
// time after its last run.
func requireNoRootlessLeaks(t *testing.T, socket string, users ...testUser) {
	t.Helper()
	bin := rootlessBin(t)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var leaks []string
		for _, u := range users {
			if st := u.serviceStatus(t, socket); st.Watches != 0 || st.Connections != 1 {
				leaks = append(leaks, fmt.Sprintf("%s holds %d watches and %d other connections of the service", u.name, st.Watches, st.Connections-1))
			}
			for _, p := range scanProcs() {
				if uid, err := processUID(p.pid); err != nil || uid != u.uid {
					continue
				}
				exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", p.pid))
				cmdline := strings.Join(p.args, " ")
				if strings.HasPrefix(exe, bin+"/") || strings.Contains(cmdline, "system service") {
					leaks = append(leaks, fmt.Sprintf("%s runs %d %q", u.name, p.pid, cmdline))
				}
			}
			if ids := strings.Fields(u.run(t, nil, "podman", "ps", "-a", "-q", "--filter", "label="+rootlessLabel).stdout); len(ids) > 0 {
				leaks = append(leaks, fmt.Sprintf("%s has containers %q", u.name, ids))
			}
			dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), podmancmd.TempDirPrefix+"*"))
			// Its kept services' (RuntimeDir without XDG_RUNTIME_DIR).
			kept, _ := filepath.Glob(filepath.Join(os.TempDir(), fmt.Sprintf("podprof-%d", u.uid), podmancmd.ServiceDirPrefix+"*"))
			for _, dir := range append(dirs, kept...) {
				if st, err := os.Stat(dir); err == nil && int(st.Sys().(*syscall.Stat_t).Uid) == u.uid {
					leaks = append(leaks, fmt.Sprintf("%s left %s", u.name, dir))
				}
			}
		}
		if len(leaks) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("rootless runs left, 20s after the test:\n  %s", strings.Join(leaks, "\n  "))
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func processUID(pid int) (int, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(fmt.Sprintf("/proc/%d", pid), &st); err != nil {
		return 0, err
	}
	return int(st.Uid), nil
}

// ---- rootless podprof run and hook ----

// TestRootlessRunProfilesDemo: podprof run as a user without root profiles
// the demo workload as root's does, the profile is the user's, and the
// default profile directory is the user's own.
func TestRootlessRunProfilesDemo(t *testing.T) {
	a := requireRootlessUser(t, rootlessA, demoImage, busyboxImage)
	service := startTracerService(t)
	lc := checkLeaks(t)
	dir := a.tempDir(t)
	out := filepath.Join(dir, "profile.json")
	r := a.podprof(t, service.socket, "run", "--rm", "--label", rootlessLabel, "--podprof-output="+out, demoImage, "/bin/sh", "-c", "date; cat /etc/os-release")
	if r.code != 0 || !strings.Contains(r.stdout, "Debian GNU/Linux 12") {
		t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	p := readProfile(t, out)
	paths := filesByPath(p)
	for _, want := range []string{
		"/usr/bin/dash", "/usr/bin/date", "/usr/bin/cat", "/usr/lib/os-release",
		"/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "/usr/lib/x86_64-linux-gnu/libc.so.6",
	} {
		if _, ok := paths[want]; !ok {
			t.Errorf("profile misses %s", want)
		}
	}
	if !paths["/usr/bin/dash"].Exec {
		t.Errorf("/usr/bin/dash not marked exec")
	}
	for path := range paths {
		for _, bad := range []string{"/.local/share/containers", "overlay", "merged", "/run/runc", "exec.fifo", "/proc/1/"} {
			if strings.Contains(path, bad) {
				t.Errorf("profile holds a runtime or host path: %q", path)
			}
		}
	}
	id := strings.TrimSpace(a.run(t, nil, "podman", "image", "inspect", "--format", "{{.Id}}", demoImage).stdout)
	if p.Image.ID != id || p.Image.Name != demoImage {
		t.Errorf("profile image %+v, the user's podman says %s %s", p.Image, demoImage, id)
	}
	if p.Container.ID == "" || p.Tracer == "" || p.Kernel == "" || p.LostEvents != 0 || p.Run == nil {
		t.Errorf("profile lacks its container, tracer, kernel or run record, or lost events: %+v", p)
	}
	if st, err := os.Stat(out); err != nil || int(st.Sys().(*syscall.Stat_t).Uid) != a.uid {
		t.Errorf("the profile is not the user's: %v %+v", err, st)
	}

	// The summary, by default into the user's own directory.
	r = a.podprof(t, service.socket, "run", "--rm", "--label", rootlessLabel, "--podprof-summary=always", busyboxImage, "cat", "/etc/passwd")
	if r.code != 0 || !strings.Contains(r.stderr, "used") {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	saved, _ := filepath.Glob(filepath.Join(a.home, ".local/share/podprof/profiles/busybox-latest-*.json"))
	if len(saved) == 0 || !strings.Contains(r.stderr, "profile: "+filepath.Join(a.home, ".local/share/podprof/profiles")) {
		t.Errorf("the default profile is not in the user's ~/.local/share/podprof/profiles: %q\n%s", saved, r.stderr)
	}
	for _, path := range saved {
		os.Remove(path)
	}
	requireNoRootlessLeaks(t, service.socket, a)
	lc.verify()
}

// writeRootlessHook writes the hooks dir a user's plain podman is given:
// the hook of contrib/hooks.d with the copied podprof and the service's
// socket.
func writeRootlessHook(t *testing.T, socket string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "podprof-rootless-hooks-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	hook := map[string]any{
		"version": "1.0.0",
		"hook": map[string]any{"path": filepath.Join(rootlessBin(t), podmancmd.HookExecutable), "args": []string{podmancmd.HookExecutable},
			"env": []string{hook.ServiceSocketEnv + "=" + socket}},
		"when":   map[string]any{"annotations": map[string]string{`^io\.podprof\.profile$`: ".+"}},
		"stages": []string{"prestart"},
	}
	data, _ := json.Marshal(hook)
	if err := os.WriteFile(filepath.Join(dir, "podprof.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// waitForFile waits up to 20s for path: the hook's collector writes the
// profile once the container's init has exited, after podman returned.
func waitForFile(t *testing.T, path string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not written within 20s", path)
		}
	}
}

// TestRootlessHook: the standalone hook under the user's plain rootless
// podman: the profile of the annotation, the seccomp profile too, both
// written by the user.
func TestRootlessHook(t *testing.T) {
	a := requireRootlessUser(t, rootlessA, busyboxImage)
	service := startTracerService(t)
	hooks := writeRootlessHook(t, service.socket)
	dir := a.tempDir(t)
	out, sec := filepath.Join(dir, "hook.json"), filepath.Join(dir, "seccomp.json")
	r := a.run(t, nil, "podman", "--hooks-dir", hooks, "run", "--rm", "--label", rootlessLabel,
		"--annotation", hook.ProfileAnnotation+"="+out, "--annotation", tracerd.SeccompAnnotation+"="+sec,
		busyboxImage, "sh", "-c", "cat /etc/passwd >/dev/null; echo ran")
	if r.code != 0 || r.stdout != "ran\n" {
		t.Fatalf("exit %d, stdout %q, stderr:\n%s", r.code, r.stdout, r.stderr)
	}
	waitForFile(t, out)
	p := readProfile(t, out)
	if f, ok := filesByPath(p)["/etc/passwd"]; !ok || !f.Read {
		t.Errorf("the hook's profile misses /etc/passwd read: %+v", p.Files)
	}
	if !filesByPath(p)["/bin/busybox"].Exec || p.Image.Name != busyboxImage {
		t.Errorf("the hook's profile misses /bin/busybox exec'd or its image: %+v", p)
	}
	waitForFile(t, sec)
	for _, path := range []string{out, sec} {
		if st, err := os.Stat(path); err != nil || int(st.Sys().(*syscall.Stat_t).Uid) != a.uid {
			t.Errorf("%s is not the user's: %v", path, err)
		}
	}
	requireNoRootlessLeaks(t, service.socket, a)
}

// TestRootlessNoService: without a tracer service, a rootless podprof run
// and hook say how to start one; with --podprof-untraceable=run the
// container runs untraced.
func TestRootlessNoService(t *testing.T) {
	a := requireRootlessUser(t, rootlessA, busyboxImage)
	dir := a.tempDir(t)
	missing := filepath.Join(a.tempDir(t), "no-service.sock")
	out := filepath.Join(dir, "p.json")
	r := a.podprof(t, missing, "run", "--rm", "--label", rootlessLabel, "--podprof-output="+out, busyboxImage, "echo", "ran")
	requireOneLineError(t, r, 125, "no podprof tracer service listens on "+missing, "podprof tracer")
	r = a.podprof(t, missing, "run", "--rm", "--label", rootlessLabel, "--podprof-untraceable=run", "--podprof-output="+out, busyboxImage, "echo", "ran")
	if r.code != 0 || r.stdout != "ran\n" || !strings.HasPrefix(r.stderr, "podprof: not tracing: no podprof tracer service") {
		t.Errorf("untraceable=run: want the container's output and a one-line warning; got %+v", r)
	}
	hooks := writeRootlessHook(t, missing)
	r = a.run(t, nil, "podman", "--hooks-dir", hooks, "run", "--rm", "--label", rootlessLabel,
		"--annotation", hook.ProfileAnnotation+"="+out, busyboxImage, "echo", "ran")
	if r.code == 0 || r.stdout != "" || !strings.Contains(r.stderr, "no podprof tracer service listens on "+missing) {
		t.Errorf("the hook without a service: want the container refused and why; got %+v", r)
	}
	requireUnchanged(t, dir, nil)
}

// ---- security ----

// userProcess starts, as the user, a process in a user and mount
// namespace of its own (a container as the kernel sees one) and returns
// its pid, and how to end it (killed, reaped); it ends with the test.
func (u testUser) userProcess(t *testing.T) (int, func()) {
	t.Helper()
	cmd := u.command("", "unshare", "--user", "--map-root-user", "--mount", "sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop := sync.OnceFunc(func() { cmd.Process.Kill(); cmd.Wait() })
	t.Cleanup(stop)
	// unshare execs sleep once the namespaces exist.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", cmd.Process.Pid)); string(comm) == "sleep\n" {
			return cmd.Process.Pid, stop
		}
		if time.Now().After(deadline) {
			t.Fatal("unshare did not exec sleep within 10s")
		}
	}
}

// rootlessContainer starts a detached container of the user's that
// sleeps, and returns the pid of its init.
func (u testUser) rootlessContainer(t *testing.T) int {
	t.Helper()
	r := u.run(t, nil, "podman", "run", "-d", "--label", rootlessLabel, busyboxImage, "sleep", "600")
	if r.code != 0 {
		t.Fatalf("%s's podman run -d: %+v", u.name, r)
	}
	id := strings.TrimSpace(r.stdout)
	t.Cleanup(func() { u.run(t, nil, "podman", "rm", "-f", "-t", "0", id) })
	pid, err := strconv.Atoi(strings.TrimSpace(u.run(t, nil, "podman", "inspect", "--format", "{{.State.Pid}}", id).stdout))
	if err != nil || pid <= 0 {
		t.Fatalf("the pid of %s's container: %v", u.name, err)
	}
	return pid
}

// hookWith runs `podprof hook` as the user with a forged OCI state: the
// standalone hook's entry point, given what a hostile user chooses.
func (u testUser) hookWith(t *testing.T, socket string, pid int, profile string) result {
	t.Helper()
	state, _ := json.Marshal(rspec.State{Version: rspec.Version, ID: "podprof-rootless-forged", Pid: pid, Status: "created",
		Bundle: u.home, Annotations: map[string]string{hook.ProfileAnnotation: profile}})
	return u.run(t, func(cmd *exec.Cmd) {
		cmd.Env = u.env(socket)
		cmd.Stdin = strings.NewReader(string(state))
	}, filepath.Join(rootlessBin(t), "podprof"), "hook")
}

// requireRefusedHook checks a refused hook: exit 1, one line saying each
// of what, and nothing written in dir.
func requireRefusedHook(t *testing.T, r result, dir string, what ...string) {
	t.Helper()
	msg := strings.TrimSpace(r.stderr)
	if r.code != 1 || strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "podprof hook: ") {
		t.Errorf("want the hook refused in one line, exit 1; got %+v", r)
	}
	for _, w := range what {
		if !strings.Contains(msg, w) {
			t.Errorf("the refusal does not say %q: %s", w, msg)
		}
	}
	requireTerminalSafe(t, "stderr", r.stderr)
	time.Sleep(500 * time.Millisecond) // a collector would have started by now
	requireUnchanged(t, dir, nil)
}

// rootContainerPid is the pid of the container root's podman run -d
// printed the id of; the container is removed when the test ends.
func rootContainerPid(t *testing.T, runOutput string) int {
	t.Helper()
	id := strings.TrimSpace(runOutput)
	t.Cleanup(func() {
		if r := runCmd(t, "podman", "rm", "-f", "-t", "0", id); r.code != 0 {
			t.Errorf("podman rm -f %s: exit %d: %s", id, r.code, r.stderr)
		}
	})
	pid, err := strconv.Atoi(strings.TrimSpace(runCmd(t, "podman", "inspect", "--format", "{{.State.Pid}}", id).stdout))
	if err != nil || pid <= 0 {
		t.Fatalf("podman inspect %s: no pid (%v)", id, err)
	}
	return pid
}

// TestRootlessSecurity: each attack is refused with nothing written, the
// service keeps serving, and nothing leaks. The table of the closing note
// is these subtests.
func TestRootlessSecurity(t *testing.T) {
	a := requireRootlessUser(t, rootlessA, busyboxImage)
	b := requireRootlessUser(t, rootlessB, busyboxImage)
	requireImage(t, busyboxImage)
	service := startTracerService(t)
	lc := checkLeaks(t)

	t.Run("user B watches user A's container", func(t *testing.T) {
		pid := a.rootlessContainer(t)
		dir := b.tempDir(t)
		r := b.hookWith(t, service.socket, pid, filepath.Join(dir, "stolen.json"))
		requireRefusedHook(t, r, dir, "not permitted", fmt.Sprintf("process %d is in a user namespace of uid %d, not of uid %d", pid, a.uid, b.uid))
	})
	t.Run("user watches a root container", func(t *testing.T) {
		r := runCmd(t, "podman", "run", "-d", "--label", rootlessLabel, busyboxImage, "sleep", "600")
		if r.code != 0 {
			t.Fatalf("root's podman run -d: %+v", r)
		}
		pid := rootContainerPid(t, r.stdout)
		dir := a.tempDir(t)
		r = a.hookWith(t, service.socket, pid, filepath.Join(dir, "root.json"))
		requireRefusedHook(t, r, dir, "not permitted", fmt.Sprintf("process %d is not in a user namespace of uid %d", pid, a.uid))
		// Even one that runs as the user's uid: it is root's container.
		r = runCmd(t, "podman", "run", "-d", "--label", rootlessLabel, "--user", strconv.Itoa(a.uid), busyboxImage, "sleep", "600")
		if r.code != 0 {
			t.Fatalf("root's podman run -d --user: %+v", r)
		}
		pid = rootContainerPid(t, r.stdout)
		r = a.hookWith(t, service.socket, pid, filepath.Join(dir, "root.json"))
		requireRefusedHook(t, r, dir, "not permitted", "in the host's")
	})
	t.Run("forged pids", func(t *testing.T) {
		dir := a.tempDir(t)
		for _, c := range []struct {
			pid  int
			says string
		}{
			{1, "not permitted"}, // its namespaces may be closed even to root
			{os.Getpid(), "is not in a user namespace of uid"},
			{0, "has no pid"},
			{-5, "has no pid"},
			{1 << 30, "no process 1073741824"},
		} {
			requireRefusedHook(t, a.hookWith(t, service.socket, c.pid, filepath.Join(dir, "forged.json")), dir, c.says)
		}
		// The user's own process outside any container.
		sleeper := a.command("", "sleep", "600")
		if err := sleeper.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sleeper.Process.Kill(); sleeper.Wait() })
		requireRefusedHook(t, a.hookWith(t, service.socket, sleeper.Process.Pid, filepath.Join(dir, "forged.json")), dir, "in the host's")
	})
	t.Run("pid that exits and is reused by root", func(t *testing.T) {
		dir := a.tempDir(t)
		pid := reusedByRoot(t, a)
		r := a.hookWith(t, service.socket, pid, filepath.Join(dir, "reused.json"))
		requireRefusedHook(t, r, dir, "not permitted", fmt.Sprintf("process %d is not in a user namespace of uid %d", pid, a.uid))
	})
	t.Run("profile path the user cannot write", func(t *testing.T) {
		forbidden := "/etc/podprof-rootless-test.json"
		os.Remove(forbidden)
		etcBefore := listDir(t, "/etc")
		// podprof run.
		r := a.podprof(t, service.socket, "run", "--rm", "--label", rootlessLabel, "--podprof-output="+forbidden, busyboxImage, "echo", "ran")
		requireOneLineError(t, r, 125, "can't write profile path", forbidden, "permission denied")
		// The seccomp profile of podprof run.
		r = a.podprof(t, service.socket, "run", "--rm", "--label", rootlessLabel, "--podprof-seccomp="+forbidden, busyboxImage, "echo", "ran")
		requireOneLineError(t, r, 125, forbidden)
		// The hook under the user's plain podman: the container does not start.
		hooks := writeRootlessHook(t, service.socket)
		r = a.run(t, nil, "podman", "--hooks-dir", hooks, "run", "--rm", "--label", rootlessLabel,
			"--annotation", hook.ProfileAnnotation+"="+forbidden, busyboxImage, "echo", "ran")
		if r.code == 0 || r.stdout != "" || !strings.Contains(r.stderr, "can't write profile path") {
			t.Errorf("the hook with %s: want the container refused and why; got %+v", forbidden, r)
		}
		// A raw request that skips the client's check: the service watches
		// the user's own container and sends the records, never opening
		// the path.
		pid, stop := a.userProcess(t)
		output, release := a.rawRequest(t, service.socket, hook.Request{Watch: &rspec.State{Pid: pid,
			Annotations: map[string]string{hook.ProfileAnnotation: forbidden, tracerd.SeccompAnnotation: forbidden}}}, 1, true)
		time.Sleep(time.Second)
		stop()
		time.Sleep(time.Second)
		release()
		lines := parseRaw(t, output())[0]
		if firstReply(t, lines) != "" || len(lines) < 2 || !strings.Contains(lines[1], `"records"`) {
			t.Errorf("the raw watch of the user's own process: want it served and its records sent; got %q", lines)
		}
		requireUnchanged(t, "/etc", etcBefore)
	})
	t.Run("1000 watch requests from one user", func(t *testing.T) {
		limits := tracerd.DefaultUserLimits
		var pids []int
		for range limits.Containers + 4 {
			pid, _ := a.userProcess(t)
			pids = append(pids, pid)
		}
		rssBefore := processRSS(t, service.cmd.Process.Pid)
		// 1,000 connections at once, held: each asks to watch one of the
		// user's own processes.
		var outputs []func() string
		var releases []func()
		for i := range 10 {
			output, release := a.rawRequest(t, service.socket, hook.Request{Watch: &rspec.State{Pid: pids[i%len(pids)],
				Annotations: map[string]string{hook.ProfileAnnotation: "/x.json"}}}, 100, true)
			outputs, releases = append(outputs, output), append(releases, release)
		}
		time.Sleep(3 * time.Second)
		// Meanwhile another user is served.
		bPid, _ := b.userProcess(t)
		bOutput, bRelease := b.rawRequest(t, service.socket, hook.Request{Watch: &rspec.State{Pid: bPid,
			Annotations: map[string]string{hook.ProfileAnnotation: "/x.json"}}}, 1, true)
		time.Sleep(time.Second)
		st := a.serviceStatus(t, service.socket)
		rss := processRSS(t, service.cmd.Process.Pid)
		bRelease()
		if msg := firstReply(t, parseRaw(t, bOutput())[0]); msg != "" {
			t.Errorf("user B was not served while user A flooded the service: %s", msg)
		}
		for _, release := range releases {
			release()
		}
		served, refusals := 0, map[string]int{}
		for _, output := range outputs {
			for _, lines := range parseRaw(t, output()) {
				if msg := firstReply(t, lines); msg == "" {
					served++
				} else {
					refusals[refusalKind(msg)]++
				}
			}
		}
		t.Logf("served %d, refused %v; the service held %d watches and %d connections of user A, RSS %d -> %d kB",
			served, refusals, st.Watches, st.Connections, rssBefore, rss)
		if served > limits.Containers || st.Watches > limits.Containers || st.Connections > limits.Connections {
			t.Errorf("user A got past its limits: %d served, status %+v, limits %+v", served, st, limits)
		}
		if served == 0 || refusals["too many connections"] == 0 || served+sumCounts(refusals) != 1000 {
			t.Errorf("want some of the 1,000 served, the others refused for the limits: served %d, refused %v", served, refusals)
		}
		if rss-rssBefore > 64<<10 {
			t.Errorf("the service grew by %d kB under one user's 1,000 requests", rss-rssBefore)
		}
	})
	requireNoRootlessLeaks(t, service.socket, a, b)
	lc.verify()
	if strings.Contains(service.log.String(), "panic") {
		t.Errorf("the service panicked:\n%s", service.log)
	}
}

// reusedByRoot makes a pid the user's process had, once that process has
// exited, the pid of a root process in a mount namespace of its own (as
// a root container's init), and returns it; the root process is killed
// when the test ends.
func reusedByRoot(t *testing.T, u testUser) int {
	t.Helper()
	for attempt := 0; attempt < 20; attempt++ {
		pid, stop := u.userProcess(t)
		stop()
		// The next pid the kernel hands out is ns_last_pid + 1.
		if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(strconv.Itoa(pid-1)), 0); err != nil {
			t.Fatalf("steering pid reuse: %v", err)
		}
		root := exec.Command("unshare", "--mount", "sleep", "600")
		if err := root.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { root.Process.Kill(); root.Wait() })
		if root.Process.Pid == pid {
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); string(comm) == "sleep\n" {
					return pid
				}
			}
			t.Fatal("unshare did not exec sleep within 10s")
		}
		root.Process.Kill() // another process took the pid first: again
	}
	t.Fatal("no root process got the user's old pid in 20 attempts")
	return 0
}

func refusalKind(msg string) string {
	for _, kind := range []string{"too many connections", "connections open", "containers traced", "already traced"} {
		if strings.Contains(msg, kind) {
			if kind == "connections open" {
				return "too many connections"
			}
			return kind
		}
	}
	return msg
}

func sumCounts(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// processRSS is a process's resident memory, in kB.
func processRSS(t *testing.T, pid int) int {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return kb
		}
	}
	t.Fatalf("no VmRSS for process %d", pid)
	return 0
}

// TestRootlessServiceSocketActivated: `podprof tracer` serves on the socket
// systemd passes (socket activation, as contrib/systemd's units start it),
// played by systemd-socket-activate; it leaves that socket to systemd.
func TestRootlessServiceSocketActivated(t *testing.T) {
	activate, err := exec.LookPath("systemd-socket-activate")
	if err != nil {
		t.Fatal("systemd-socket-activate is missing: install systemd (contrib/setup.sh)")
	}
	a := requireRootlessUser(t, rootlessA)
	dir, err := os.MkdirTemp("", "podprof-rootless-activated-")
	if err == nil {
		err = os.Chmod(dir, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	socket := filepath.Join(dir, "tracer.sock")
	log := &lockedBuffer{}
	// --accept=false: one service for every connection, as the unit's.
	cmd := exec.Command(activate, "--listen="+socket, filepath.Join(rootlessBin(t), "podprof"), "tracer")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Errorf("not stopped 20s after SIGTERM:\n%s", log)
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(socket); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("systemd-socket-activate made no socket within 10s:\n%s", log)
		}
	}
	if err := os.Chmod(socket, 0o666); err != nil { // the unit's SocketMode
		t.Fatal(err)
	}
	// The first connection starts the service, which answers it.
	if st := a.serviceStatus(t, socket); st.Mode == "" || st.Connections != 1 {
		t.Errorf("status from the socket-activated service: %+v\n%s", st, log)
	}
	if !strings.Contains(log.String(), "serving on") {
		t.Errorf("the service did not say it serves:\n%s", log)
	}
}

// TestRootlessFilesLimit: a user whose containers record more files than
// --max-files is traced no further, gets no profile and is told why; the
// service says so in its log.
func TestRootlessFilesLimit(t *testing.T) {
	a := requireRootlessUser(t, rootlessA, demoImage)
	service := startTracerService(t, "--max-files=50")
	dir := a.tempDir(t)
	out := filepath.Join(dir, "p.json")
	r := a.podprof(t, service.socket, "run", "--rm", "--label", rootlessLabel, "--podprof-output="+out, demoImage,
		"sh", "-c", "cat /usr/lib/x86_64-linux-gnu/*.so* /usr/share/doc/*/copyright >/dev/null; sleep 3")
	requireOneLineError(t, r, 125, "the tracer wrote no profile to "+out)
	if !strings.Contains(service.log.String(), "more than the 50 the podprof tracer holds for one user") {
		t.Errorf("the service did not log the limit:\n%s", service.log)
	}
	requireUnchanged(t, dir, nil)
	requireNoRootlessLeaks(t, service.socket, a)
}
