package run

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/podprof/podprof/podmancmd"
	"github.com/podprof/podprof/report"
	"github.com/podprof/podprof/tracerd/hook"
)

// Faults, load, hostile containers and bad input: podprof leaves the host
// as it found it, never loses a profile it promised, is never steered by
// what a container writes, and says what is wrong in one line. Every test
// here ends with a leak check (see leakCheck).

// faultsLabel marks the containers of these tests, so that a leftover is
// found whatever its name.
// testLabel marks the containers of the tests that count them: a leak
// check counts every container with the key, whatever its value.
const (
	testLabel   = "io.podprof.test"
	faultsLabel = testLabel + "=faults"
)

// podprofProgs are the names the kernel gives podprof's BPF programs: the
// function names, cut at 15 bytes.
var podprofProgs = map[string]bool{
	"sys_exit_open": true, "exec": true, "lsm_file_open": true, "fentry_file_ope": true, "report": true,
}

// hostState counts what podprof may leave behind. A tracer is this test
// run's when it runs the test's podprof binary: other users of the host
// (another checkout's tracer, the bpf package's tests loading programs in
// process) are not counted, except BPF objects that nobody holds, which
// are leaks whoever made them.
type hostState struct {
	Progs, Links             int // podprof's BPF programs and links that this run's tracers hold
	OrphanProgs, OrphanLinks int // podprof's BPF programs and links that no process holds
	Pinned                   int // entries under /sys/fs/bpf that were not there when the test began
	Services                 int // podman system services of the test's podprof runs, and their keepers
	TempDirs                 int // podprof run temporary dirs of the test's podprof runs, and their services' dirs
	Tracers                  int // tracer processes of this run's podprof
	Containers               int // containers labelled testLabel, of root's podman
}

func (s hostState) clean() bool { return s == hostState{} }

func (s hostState) String() string {
	return fmt.Sprintf("progs=%d links=%d orphan-progs=%d orphan-links=%d pinned=%d services=%d tempdirs=%d tracers=%d containers=%d",
		s.Progs, s.Links, s.OrphanProgs, s.OrphanLinks, s.Pinned, s.Services, s.TempDirs, s.Tracers, s.Containers)
}

// leakCheck snapshots the host when a test begins and, when it ends, waits
// a while for the host to be as clean as podprof must leave it: the tracer
// and the kept service exit one idle time (TestMain's) after the last run,
// a container that outlived its podprof run ends on its own.
type leakCheck struct {
	t      *testing.T
	pinned map[string]bool
	before hostState

	mu     sync.Mutex
	owners []int // pids of the test's podprof processes
	done   bool
}

func checkLeaks(t *testing.T) *leakCheck {
	t.Helper()
	lc := &leakCheck{t: t, pinned: pinnedBPF()}
	// What the tests before left lingering (a kept service, a tracer)
	// goes within one idle time: the test starts from a clean host.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		lc.before = lc.state()
		if lc.before.clean() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the host is not clean 20s before the test: %s", lc.before)
		}
	}
	t.Logf("host before: %s", lc.before)
	t.Cleanup(lc.verify)
	return lc
}

func (lc *leakCheck) own(pid int) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	lc.owners = append(lc.owners, pid)
}

// verify waits up to 20s for the host to be clean and fails the test if it
// is not; a test calls it itself to check what follows from a clean host.
func (lc *leakCheck) verify() {
	lc.t.Helper()
	if lc.done {
		return
	}
	lc.done = true
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := lc.state()
		if s.clean() {
			lc.t.Logf("host after:  %s", s)
			return
		}
		if time.Now().After(deadline) {
			lc.t.Errorf("podprof left the host unclean 20s after the test:\n  before: %s\n  after:  %s", lc.before, s)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (lc *leakCheck) state() hostState {
	lc.t.Helper()
	lc.mu.Lock()
	owners := slices.Clone(lc.owners)
	lc.mu.Unlock()
	var s hostState

	progs, links, err := podprofBPF()
	if err != nil {
		lc.t.Fatalf("listing BPF programs and links: %v", err)
	}
	procs := scanProcs()
	self, err := os.Stat(podprofBin)
	if err != nil {
		lc.t.Fatal(err)
	}
	heldBy := map[ebpf.ProgramID][]procInfo{}
	linkHeldBy := map[link.ID][]procInfo{}
	for _, p := range procs {
		for _, id := range p.progs {
			heldBy[ebpf.ProgramID(id)] = append(heldBy[ebpf.ProgramID(id)], p)
		}
		for _, id := range p.links {
			linkHeldBy[link.ID(id)] = append(linkHeldBy[link.ID(id)], p)
			if prog, ok := links[link.ID(id)]; ok {
				heldBy[prog] = append(heldBy[prog], p) // through the link
			}
		}
	}
	isTracer := func(p procInfo) bool {
		exe, err := os.Stat(fmt.Sprintf("/proc/%d/exe", p.pid))
		return err == nil && os.SameFile(exe, self) && len(p.args) >= 3 && p.args[1] == "hook" && p.args[2] == hook.DaemonArg
	}
	count := func(holders []procInfo, mine, orphans *int) {
		switch {
		case len(holders) == 0:
			*orphans++
		case slices.ContainsFunc(holders, isTracer):
			*mine++
		}
	}
	for id := range progs {
		count(heldBy[id], &s.Progs, &s.OrphanProgs)
	}
	for id := range links {
		count(linkHeldBy[id], &s.Links, &s.OrphanLinks)
	}
	for path := range pinnedBPF() {
		if !lc.pinned[path] {
			s.Pinned++
		}
	}
	services := keptServicesPrefix(lc.t)
	for _, p := range procs {
		if isTracer(p) {
			s.Tracers++
		}
		cmdline := strings.Join(p.args, " ")
		if strings.Contains(cmdline, services) {
			s.Services++ // a kept service or its keeper
			continue
		}
		if !strings.Contains(cmdline, "system service") {
			continue
		}
		for _, owner := range owners {
			if strings.Contains(cmdline, fmt.Sprintf("/%s%d-", podmancmd.TempDirPrefix, owner)) {
				s.Services++
			}
		}
	}
	for _, owner := range owners {
		dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), fmt.Sprintf("%s%d-*", podmancmd.TempDirPrefix, owner)))
		s.TempDirs += len(dirs)
	}
	dirs, _ := filepath.Glob(services + "*")
	s.TempDirs += len(dirs)
	out, err := exec.Command("podman", "ps", "-a", "-q", "--filter", "label="+testLabel).Output()
	if err != nil {
		lc.t.Fatalf("podman ps: %v", err)
	}
	s.Containers = len(strings.Fields(string(out)))
	return s
}

// podprofBPF lists the BPF programs with podprof's names, and the links to
// them with the program each holds, as bpftool prog list and link list do.
func podprofBPF() (map[ebpf.ProgramID]string, map[link.ID]ebpf.ProgramID, error) {
	progs := map[ebpf.ProgramID]string{}
	for id := ebpf.ProgramID(0); ; {
		next, err := ebpf.ProgramGetNextID(id)
		if errors.Is(err, os.ErrNotExist) {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		id = next
		prog, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue // unloaded meanwhile
		}
		info, err := prog.Info()
		prog.Close()
		if err == nil && podprofProgs[info.Name] {
			progs[id] = info.Name
		}
	}
	links := map[link.ID]ebpf.ProgramID{}
	var it link.Iterator
	defer it.Close()
	for it.Next() {
		if info, err := it.Link.Info(); err == nil {
			if _, ok := progs[info.Program]; ok {
				links[it.ID] = info.Program
			}
		}
	}
	return progs, links, it.Err()
}

// pinnedBPF lists what is pinned in the BPF file system. podprof pins
// nothing.
func pinnedBPF() map[string]bool {
	pinned := map[string]bool{}
	filepath.WalkDir("/sys/fs/bpf", func(path string, _ os.DirEntry, err error) error {
		if err == nil && path != "/sys/fs/bpf" {
			pinned[path] = true
		}
		return nil
	})
	return pinned
}

// procInfo is a live process: its arguments and the BPF programs and
// links it holds file descriptors of.
type procInfo struct {
	pid          int
	args         []string
	progs, links []uint32
}

func scanProcs() []procInfo {
	entries, _ := os.ReadDir("/proc")
	var procs []procInfo
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || len(cmdline) == 0 {
			continue // gone, a kernel thread or a zombie: it holds nothing
		}
		p := procInfo{pid: pid, args: strings.Split(strings.TrimSuffix(string(cmdline), "\x00"), "\x00")}
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		for _, fd := range fds {
			target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
			if err != nil || !strings.HasPrefix(target, "anon_inode:bpf") {
				continue
			}
			info, err := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%s", pid, fd.Name()))
			if err != nil {
				continue
			}
			switch target {
			case "anon_inode:bpf-prog":
				if id, ok := fdinfoField(info, "prog_id"); ok {
					p.progs = append(p.progs, id)
				}
			case "anon_inode:bpf_link":
				if id, ok := fdinfoField(info, "link_id"); ok {
					p.links = append(p.links, id)
				}
			}
		}
		procs = append(procs, p)
	}
	return procs
}

func fdinfoField(info []byte, name string) (uint32, bool) {
	for _, line := range strings.Split(string(info), "\n") {
		if value, ok := strings.CutPrefix(line, name+":"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(value), 10, 32)
			return uint32(n), err == nil
		}
	}
	return 0, false
}

// ---- running podprof in the background ----

// lockedBuffer is written by a running process and read by the test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type running struct {
	cmd            *exec.Cmd
	stdout, stderr *lockedBuffer
	exited         chan struct{}
	code           int
}

// start starts cmd (podprof, or podman to compare with) and, if lc is not
// nil, counts it among the test's podprof processes.
func start(t *testing.T, lc *leakCheck, cmd *exec.Cmd) *running {
	t.Helper()
	r := &running{cmd: cmd, stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = r.stdout, r.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", cmd.Path, err)
	}
	if lc != nil {
		lc.own(cmd.Process.Pid)
	}
	// A test that failed may leave its container running: remove it, so
	// that the next tests' leak checks judge them and not this one.
	t.Cleanup(func() {
		if t.Failed() {
			cmd.Process.Kill()
			exec.Command("podman", "rm", "-f", "-t", "0", "--filter", "label="+faultsLabel).Run()
		}
	})
	go func() {
		cmd.Wait()
		r.code = cmd.ProcessState.ExitCode()
		close(r.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-r.exited:
		default:
			cmd.Process.Kill()
			<-r.exited
		}
	})
	return r
}

func launch(t *testing.T, lc *leakCheck, args ...string) *running {
	t.Helper()
	return start(t, lc, exec.Command(podprofBin, args...))
}

// waitFor waits until the process has printed text on its stdout.
func (r *running) waitFor(t *testing.T, text string) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for !strings.Contains(r.stdout.String(), text) {
		select {
		case <-r.exited:
			if strings.Contains(r.stdout.String(), text) {
				return
			}
			t.Fatalf("%s exited %d before printing %q; stdout:\n%s\nstderr:\n%s", filepath.Base(r.cmd.Path), r.code, text, r.stdout, r.stderr)
		case <-deadline:
			t.Fatalf("did not print %q within 60s; stdout:\n%s\nstderr:\n%s", text, r.stdout, r.stderr)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (r *running) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := r.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("sending %v: %v", sig, err)
	}
}

func (r *running) wait(t *testing.T) result {
	t.Helper()
	select {
	case <-r.exited:
	case <-time.After(3 * time.Minute):
		r.cmd.Process.Kill()
		<-r.exited
		t.Fatalf("still running after 3 minutes; stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	return result{r.code, r.stdout.String(), r.stderr.String()}
}

// run runs podprof to its end, as podprof() does, counting it for lc.
func run(t *testing.T, lc *leakCheck, args ...string) result {
	t.Helper()
	return launch(t, lc, args...).wait(t)
}

// ---- checks shared by the tests ----

// requireOneLineError checks podprof's own error: one line, podman's
// "Error: " prefix, saying each of what, and nothing a terminal would
// interpret.
func requireOneLineError(t *testing.T, r result, code int, what ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit %d, want %d; stderr:\n%s", r.code, code, r.stderr)
	}
	msg := strings.TrimSuffix(r.stderr, "\n")
	if !strings.HasPrefix(msg, "Error: ") || strings.Contains(msg, "\n") {
		t.Errorf("want a one-line error, got:\n%s", r.stderr)
	}
	for _, w := range what {
		if !strings.Contains(msg, w) {
			t.Errorf("the error does not say %q:\n%s", w, msg)
		}
	}
	requireTerminalSafe(t, "stderr", r.stderr)
}

// requireTerminalSafe checks that text holds nothing a terminal would act
// on but newlines: no control characters (ESC, BEL, C1), no bidi or other
// format characters, no invalid UTF-8.
func requireTerminalSafe(t *testing.T, what, text string) {
	t.Helper()
	for i, r := range text {
		if r == utf8.RuneError && !strings.HasPrefix(text[i:], "\uFFFD") {
			t.Errorf("%s holds invalid UTF-8 at byte %d: %q", what, i, around(text, i))
			return
		}
		if r != '\n' && !unicode.IsPrint(r) {
			t.Errorf("%s holds %U at byte %d: %q", what, r, i, around(text, i))
			return
		}
	}
}

func around(s string, i int) string {
	return s[max(0, i-40):min(len(s), i+40)]
}

// requireUnchanged checks that a failed podprof left dir as it was: no
// profile, no temporary file.
func requireUnchanged(t *testing.T, dir string, before []string) {
	t.Helper()
	if after := listDir(t, dir); !slices.Equal(after, before) {
		t.Errorf("%s changed: %q, was %q", dir, after, before)
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		info, err := os.Lstat(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, fmt.Sprintf("%s %v %d", e.Name(), info.Mode(), info.Size()))
	}
	return names
}

func readProfile(t *testing.T, path string) *report.Profile {
	t.Helper()
	p, err := report.ReadProfile(path)
	if err != nil {
		t.Fatalf("the promised profile: %v", err)
	}
	return p
}

func filesByPath(p *report.Profile) map[string]report.File {
	m := make(map[string]report.File, len(p.Files))
	for _, f := range p.Files {
		m[f.Path] = f
	}
	return m
}

// ---- faults ----

// signalScript runs until signalled: each INT or TERM it gets is counted
// and echoed; on the last one wanted, it opens /etc/group (so that the
// profile proves tracing went on after the signals) and exits 128+signal.
func signalScript(ints, terms int) string {
	return fmt.Sprintf(`i=0; t=0
trap 'i=$((i+1)); echo "got INT $i"; [ $i -ge %d ] && { cat /etc/group >/dev/null; exit 130; }' INT
trap 't=$((t+1)); echo "got TERM $t"; [ $t -ge %d ] && { cat /etc/group >/dev/null; exit 143; }' TERM
echo ready
while :; do sleep 0.1; done`, ints, terms)
}

// signalled runs the script under podprof, or podman when lc is nil, and
// sends it sigs once it is ready, each after the container echoed the
// previous one.
func signalled(t *testing.T, lc *leakCheck, args []string, script string, sigs ...syscall.Signal) result {
	t.Helper()
	name := fmt.Sprintf("podprof-faults-signalled-%d-%d", os.Getpid(), time.Now().UnixNano())
	args = append(append([]string{"run", "--rm", "--name", name, "--label", faultsLabel}, args...), busyboxImage, "sh", "-c", script)
	var r *running
	if lc == nil {
		r = start(t, nil, exec.Command("podman", args...))
	} else {
		r = launch(t, lc, args...)
	}
	r.waitFor(t, "ready\n")
	// The container runs before podman marks it running, once the
	// runtime's start returns: a signal in between finds it "created",
	// and podman's proxy, which can't forward it, raises it on podman
	// itself (podman's race, with or without podprof).
	waitRunning(t, name)
	counts := map[syscall.Signal]int{}
	for _, sig := range sigs {
		r.signal(t, sig)
		counts[sig]++
		name := map[syscall.Signal]string{syscall.SIGINT: "INT", syscall.SIGTERM: "TERM"}[sig]
		r.waitFor(t, fmt.Sprintf("got %s %d\n", name, counts[sig]))
	}
	return r.wait(t)
}

// waitRunning waits until podman says the container is running.
func waitRunning(t *testing.T, name string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := runCmd(t, "podman", "container", "inspect", "--format", "{{.State.Status}}", name)
		if strings.TrimSpace(r.stdout) == "running" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s is not running 30s after it printed ready: %s%s", name, r.stdout, r.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFaultCtrlC: Ctrl-C reaches the container as with podman, whose exit
// code is podprof's; the profile is written and the summary printed. Both
// ways podprof runs a container are tried: through its service, and
// through podman itself (--env-host, which no service can do).
func TestFaultCtrlC(t *testing.T) {
	requireImage(t, busyboxImage)
	for _, tc := range []struct {
		name   string
		args   []string
		script string
		sigs   []syscall.Signal
		code   int
	}{
		{"once", nil, signalScript(1, 1), []syscall.Signal{syscall.SIGINT}, 130},
		{"twice", nil, signalScript(2, 1), []syscall.Signal{syscall.SIGINT, syscall.SIGINT}, 130},
		{"SIGTERM", nil, signalScript(1, 1), []syscall.Signal{syscall.SIGTERM}, 143},
		{"local podman once", []string{"--env-host"}, signalScript(1, 1), []syscall.Signal{syscall.SIGINT}, 130},
		{"local podman SIGTERM", []string{"--env-host"}, signalScript(1, 1), []syscall.Signal{syscall.SIGTERM}, 143},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lc := checkLeaks(t)
			out := filepath.Join(t.TempDir(), "p.json")
			r := signalled(t, lc, append([]string{"--podprof-output=" + out, "--podprof-summary=always"}, tc.args...), tc.script, tc.sigs...)
			want := signalled(t, nil, tc.args, tc.script, tc.sigs...)
			if r.code != tc.code || want.code != tc.code || r.stdout != want.stdout {
				t.Errorf("podprof: exit %d, stdout %q; podman: exit %d, stdout %q; want exit %d",
					r.code, r.stdout, want.code, want.stdout, tc.code)
			}
			p := readProfile(t, out)
			if !hasPath(p, "/etc/group") || !hasPath(p, "/bin/busybox") {
				t.Errorf("the profile misses what the container opened around the signal: %v", filesByPath(p))
			}
			if !strings.HasPrefix(r.stderr, "podprof: "+busyboxImage) || !strings.Contains(r.stderr, "profile: "+out) {
				t.Errorf("no summary on stderr:\n%s", r.stderr)
			}
		})
	}
}

// TestFaultSIGKILL: podprof killed mid-run can't clean up. Its service
// goes with it (parent death signal), the container runs on, and the
// tracer still writes the profile when the container ends; the next
// podprof run removes the dead one's temporary directory.
func TestFaultSIGKILL(t *testing.T) {
	requireImage(t, busyboxImage)
	lc := checkLeaks(t)
	out := filepath.Join(t.TempDir(), "p.json")
	r := launch(t, lc, "run", "--rm", "--label", faultsLabel, "--podprof-output="+out, busyboxImage,
		"sh", "-c", "echo ready; sleep 2; cat /etc/group >/dev/null")
	r.waitFor(t, "ready\n")
	r.signal(t, syscall.SIGKILL)
	r.wait(t)
	// While the container runs on, the leak check sees it and its tracer:
	// proof that it would see them left behind.
	during := lc.state()
	t.Logf("host while the container outlives podprof: %s", during)
	if during.Tracers != 1 || during.Progs == 0 || during.Links == 0 || during.Containers != 1 {
		t.Errorf("the leak check does not see the running container and its tracer: %s", during)
	}
	p := waitProfile(t, out)
	if !hasPath(p, "/etc/group") {
		t.Errorf("the profile misses /etc/group, opened after podprof was killed")
	}
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), fmt.Sprintf("%s%d-*", podmancmd.TempDirPrefix, r.cmd.Process.Pid)))
	// Another podprof run on this host may have removed it already.
	if len(dirs) > 1 {
		t.Errorf("the killed podprof left %d temporary dirs: %q", len(dirs), dirs)
	}
	if next := run(t, lc, "run", "--rm", "--label", faultsLabel, "--podprof-output="+out+".next", busyboxImage, "true"); next.code != 0 {
		t.Errorf("the next run: exit %d: %s", next.code, next.stderr)
	}
}

// TestFaultPodmanKill: a container killed from outside ends podprof with
// its exit code, and its profile.
func TestFaultPodmanKill(t *testing.T) {
	requireImage(t, busyboxImage)
	lc := checkLeaks(t)
	out := filepath.Join(t.TempDir(), "p.json")
	name := fmt.Sprintf("podprof-faults-kill-%d", os.Getpid())
	r := launch(t, lc, "run", "--rm", "--name", name, "--label", faultsLabel, "--podprof-output="+out, busyboxImage,
		"sh", "-c", "cat /etc/group >/dev/null; echo ready; while :; do sleep 0.1; done")
	r.waitFor(t, "ready\n")
	if k := runCmd(t, "podman", "kill", name); k.code != 0 {
		t.Fatalf("podman kill: %s", k.stderr)
	}
	res := r.wait(t)
	if res.code != 137 {
		t.Errorf("exit %d, want 137 (SIGKILL); stderr:\n%s", res.code, res.stderr)
	}
	if p := readProfile(t, out); !hasPath(p, "/etc/group") {
		t.Errorf("the profile misses /etc/group")
	}
}

// TestFaultOOMKill: a container the kernel kills for its memory limit.
func TestFaultOOMKill(t *testing.T) {
	requireImage(t, busyboxImage)
	lc := checkLeaks(t)
	out := filepath.Join(t.TempDir(), "p.json")
	name := fmt.Sprintf("podprof-faults-oom-%d", os.Getpid())
	t.Cleanup(func() { runCmd(t, "podman", "rm", "-f", name) })
	// The shell keeps 100 MB of output in a variable: over 16 MB, the
	// kernel kills it.
	cmd := exec.Command(podprofBin, "run", "--name", name, "--label", faultsLabel, "--memory", "16m", "--memory-swap", "16m",
		"--podprof-output="+out, busyboxImage,
		"sh", "-c", `cat /etc/group >/dev/null; x=$(head -c 100000000 /dev/zero | tr "\0" a); echo survived`)
	// conmon 2.1 (podman 4) writes a file "oom" in its working directory,
	// which is podprof's, as under plain podman.
	cmd.Dir = t.TempDir()
	r := start(t, lc, cmd).wait(t)
	if r.code != 137 || strings.Contains(r.stdout, "survived") {
		t.Errorf("exit %d, stdout %q: want 137, killed; stderr:\n%s", r.code, r.stdout, r.stderr)
	}
	id := strings.TrimSpace(runCmd(t, "podman", "inspect", "--format", "{{.Id}}", name).stdout)
	if !oomKilled(t, name, id) {
		t.Errorf("container %s was not killed by the OOM killer", id)
	}
	p := readProfile(t, out)
	if p.Container.ID != id || !hasPath(p, "/etc/group") || !hasPath(p, "/bin/busybox") {
		t.Errorf("the profile misses the container's files: %+v", p)
	}
	runCmd(t, "podman", "rm", name)
}

// oomKilled asks podman, then the kernel log: podman 4 on cgroup v1 does
// not always notice.
func oomKilled(t *testing.T, name, id string) bool {
	if strings.TrimSpace(runCmd(t, "podman", "inspect", "--format", "{{.State.OOMKilled}}", name).stdout) == "true" {
		return true
	}
	log, err := exec.Command("dmesg").Output()
	if err != nil {
		t.Logf("dmesg: %v", err)
		return false
	}
	for _, line := range strings.Split(string(log), "\n") {
		if strings.Contains(line, "oom-kill:") && strings.Contains(line, id) {
			return true
		}
	}
	return false
}

// TestFaultCommandCannotStart: podman's 127 and 126, and no profile: the
// container never ran anything.
func TestFaultCommandCannotStart(t *testing.T) {
	requireImage(t, busyboxImage)
	for _, tc := range []struct {
		command string
		code    int
	}{
		{"/no/such/command", 127},
		{"/etc/passwd", 126}, // not executable
	} {
		t.Run(strconv.Itoa(tc.code), func(t *testing.T) {
			lc := checkLeaks(t)
			dir := t.TempDir()
			r := run(t, lc, "run", "--rm", "--label", faultsLabel, "--podprof-output="+filepath.Join(dir, "p.json"), busyboxImage, tc.command)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", r.code, tc.code, r.stderr)
			}
			lc.verify() // the tracer is gone: it will write nothing more
			requireUnchanged(t, dir, nil)
		})
	}
}

// TestFaultServiceDies: podprof's private podman service killed mid-run.
// podprof says so and fails with 125; the container, run by conmon, goes on
// and its profile is written when it ends.
func TestFaultServiceDies(t *testing.T) {
	requireImage(t, busyboxImage)
	lc := checkLeaks(t)
	out := filepath.Join(t.TempDir(), "p.json")
	r := launch(t, lc, "run", "--rm", "--label", faultsLabel, "--podprof-output="+out, busyboxImage,
		"sh", "-c", "echo ready; sleep 2; cat /etc/group >/dev/null")
	r.waitFor(t, "ready\n")
	service := serviceOf(t, r.cmd.Process.Pid)
	if err := syscall.Kill(service, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	res := r.wait(t)
	if res.code != 125 || !strings.HasPrefix(lastLine(res.stderr), "Error: podprof's podman system service died") {
		t.Errorf("exit %d, want 125 and the service's death as the error; stderr:\n%s", res.code, res.stderr)
	}
	if p := waitProfile(t, out); !hasPath(p, "/etc/group") {
		t.Errorf("the profile misses /etc/group, opened after the service died")
	}
}

// keptServicesPrefix is the path prefix of the directories of the kept
// services of the test's podprof build: their keepers' and services'
// arguments name them.
func keptServicesPrefix(t *testing.T) string {
	t.Helper()
	root, err := podmancmd.RuntimeDir()
	if err != nil {
		t.Fatal(err)
	}
	build, err := podmancmd.BuildID(podprofBin)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, podmancmd.ServiceDirPrefix+build+"-")
}

// keptServices are the pids of the kept podman services of the test's
// podprof build, by their sockets in their directories.
func keptServices(t *testing.T) []int {
	t.Helper()
	prefix := keptServicesPrefix(t)
	var pids []int
	for _, p := range scanProcs() {
		if len(p.args) > 0 && filepath.Base(p.args[0]) == "podman" && slices.ContainsFunc(p.args, func(arg string) bool {
			return strings.HasPrefix(arg, "unix://"+prefix) && strings.HasSuffix(arg, "/podman.sock")
		}) {
			pids = append(pids, p.pid)
		}
	}
	return pids
}

// serviceOf finds the podman service of the podprof run with pid owner:
// the one kept service of the test's build (the tests run one at a time).
func serviceOf(t *testing.T, owner int) int {
	t.Helper()
	pids := keptServices(t)
	if len(pids) != 1 {
		t.Fatalf("podprof run %d: want 1 kept podman service, found %v", owner, pids)
	}
	return pids[0]
}

// ---- load ----

// TestLoadTenRuns: ten podprof runs at once, each profile exactly its own
// container's.
func TestLoadTenRuns(t *testing.T) {
	requireImage(t, busyboxImage)
	lc := checkLeaks(t)
	dir := t.TempDir()
	const n = 10
	runs := make([]*running, n)
	for i := range n {
		script := fmt.Sprintf("echo %d > /tmp/only-%d; cat /tmp/only-%d; sleep 0.2", i, i, i)
		runs[i] = launch(t, lc, "run", "--rm", "--label", faultsLabel, "--podprof-output="+filepath.Join(dir, fmt.Sprintf("c%d.json", i)),
			busyboxImage, "sh", "-c", script)
	}
	for i, r := range runs {
		if res := r.wait(t); res.code != 0 || res.stdout != fmt.Sprintf("%d\n", i) {
			t.Fatalf("run %d: exit %d, stdout %q, stderr:\n%s", i, res.code, res.stdout, res.stderr)
		}
	}
	for i := range n {
		p := readProfile(t, filepath.Join(dir, fmt.Sprintf("c%d.json", i)))
		want := []string{"/bin/busybox", fmt.Sprintf("/tmp/only-%d", i)}
		var got []string
		for _, f := range p.Files {
			got = append(got, f.Path)
		}
		if !slices.Equal(got, want) {
			t.Errorf("run %d: profile %q, want %q", i, got, want)
		}
		if p.LostEvents != 0 {
			t.Errorf("run %d: %d events lost", i, p.LostEvents)
		}
	}
}

// TestLoadThousandProcesses: 1,000 short processes, five binaries, each
// process reading a file of its own.
func TestLoadThousandProcesses(t *testing.T) {
	requireImage(t, demoImage)
	lc := checkLeaks(t)
	out := filepath.Join(t.TempDir(), "p.json")
	script := `mkdir /tmp/p; i=0; while [ $i -lt 1000 ]; do echo $i > /tmp/p/$i; i=$((i+1)); done
i=0; while [ $i -lt 1000 ]; do
	for b in cat head tail wc sort; do /usr/bin/$b /tmp/p/$i >/dev/null & i=$((i+1)); done
	wait
done`
	began := time.Now()
	r := run(t, lc, "run", "--rm", "--label", faultsLabel, "--podprof-output="+out, demoImage, "sh", "-c", script)
	t.Logf("1,000 processes under podprof: %v", time.Since(began))
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	p := readProfile(t, out)
	paths := filesByPath(p)
	for _, bin := range []string{"/usr/bin/dash", "/usr/bin/cat", "/usr/bin/head", "/usr/bin/tail", "/usr/bin/wc", "/usr/bin/sort"} {
		if !paths[bin].Exec {
			t.Errorf("%s is not recorded as exec'd", bin)
		}
	}
	for _, lib := range []string{"/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "/usr/lib/x86_64-linux-gnu/libc.so.6"} {
		if _, ok := paths[lib]; !ok {
			t.Errorf("%s is missing", lib)
		}
	}
	for i := range 1000 {
		if f := paths[fmt.Sprintf("/tmp/p/%d", i)]; !f.Read || !f.Write {
			t.Errorf("/tmp/p/%d is missing or not read and written: %+v", i, f)
		}
	}
	if p.LostEvents != 0 {
		t.Errorf("%d events lost", p.LostEvents)
	}
}

// TestLoadHundredThousandFiles: a container that creates, then reads,
// 100,000 files: every one is recorded, no event lost.
func TestLoadHundredThousandFiles(t *testing.T) {
	requireImage(t, busyboxImage)
	lc := checkLeaks(t)
	out := filepath.Join(t.TempDir(), "p.json")
	const n = 100_000
	script := fmt.Sprintf(`mkdir /tmp/d; cd /tmp/d
i=0; while [ $i -lt %d ]; do : > f$i; i=$((i+1)); done
i=0; while [ $i -lt %d ]; do : < f$i; i=$((i+1)); done`, n, n)
	began := time.Now()
	r := run(t, lc, "run", "--rm", "--label", faultsLabel, "--podprof-output="+out, busyboxImage, "sh", "-c", script)
	traced := time.Since(began)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	began = time.Now()
	if u := runCmd(t, "podman", "run", "--rm", busyboxImage, "sh", "-c", script); u.code != 0 {
		t.Fatalf("podman: exit %d: %s", u.code, u.stderr)
	}
	t.Logf("%d files created and read: %v under podprof, %v under podman", n, traced, time.Since(began))
	p := readProfile(t, out)
	paths := filesByPath(p)
	for i := range n {
		if f := paths[fmt.Sprintf("/tmp/d/f%d", i)]; !f.Read || !f.Write {
			t.Fatalf("/tmp/d/f%d is missing or not read and written: %+v", i, f)
		}
	}
	if p.LostEvents != 0 {
		t.Errorf("%d events lost", p.LostEvents)
	}
}

// ---- hostile containers ----

// shName is a shell word for the bytes of name: podman's API carries the
// command as JSON, which can't hold invalid UTF-8, so names are made by
// printf inside the container. $(...) would drop a trailing newline.
func shName(name string) string {
	if strings.HasSuffix(name, "\n") {
		panic("shName: a trailing newline does not survive $(...)")
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		fmt.Fprintf(&b, `\%03o`, name[i])
	}
	return fmt.Sprintf(`"$(printf '%s')"`, b.String())
}

// Hostile names in the image, and their sizes: each is listed among the
// largest unused files or directories.
var hostileUnused = []struct {
	name string
	size int
}{
	{"/hostile/new\nline", 9000},
	{"/hostile/esc\x1b[2J\x1b]0;pwned\a", 8000},
	{"/hostile/bad\xff\xfe", 7000},
	{"/hostile/bidi\u202etxt.exe", 6000},
	{"/hostile/dir\x1b[31m\u009b/f", 10000},
}

const (
	hostileUsed     = "/hostile/used\n\x1b[1m"
	hostileUsedLink = "/hostile/link\x1b" // -> used\n\x1b[1m
)

// buildHostileImage commits a busybox container that made hostile names:
// the image's files, what the summary lists, can then be hostile too.
func buildHostileImage(t *testing.T) string {
	t.Helper()
	image := fmt.Sprintf("localhost/podprof-test/hostile:faults-%d", os.Getpid())
	var script strings.Builder
	script.WriteString("set -e; mkdir -p /hostile; cd /hostile\n")
	for _, h := range hostileUnused {
		fmt.Fprintf(&script, "mkdir -p \"$(dirname %s)\"; head -c %d /dev/zero > %s\n", shName(h.name), h.size, shName(h.name))
	}
	fmt.Fprintf(&script, "echo used > %s; ln -s %s %s\n", shName(hostileUsed), shName(filepath.Base(hostileUsed)), shName(hostileUsedLink))
	script.WriteString("ln -s loop2 loop1; ln -s loop1 loop2; ln -s self self; ln -s /hostile/loop1/x through-loop\n")
	name := fmt.Sprintf("podprof-faults-hostile-%d", os.Getpid())
	if r := runCmd(t, "podman", "run", "--name", name, busyboxImage, "sh", "-c", script.String()); r.code != 0 {
		runCmd(t, "podman", "rm", "-f", name)
		t.Fatalf("making hostile names: %s", r.stderr)
	}
	defer runCmd(t, "podman", "rm", name)
	if r := runCmd(t, "podman", "commit", "--quiet", name, image); r.code != 0 {
		t.Fatalf("podman commit: %s", r.stderr)
	}
	t.Cleanup(func() { runCmd(t, "podman", "rmi", image) })
	return image
}

// TestHostileNames: names with newlines, escape sequences, bidi controls
// and invalid UTF-8, in the image and made at run time, and a process
// named likewise. The profile keeps their exact bytes; the summary and the
// report print them escaped; symbolic link loops are harmless.
func TestHostileNames(t *testing.T) {
	requireImage(t, busyboxImage)
	image := buildHostileImage(t)
	lc := checkLeaks(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "p.json")
	made := []string{"/tmp/made\n\x1b[2J\xff", "/tmp/\x1b]0;title\a", "/tmp/\u202e"}
	const comm = "s\x1b[2J\xff" // a process name: a script so named
	var script strings.Builder
	fmt.Fprintf(&script, "cat %s %s >/dev/null\n", shName(hostileUsed), shName(hostileUsedLink))
	script.WriteString("cat /hostile/loop1 /hostile/self /hostile/through-loop 2>/dev/null; ln -s l2 /tmp/l1; ln -s l1 /tmp/l2; cat /tmp/l1 2>/dev/null\n")
	for _, m := range made {
		fmt.Fprintf(&script, "echo x > %s\n", shName(m))
	}
	fmt.Fprintf(&script, "printf '#!/bin/sh\\n: > /tmp/by-comm\\n' > %s; chmod +x %s; %s\n", shName("/tmp/"+comm), shName("/tmp/"+comm), shName("/tmp/"+comm))
	r := run(t, lc, "run", "--rm", "--label", faultsLabel, "--podprof-output="+out, "--podprof-summary=always", image, "sh", "-c", script.String())
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}

	p := readProfile(t, out)
	paths := filesByPath(p)
	for _, want := range append([]string{hostileUsed}, made...) {
		if _, ok := paths[want]; !ok {
			t.Errorf("the profile misses %q", want)
		}
	}
	if f, ok := paths["/tmp/by-comm"]; !ok || f.Comm != comm {
		t.Errorf("/tmp/by-comm: recorded %v, by process %q; want by %q", ok, f.Comm, comm)
	}
	for path := range paths {
		if strings.Contains(path, "loop") || strings.HasPrefix(path, "/tmp/l") {
			t.Errorf("a path that can't be opened was recorded: %q", path)
		}
	}

	rep := runCmd(t, podprofBin, "report", out)
	if rep.code != 0 {
		t.Fatalf("podprof report: exit %d: %s", rep.code, rep.stderr)
	}
	for what, text := range map[string]string{"the summary": r.stderr, "the report": rep.stdout} {
		requireTerminalSafe(t, what, text)
		for _, h := range hostileUnused {
			if !strings.Contains(text, report.Printable(h.name)) {
				t.Errorf("%s does not list %s:\n%s", what, report.Printable(h.name), text)
			}
		}
		if dirName := filepath.Dir(hostileUnused[len(hostileUnused)-1].name); !strings.Contains(text, report.Printable(dirName)) {
			t.Errorf("%s does not list the unused directory %s:\n%s", what, report.Printable(dirName), text)
		}
		if strings.Contains(text, report.Printable(hostileUsed)) {
			t.Errorf("%s lists the used %s as unused:\n%s", what, report.Printable(hostileUsed), text)
		}
	}

	// A profile naming paths through the image's link loops, as a hostile
	// profile could: the report follows links a bounded number of times.
	crafted := filepath.Join(dir, "loops.json")
	if err := report.WriteProfile(crafted, &report.Profile{
		Version: report.ProfileVersion, Image: p.Image, Tracer: "tracepoint",
		Files: []report.File{{Path: "/hostile/loop1"}, {Path: "/hostile/self/x"}, {Path: "/hostile/through-loop"}, {Path: "/hostile/loop2/../self"}},
	}); err != nil {
		t.Fatal(err)
	}
	if rep := runCmd(t, podprofBin, "report", crafted); rep.code != 0 {
		t.Errorf("podprof report of paths through link loops: exit %d: %s", rep.code, rep.stderr)
	}
}

// longPath is an absolute path of exactly n bytes under /tmp/long, made of
// components of at most 250 bytes.
func longPath(n int) string {
	p := "/tmp/long"
	for c := byte('a'); len(p)+1+250 < n; c++ {
		p += "/" + strings.Repeat(string(c), 250)
	}
	return p + "/" + strings.Repeat("z", n-len(p)-1)
}

// TestHostileLongPaths: a path of the kernel's limit, 4,095 bytes, is
// recorded exactly; longer ones (reached by relative opens) and deep trees
// neither crash nor hang the tracer.
func TestHostileLongPaths(t *testing.T) {
	requireImage(t, busyboxImage)
	lc := checkLeaks(t)
	out := filepath.Join(t.TempDir(), "p.json")
	limit := longPath(4095)
	rel := strings.Repeat("q", 250) + "/" + strings.Repeat("r", 250)
	beyond := filepath.Dir(limit) + "/" + rel + "/beyond" // 4,534 bytes
	deep := "/tmp/deep" + strings.Repeat("/d", 2000)      // 4,009 bytes, 2,002 components
	deeper := strings.Repeat("e/", 1000) + "f"            // from deep: 6,011 bytes
	script := fmt.Sprintf(`set -e
mkdir -p "$(dirname %[1]s)"; echo x > %[1]s; cat %[1]s >/dev/null
cd "$(dirname %[1]s)"; mkdir -p %[2]s; echo y > %[2]s/beyond
mkdir -p %[3]s; cd %[3]s; echo z > f; mkdir -p "$(dirname %[4]s)"; echo w > %[4]s`,
		shName(limit), shName(rel), shName(deep), shName(deeper))
	began := time.Now()
	r := run(t, lc, "run", "--rm", "--label", faultsLabel, "--podprof-output="+out, busyboxImage, "sh", "-c", script)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	t.Logf("long paths and deep trees: %v", time.Since(began))
	p := readProfile(t, out)
	paths := filesByPath(p)
	if f, ok := paths[limit]; !ok || !f.Read || !f.Write {
		t.Errorf("the 4,095-byte path is missing or not read and written: %+v", f)
	}
	if _, ok := paths[deep+"/f"]; !ok {
		t.Errorf("the file at the bottom of a tree %d deep is missing", strings.Count(deep, "/"))
	}
	// Past 4,095 bytes the tracer keeps the path's last components. It
	// flags them truncated, but the profile format has no place for the
	// flag yet: the path reads as an absolute one, outside the image.
	for _, long := range []string{beyond, deep + "/" + deeper} {
		var tails []string
		for path := range paths {
			if len(path) <= 4095 && strings.HasSuffix(long, path) && strings.HasSuffix(path, "/"+filepath.Base(long)) {
				tails = append(tails, path)
			}
		}
		if len(tails) != 1 {
			t.Errorf("a path of %d bytes: want it recorded as its last 4,095 bytes at most, found %d such paths", len(long), len(tails))
		} else {
			t.Logf("a path of %d bytes is recorded as its last %d bytes (%q...)", len(long), len(tails[0]), tails[0][:20])
		}
	}
	for path := range paths {
		if len(path) > 4095 || !strings.HasPrefix(path, "/") || filepath.Clean(path) != path {
			t.Errorf("a malformed path was recorded: %d bytes, %q...", len(path), path[:min(len(path), 40)])
		}
	}
}

// TestHostileRenames: files renamed and deleted while they are opened, by
// the container and, for the image's files, with copy-up.
func TestHostileRenames(t *testing.T) {
	requireImage(t, busyboxImage)
	lc := checkLeaks(t)
	out := filepath.Join(t.TempDir(), "p.json")
	script := `mkdir /tmp/r; i=0; while [ $i -lt 200 ]; do echo $i > /tmp/r/f$i; i=$((i+1)); done
(j=0; while [ $j -lt 300 ]; do mv /tmp/r /tmp/r2; mv /tmp/r2 /tmp/r; j=$((j+1)); done) &
i=0; while [ $i -lt 200 ]; do cat /tmp/r/f$i /tmp/r2/f$i >/dev/null 2>&1; i=$((i+1)); done
wait
: > /tmp/gone; exec 3</tmp/gone; rm /tmp/gone; cat <&3; exec 3<&-
echo x > /tmp/moved-from; mv /tmp/moved-from /tmp/moved-to; cat /tmp/moved-to >/dev/null
mv /etc/group /etc/group.moved; cat /etc/group.moved >/dev/null; rm /etc/passwd
rm -rf /tmp/r /tmp/r2`
	r := run(t, lc, "run", "--rm", "--label", faultsLabel, "--podprof-output="+out, busyboxImage, "sh", "-c", script)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	p := readProfile(t, out)
	paths := filesByPath(p)
	for i := range 200 {
		if _, ok := paths[fmt.Sprintf("/tmp/r/f%d", i)]; !ok {
			t.Errorf("/tmp/r/f%d, created before any rename, is missing", i)
		}
	}
	for _, want := range []string{"/tmp/gone", "/tmp/moved-from", "/tmp/moved-to", "/etc/group.moved"} {
		if _, ok := paths[want]; !ok {
			t.Errorf("%s is missing", want)
		}
	}
	for path := range paths {
		if filepath.Clean(path) != path || !strings.HasPrefix(path, "/") || strings.Contains(path, "deleted") {
			t.Errorf("a malformed path was recorded: %q", path)
		}
	}
}

// ---- bad input ----

// TestBadInputRun: podprof run refuses what it can't do before the
// container runs, with podman's exit code 125, one line saying what is
// wrong and what to do, and nothing left at the output path.
func TestBadInputRun(t *testing.T) {
	requireImage(t, busyboxImage)
	type setup struct {
		dir, out string   // the test's dir, the --podprof-output value
		env      []string // added to podprof's environment
		podman   bool     // podman's own error: compare with podman's
	}
	for _, tc := range []struct {
		name string
		prep func(t *testing.T, s *setup) []string // the arguments after run --rm
		what []string                              // what the error says
	}{
		{"unknown image", func(t *testing.T, s *setup) []string {
			s.podman = true
			return []string{"localhost/podprof-no-such-image:latest", "echo", "ran"}
		}, nil},
		{"bad podman flag", func(t *testing.T, s *setup) []string {
			s.podman = true
			return []string{"--no-such-flag", busyboxImage, "echo", "ran"}
		}, nil},
		{"output not writable", func(t *testing.T, s *setup) []string {
			ro := filepath.Join(s.dir, "ro")
			if err := os.Mkdir(ro, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Mount(ro, ro, "", syscall.MS_BIND, ""); err != nil {
				t.Skipf("bind mount: %v", err)
			}
			t.Cleanup(func() { syscall.Unmount(ro, 0) })
			if err := syscall.Mount("", ro, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
				t.Fatal(err)
			}
			s.out = filepath.Join(ro, "p.json")
			return []string{busyboxImage, "echo", "ran"}
		}, []string{"read-only file system", "choose another path"}},
		{"output is a symlink", func(t *testing.T, s *setup) []string {
			if err := os.Symlink(filepath.Join(s.dir, "target.json"), s.out); err != nil {
				t.Fatal(err)
			}
			return []string{busyboxImage, "echo", "ran"}
		}, []string{"is not a regular file", "choose another path"}},
		{"output is a dangling symlink", func(t *testing.T, s *setup) []string {
			if err := os.Symlink("/nonexistent/p.json", s.out); err != nil {
				t.Fatal(err)
			}
			return []string{busyboxImage, "echo", "ran"}
		}, []string{"is not a regular file", "choose another path"}},
		{"output is a directory", func(t *testing.T, s *setup) []string {
			if err := os.Mkdir(s.out, 0o755); err != nil {
				t.Fatal(err)
			}
			return []string{busyboxImage, "echo", "ran"}
		}, []string{"is not a regular file", "choose another path"}},
		{"output is a device", func(t *testing.T, s *setup) []string {
			s.out = "/dev/null"
			return []string{busyboxImage, "echo", "ran"}
		}, []string{"is not a regular file", "choose another path"}},
		{"output dir missing", func(t *testing.T, s *setup) []string {
			s.out = filepath.Join(s.dir, "missing", "p.json")
			return []string{busyboxImage, "echo", "ran"}
		}, []string{"does not exist", "create it first"}},
		{"output dir is a file", func(t *testing.T, s *setup) []string {
			if err := os.WriteFile(filepath.Join(s.dir, "file"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			s.out = filepath.Join(s.dir, "file", "p.json")
			return []string{busyboxImage, "echo", "ran"}
		}, []string{"is a file", "choose another path"}},
		{"podman not installed", func(t *testing.T, s *setup) []string {
			s.env = []string{"PATH=/nonexistent"}
			return []string{busyboxImage, "echo", "ran"}
		}, []string{"podman is not installed", "install podman"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lc := checkLeaks(t)
			s := &setup{dir: t.TempDir()}
			s.out = filepath.Join(s.dir, "p.json")
			args := tc.prep(t, s)
			before := listDir(t, s.dir)
			var outBefore os.FileInfo
			if st, err := os.Lstat(s.out); err == nil {
				outBefore = st
			}
			cmd := exec.Command(podprofBin, append([]string{"run", "--rm", "--label", faultsLabel, "--podprof-output=" + s.out}, args...)...)
			cmd.Env = append(os.Environ(), s.env...)
			began := time.Now()
			r := start(t, lc, cmd).wait(t)
			if elapsed := time.Since(began); elapsed > 20*time.Second {
				t.Errorf("took %v to fail", elapsed)
			}
			if strings.Contains(r.stdout, "ran") {
				t.Errorf("the container ran")
			}
			if s.podman {
				want := runCmd(t, "podman", append([]string{"run", "--rm"}, args...)...)
				if r.code != 125 || want.code != 125 || lastLine(r.stderr) != lastLine(want.stderr) {
					t.Errorf("podprof: %d %q; podman: %d %q; want both 125, the same words", r.code, r.stderr, want.code, want.stderr)
				}
			} else {
				requireOneLineError(t, r, 125, tc.what...)
			}
			lc.verify()
			requireUnchanged(t, s.dir, before)
			if st, err := os.Lstat(s.out); (err == nil) != (outBefore != nil) || (err == nil && (!os.SameFile(st, outBefore) || st.Mode() != outBefore.Mode())) {
				t.Errorf("%s changed", s.out)
			}
		})
	}
}

// TestBadInputRelativeOutput: a relative --podprof-output is taken from
// the working directory, as any command-line path.
func TestBadInputRelativeOutput(t *testing.T) {
	requireImage(t, busyboxImage)
	lc := checkLeaks(t)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(podprofBin, "run", "--rm", "--label", faultsLabel, "--podprof-output=sub/p.json", "--podprof-summary=always", busyboxImage, "true")
	cmd.Dir = dir
	r := start(t, lc, cmd).wait(t)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	abs := filepath.Join(dir, "sub", "p.json")
	readProfile(t, abs)
	if !strings.Contains(r.stderr, "profile: "+abs) {
		t.Errorf("the summary does not name the profile by its absolute path %s:\n%s", abs, r.stderr)
	}
}

// TestBadInputNotRoot: podprof run as a user who can't load BPF programs.
func TestBadInputNotRoot(t *testing.T) {
	requireImage(t, busyboxImage)
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv is not installed")
	}
	lc := checkLeaks(t)
	// nobody needs to reach the binary and a home of its own.
	dir, err := os.MkdirTemp("", "podprof-faults-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin, home := filepath.Join(dir, "podprof"), filepath.Join(dir, "home")
	// podprof-podman and podprof-hook beside podprof, as make install
	// puts them.
	for _, name := range []string{"podprof", podmancmd.APIExecutable, podmancmd.HookExecutable} {
		data, err := os.ReadFile(filepath.Join(filepath.Dir(podprofBin), name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(os.Chmod(dir, 0o755), os.Chown(home, 65534, 65534)); err != nil {
		t.Fatal(err)
	}
	asNobody := func(args ...string) result {
		cmd := exec.Command("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", "env", "HOME=" + home, bin}, args...)...)
		return start(t, lc, cmd).wait(t)
	}
	for _, args := range [][]string{
		{"run", "--rm", "--podprof-output=" + filepath.Join(home, "p.json"), busyboxImage, "echo", "ran"},
		{"run", "--rm", busyboxImage, "echo", "ran"},
	} {
		// Without root, podprof run traces with the tracer service of a
		// rootless podman, which needs subordinate ids; nobody has none.
		r := asNobody(args...)
		requireOneLineError(t, r, 125, "rootless podman needs subordinate ids for user nobody in /etc/subuid", "usermod --add-subuids")
	}
	if r := asNobody("doctor"); r.code != 1 || !strings.Contains(r.stdout, "needs root") {
		t.Errorf("podprof doctor as nobody: exit %d, want 1 and why:\n%s", r.code, r.stdout)
	}
}

// TestBadInputNoBTF: a kernel without BTF, played by a mount namespace in
// which /sys/kernel/btf is empty (and the tracer's dir is its own, so that
// a tracer of the real host is not reused).
func TestBadInputNoBTF(t *testing.T) {
	requireImage(t, busyboxImage)
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare is not installed")
	}
	lc := checkLeaks(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "p.json")
	withoutBTF := func(args ...string) result {
		cmd := exec.Command("unshare", append([]string{"--mount", "--propagation", "private", "sh", "-c",
			`mkdir -p /run/podprof && mount -t tmpfs podprof-test /run/podprof && mount -t tmpfs podprof-test /sys/kernel/btf && exec "$@"`, "sh", podprofBin}, args...)...)
		return start(t, lc, cmd).wait(t)
	}
	d := withoutBTF("doctor")
	if d.code != 1 || !strings.Contains(d.stdout, "BTF:      missing") || !strings.Contains(d.stdout, "CONFIG_DEBUG_INFO_BTF") {
		t.Fatalf("podprof doctor without BTF: exit %d:\n%s%s", d.code, d.stdout, d.stderr)
	}
	r := withoutBTF("run", "--rm", "--label", faultsLabel, "--podprof-output="+out, busyboxImage, "echo", "ran")
	requireOneLineError(t, r, 125, "the kernel has no BTF", "CONFIG_DEBUG_INFO_BTF=y")
	if strings.Count(r.stderr, "the kernel has no BTF") != 1 {
		t.Errorf("the reason is repeated for each tracer mode:\n%s", r.stderr)
	}
	if strings.Contains(r.stdout, "ran") {
		t.Errorf("the container ran")
	}
	r = withoutBTF("run", "--rm", "--label", faultsLabel, "--podprof-untraceable=run", "--podprof-output="+out, busyboxImage, "echo", "ran")
	if r.code != 0 || r.stdout != "ran\n" || !strings.HasPrefix(r.stderr, "podprof: not tracing: ") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("--podprof-untraceable=run: want the container's output and a one-line warning; got %+v", r)
	}
	lc.verify()
	requireUnchanged(t, dir, nil)
}

// TestBadInputReport: podprof report of profiles it can't read.
func TestBadInputReport(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	if err := report.WriteProfile(good, &report.Profile{
		Version: report.ProfileVersion, Tracer: "lsm",
		Image: report.ImageRef{Name: "localhost/x", ID: strings.Repeat("ab", 32)},
		Files: []report.File{{Path: "/usr/bin/x", Exec: true}, {Path: "/etc/x\x1b[2J", Read: true}},
	}); err != nil {
		t.Fatal(err)
	}
	valid, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		content []byte // nil: no file
		what    []string
	}{
		{"missing", nil, []string{"cannot read profile", "no such file"}},
		{"empty", []byte{}, []string{"is truncated or corrupt"}},
		{"garbage", []byte("\x1b[2Jnot json"), []string{"is truncated or corrupt"}},
		{"truncated", valid[:len(valid)/2], []string{"is truncated or corrupt"}},
		{"trailing data", append(slices.Clone(valid), "{}"...), []string{"is truncated or corrupt", "unexpected data"}},
		{"array", []byte("[]"), []string{"is not a podprof profile"}},
		{"no version", []byte(`{"files": []}`), []string{"has no version", "not a podprof profile"}},
		{"newer version", []byte(`{"version": 2, "files": {"changed": true}}`), []string{"has version 2", "upgrade podprof"}},
		{"bad base64", []byte(`{"version": 1, "files": [{"path": "x", "path_base64": "!!"}]}`), []string{"is truncated or corrupt", "not base64"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "p.json")
			if tc.content != nil {
				if err := os.WriteFile(path, tc.content, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			requireOneLineError(t, runCmd(t, podprofBin, "report", path), 125, tc.what...)
		})
	}
	t.Run("directory", func(t *testing.T) {
		requireOneLineError(t, runCmd(t, podprofBin, "report", t.TempDir()), 125, "cannot read profile", "is a directory")
	})
	t.Run("unreadable", func(t *testing.T) {
		if _, err := exec.LookPath("setpriv"); err != nil {
			t.Skip("setpriv is not installed")
		}
		dir, err := os.MkdirTemp("", "podprof-faults-nobody-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		bin, path, home := filepath.Join(dir, "podprof"), filepath.Join(dir, "p.json"), filepath.Join(dir, "home")
		data, err := os.ReadFile(podprofBin)
		if err != nil {
			t.Fatal(err)
		}
		if err := errors.Join(os.WriteFile(bin, data, 0o755), os.WriteFile(path, valid, 0o600), os.Chmod(dir, 0o755),
			os.Mkdir(home, 0o755), os.Chown(home, 65534, 65534)); err != nil {
			t.Fatal(err)
		}
		// podman's code, which podprof embeds, needs a home it can write
		// to for any user but root, as podman does.
		r := runCmd(t, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "env", "HOME="+home, bin, "report", path)
		requireOneLineError(t, r, 125, "cannot read profile", "permission denied")
	})
	// The names in errors are the user's, but may come from a container
	// (a profile path made of a container's name) or a profile.
	t.Run("hostile names", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "e\x1b[2J\n")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		requireOneLineError(t, runCmd(t, podprofBin, "report", filepath.Join(dir, "missing.json")), 125, "cannot read profile")
		// podman refuses such a name before it names it; podprof as podman.
		requireOneLineError(t, runCmd(t, podprofBin, "report", "--image", "x\x1b[2J", good), 125, "invalid reference format")
		requireOneLineError(t, runCmd(t, podprofBin, "report", "--image", "docker-archive:"+filepath.Join(dir, "missing.tar"), good), 125, "missing.tar")
	})
}

// TestBadInputHookAnnotation: the OCI hook refuses an output path whose
// directory takes no file, before the container starts.
func TestBadInputHookAnnotation(t *testing.T) {
	requireImage(t, busyboxImage)
	lc := checkLeaks(t)
	ro := t.TempDir()
	if err := syscall.Mount(ro, ro, "", syscall.MS_BIND, ""); err != nil {
		t.Skipf("bind mount: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(ro, 0) })
	if err := syscall.Mount("", ro, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Fatal(err)
	}
	args := append(installHook(t), "run", "--rm", "--label", faultsLabel, "--annotation", hook.ProfileAnnotation+"="+filepath.Join(ro, "p.json"), busyboxImage, "echo", "ran")
	r := runCmd(t, "podman", args...)
	if r.code == 0 || strings.Contains(r.stdout, "ran") || !strings.Contains(r.stderr, "read-only file system") {
		t.Errorf("want the container refused for its read-only profile dir; exit %d, stdout %q, stderr:\n%s", r.code, r.stdout, r.stderr)
	}
	lc.verify()
	requireUnchanged(t, ro, nil)
}

// ---- stopped from outside ----

// TestFaultTracerStopped: a tracer stopped by SIGTERM (kill, a shutdown)
// fails the run it traces with its profile unwritten, and leaves no
// socket or lock behind; the next run starts a new tracer.
func TestFaultTracerStopped(t *testing.T) {
	requireImage(t, busyboxImage)
	idleLongerThanARun(t)
	lc := checkLeaks(t)
	stopTracer := func() {
		t.Helper()
		tracers := tracerPids(t)
		if len(tracers) != 1 {
			t.Fatalf("want the run's tracer, found %v", tracers)
		}
		if err := syscall.Kill(tracers[0], syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	}

	out := filepath.Join(t.TempDir(), "p.json")
	r := launch(t, lc, "run", "--rm", "--label", faultsLabel, "--podprof-output="+out, busyboxImage,
		"sh", "-c", "echo ready; sleep 2")
	r.waitFor(t, "ready\n")
	stopTracer()
	res := r.wait(t)
	if res.code != 125 || !strings.HasPrefix(lastLine(res.stderr), "Error: the tracer wrote no profile to "+out) {
		t.Errorf("exit %d, want 125 and the unwritten profile as the error; stderr:\n%s", res.code, res.stderr)
	}

	// Lingering after the next run, nobody talks to it: whatever is left
	// once it is gone, it left.
	runTrue(t, lc)
	stopTracer()
	deadline := time.Now().Add(4 * time.Second)
	for len(tracerPids(t)) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if tracers := tracerPids(t); len(tracers) > 0 {
		t.Fatalf("tracer %v still runs 4s after SIGTERM", tracers)
	}
	socket, lock := hook.TracerFiles(podprofBin)
	for _, path := range []string{socket, lock} {
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s after the tracer was stopped: %v, want it removed", path, err)
		}
	}
}

// TestFaultKeeperStopped: a kept service's keeper stopped by SIGTERM stops
// the service and removes its directory, as at the end of its idle time.
func TestFaultKeeperStopped(t *testing.T) {
	requireImage(t, busyboxImage)
	idleLongerThanARun(t)
	lc := checkLeaks(t)
	runTrue(t, lc)
	prefix := keptServicesPrefix(t)
	var keepers []int
	for _, p := range scanProcs() {
		if i := slices.Index(p.args, podmancmd.KeepServiceArg); i >= 0 && i+1 < len(p.args) && strings.HasPrefix(p.args[i+1], prefix) {
			keepers = append(keepers, p.pid)
		}
	}
	if len(keepers) != 1 || len(keptServices(t)) != 1 {
		t.Fatalf("want the run's keeper and kept service, found keepers %v, services %v", keepers, keptServices(t))
	}
	if err := syscall.Kill(keepers[0], syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Well within the idle time: the stop is the signal's doing.
	deadline := time.Now().Add(4 * time.Second)
	for {
		dirs, _ := filepath.Glob(prefix + "*")
		if len(dirs) == 0 && len(keptServices(t)) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("4s after SIGTERM to the keeper: directories %v, services %v", dirs, keptServices(t))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
