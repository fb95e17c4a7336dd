// Command bench measures what podprof costs (issue 7): container start,
// each open in a traced container, the tax on untraced processes, what
// recording system calls adds to each (issue 15), a burst of opens, the report, the packages report (issue 13), the tracer's memory, and (under qemu, on Debian's
// kernels) what each tracer mode adds to an open. Every measurement takes
// its baseline in the same run, interleaved where it can, and is given as
// medians with their interquartile range.
//
//	go run -tags "$(GO_TAGS)" ./bench [-quick] [-only PHASES] [-results bench/results.json] [-markdown BENCHMARKS.md]
//
// `make bench` runs it in full (about 10 minutes here) and writes
// bench/results.json and the generated part of BENCHMARKS.md; `make
// bench-quick` runs every measurement with small counts (about 2 minutes)
// and writes nothing. It exits non-zero when a measurement cannot be made;
// a missed goal is reported, not an error. With -only, the phases not run
// keep their results from the -results file, if it exists.
//
// It needs root, podman, the test images of `make setup` and ./podprof, and
// is best run on a quiet machine: tracing BPF programs of someone else's
// would tax the untraced baselines, so it waits for them to go (3 minutes
// in all), then counts the samples they disturbed. It runs a copy of
// ./podprof, whose tracer (one per executable) no one else uses.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/podprof/podprof/podmancmd"
)

const (
	busyboxImage = "localhost/podprof-test/busybox:latest"
	demoImage    = "localhost/podprof-demo/debian:bookworm"
	bigImage     = "localhost/podprof-bench/big:1g"
)

type config struct {
	quick    bool
	podprof  string
	goTool   string
	results  string
	markdown string

	startRuns     int // interleaved pairs, cold and warm each
	componentReps int
	pairs         int // open+close pairs per loop
	openReps      int // containers per side
	hostReps      int
	burstFiles    int
	burstReps     int
	reportReps    int
	saveReps      int
	bigImage      bool
	only          string // comma-separated phases
}

func main() {
	var cfg config
	flag.BoolVar(&cfg.quick, "quick", false, "small counts: proves every measurement still works (CI)")
	flag.StringVar(&cfg.podprof, "podprof", "./podprof", "the podprof binary to measure")
	flag.StringVar(&cfg.goTool, "go", defaultGo(), "the go command, to build the workload program")
	flag.StringVar(&cfg.results, "results", "", "write the results as JSON to `PATH`")
	flag.StringVar(&cfg.markdown, "markdown", "", "update the generated part of `BENCHMARKS.md`")
	flag.StringVar(&cfg.only, "only", "", "run only these phases (start,opens,hosttax,syscalls,burst,report,slim,packages,kernels); the others' results are kept from -results")
	burstFiles := flag.Int("burst-files", 0, "files in a burst, instead of the mode's (development)")
	flag.Parse()
	if cfg.quick {
		cfg.startRuns, cfg.componentReps = 3, 2
		cfg.pairs, cfg.openReps, cfg.hostReps = 10000, 2, 2
		cfg.burstFiles, cfg.burstReps = 2000, 1
		cfg.reportReps, cfg.saveReps = 2, 1
	} else {
		cfg.startRuns, cfg.componentReps = 20, 5
		cfg.pairs, cfg.openReps, cfg.hostReps = 1000000, 7, 5
		cfg.burstFiles, cfg.burstReps = 100000, 3
		cfg.reportReps, cfg.saveReps = 5, 3
		cfg.bigImage = true
	}
	if *burstFiles > 0 {
		cfg.burstFiles = *burstFiles
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b := &bench{cfg: cfg}
	err := b.run(ctx)
	if cerr := b.cleanup(); cerr != nil {
		fmt.Fprintln(os.Stderr, "bench: cleanup:", cerr)
		if err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: FAILED:", err)
		os.Exit(1)
	}
}

func defaultGo() string {
	if g := os.Getenv("GO"); g != "" {
		return g
	}
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

type bench struct {
	cfg     config
	tmp     string // everything the bench writes, removed at the end
	shm     string // a tmpfs dir for the pre-made burst files, removed at the end
	loop    string // the workload binary
	podprof string // absolute
	prefix  string // of every container name the bench uses
	seq     int
	holders []*holder
	res     Results
	began   time.Time

	disturbedSamples int
	patienceUsed     time.Duration
	tracerLock       string // the lock file of the bench's tracer, once seen
	services         string // the path prefix of the bench's kept services' directories
}

func (b *bench) phase(name string) bool {
	if b.cfg.only == "" {
		return true
	}
	for _, p := range strings.Split(b.cfg.only, ",") {
		if p == name {
			return true
		}
	}
	return false
}

func (b *bench) run(ctx context.Context) error {
	b.began = time.Now()
	if os.Geteuid() != 0 {
		return errors.New("the bench needs root (podprof loads BPF programs)")
	}
	podprof, err := filepath.Abs(b.cfg.podprof)
	if err != nil {
		return err
	}
	if _, err := os.Stat(podprof); err != nil {
		return fmt.Errorf("%w: run `make build` first", err)
	}
	for _, img := range []string{busyboxImage, demoImage} {
		if _, err := output("podman", "image", "exists", img); err != nil {
			return fmt.Errorf("image %s is missing: run `make setup`", img)
		}
	}
	b.prefix = fmt.Sprintf("podprof-bench-%d-", os.Getpid())
	if b.tmp, err = os.MkdirTemp("", "podprof-bench-"); err != nil {
		return err
	}
	if b.shm, err = os.MkdirTemp("/dev/shm", "podprof-bench-"); err != nil {
		b.shm = ""
		return err
	}
	// A copy: a rebuild of ./podprof during the bench changes nothing, and
	// its tracer process is told from anyone else's by its executable.
	// podprof-podman, which podprof execs for run and slim, and
	// podprof-hook, the hook, go beside it.
	b.podprof = filepath.Join(b.tmp, "podprof")
	if err := copyFile(podprof, b.podprof, 0o755); err != nil {
		return err
	}
	for _, name := range []string{podmancmd.APIExecutable, podmancmd.HookExecutable} {
		if err := copyFile(filepath.Join(filepath.Dir(podprof), name), filepath.Join(b.tmp, name), 0o755); err != nil {
			return err
		}
	}
	buildID, err := podmancmd.BuildID(b.podprof)
	if err != nil {
		return err
	}
	root, err := podmancmd.RuntimeDir()
	if err != nil {
		return err
	}
	b.services = filepath.Join(root, podmancmd.ServiceDirPrefix+buildID+"-")
	// Every podprof run stops its service and tracer as soon as it is
	// done, as before podprof kept them: what is measured cold is cold.
	// The warm start rows, and the lingering tracer's host tax, keep them
	// (withIdle).
	os.Setenv(podmancmd.IdleEnv, "0")
	// Another tracer would trace the baselines; a test run may be ending.
	// (Alone, the kernels phase needs no quiet host: it measures in qemu
	// guests, whose clocks count instructions.)
	if b.cfg.only != "kernels" {
		if err := b.waitQuiet(ctx); err != nil {
			return err
		}
	}
	// -only measures some phases: the rest, and what the run that
	// measured them was (date, machine, load), stay as they were
	var prev *Results
	if b.cfg.only != "" && b.cfg.results != "" {
		if prev, err = readResults(b.cfg.results); err != nil {
			return err
		}
	}
	b.res.Quick = b.cfg.quick
	b.res.Date = b.began.UTC().Format(time.RFC3339)
	b.res.Machine = machineInfo()
	b.res.LoadBefore = loadAvg()
	b.logf("machine: %s, %d cores, kernel %s, %s, %s; load %s", b.res.Machine.CPU, b.res.Machine.Cores, b.res.Machine.Kernel, b.res.Machine.Podman, b.res.Machine.Runtime, b.res.LoadBefore)

	b.loop = filepath.Join(b.tmp, "loop")
	build := exec.CommandContext(ctx, b.cfg.goTool, "build", "-trimpath", "-o", b.loop, "./bench/loop")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building the workload program: %v: %s", err, out)
	}

	phases := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"start", b.benchStart},
		{"opens", b.benchOpens},
		{"hosttax", b.benchHostTax},
		{"syscalls", b.benchSyscalls},
		{"burst", b.benchBurst},
		{"report", b.benchReport},
		{"slim", b.benchSlim},
		{"packages", b.benchPackages},
		{"kernels", b.benchKernels},
	}
	for _, p := range phases {
		if !b.phase(p.name) {
			continue
		}
		t := time.Now()
		if err := p.fn(ctx); err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		b.logf("%s: done in %.0f s", p.name, time.Since(t).Seconds())
	}
	b.res.LoadAfter = loadAvg()
	b.res.DurationS = time.Since(b.began).Seconds()
	if prev != nil {
		b.res = b.mergeInto(*prev)
	}
	b.evaluateGoals()

	fmt.Println()
	b.printTable(os.Stdout)
	if b.cfg.results != "" {
		if err := b.writeJSON(b.cfg.results); err != nil {
			return err
		}
	}
	if b.cfg.markdown != "" {
		if err := b.writeMarkdown(b.cfg.markdown); err != nil {
			return err
		}
	}
	return nil
}

// readResults reads an earlier run's results; none if there is no file.
func readResults(path string) (*Results, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r Results
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

// mergeInto puts what the phases of this -only run measured into prev,
// an earlier run's results, and says so in a note.
func (b *bench) mergeInto(prev Results) Results {
	now := b.res
	for _, p := range strings.Split(b.cfg.only, ",") {
		switch p {
		case "start":
			prev.Start = now.Start
		case "opens":
			prev.Opens = now.Opens
		case "hosttax":
			prev.HostTax = now.HostTax
		case "syscalls":
			prev.Syscalls = now.Syscalls
		case "burst":
			prev.Bursts, prev.Memory, prev.BurstProfile = now.Bursts, now.Memory, now.BurstProfile
		case "report":
			prev.Reports = now.Reports
		case "slim":
			prev.Slims = now.Slims
		case "packages":
			prev.Packages = now.Packages
		case "kernels":
			prev.Kernels = now.Kernels
		}
	}
	prev.Notes = append(prev.Notes, fmt.Sprintf("%s: measured by a later run, of %s (%.0f s, load %s -> %s); the rest by the run above", b.cfg.only, now.Date, now.DurationS, now.LoadBefore, now.LoadAfter))
	prev.Notes = append(prev.Notes, now.Notes...)
	prev.DisturbedSamples += now.DisturbedSamples
	prev.ForeignRetries += now.ForeignRetries
	prev.Goals = nil // evaluated again
	return prev
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[bench %5.1fs] %s\n", time.Since(b.began).Seconds(), fmt.Sprintf(format, args...))
}

func (b *bench) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	b.res.Notes = append(b.res.Notes, msg)
	b.logf("note: %s", msg)
}

func (b *bench) name() string {
	b.seq++
	return fmt.Sprintf("%s%d", b.prefix, b.seq)
}

func (b *bench) profilePath(tag string) string {
	return filepath.Join(b.tmp, fmt.Sprintf("%s-%d.json", tag, b.seq))
}

// containerCmd is `podman run` or `podprof run` of image with podmanArgs,
// removed when done. A traced run writes its profile to profile and prints
// no summary.
func (b *bench) containerCmd(traced bool, name, profile string, podmanArgs []string, image string, command ...string) (string, []string) {
	args := []string{"run", "--rm", "--name", name}
	prog := "podman"
	if traced {
		prog = b.podprof
		args = append(args, "--podprof-output="+profile, "--podprof-summary=never")
	}
	args = append(args, podmanArgs...)
	args = append(args, image)
	return prog, append(args, command...)
}

// cleanup removes what the bench made: containers, holders, temp dirs; and
// checks that the tracer went away with the last podprof run.
func (b *bench) cleanup() error {
	var errs []error
	for _, h := range slices.Clone(b.holders) {
		if err := h.stop(); err != nil {
			errs = append(errs, err)
		}
	}
	if b.prefix != "" {
		names, _ := output("podman", "ps", "-a", "--format", "{{.Names}}")
		for _, n := range strings.Fields(names) {
			if strings.HasPrefix(n, b.prefix) {
				if _, err := output("podman", "rm", "-f", n); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	if b.prefix != "" {
		if err := b.waitMineGone(3 * time.Minute); err != nil {
			errs = append(errs, err)
		}
	}
	for _, d := range []string{b.tmp, b.shm} {
		if d != "" {
			if err := os.RemoveAll(d); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// holder is a `podprof run` of a sleeping container: it keeps the tracer
// loaded, watching one container, for as long as it runs.
type holder struct {
	b      *bench
	name   string
	cmd    *exec.Cmd
	done   chan error
	tracer int
}

// startHolder starts a traced sleeping container (podprof run with
// podmanArgs, which may hold podprof's own flags too).
func (b *bench) startHolder(ctx context.Context, podmanArgs ...string) (*holder, error) {
	h := &holder{b: b, name: b.name(), done: make(chan error, 1)}
	prog, args := b.containerCmd(true, h.name, b.profilePath("holder"), podmanArgs, busyboxImage, "sleep", "3600")
	h.cmd = exec.Command(prog, args...)
	var stderr strings.Builder
	h.cmd.Stderr = &stderr
	if err := h.cmd.Start(); err != nil {
		return nil, err
	}
	b.holders = append(b.holders, h)
	go func() { h.done <- h.cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if st, _ := output("podman", "container", "inspect", "--format", "{{.State.Status}}", h.name); st == "running" {
			break
		}
		select {
		case err := <-h.done:
			h.done <- err
			return nil, fmt.Errorf("the holder container exited early: %v: %s", err, lastLines(stderr.String(), 3))
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, errors.New("the holder container did not start within 60s")
		}
	}
	var err error
	if h.tracer, err = b.waitTracer(ctx, 10*time.Second); err != nil {
		h.stop()
		return nil, err
	}
	return h, nil
}

// startHolderRetry starts a holder whose tracer is the bench's own.
func (b *bench) startHolderRetry(ctx context.Context, podmanArgs ...string) (*holder, error) {
	var h *holder
	err := b.retryForeign(ctx, "holder", func() (err error) {
		h, err = b.startHolder(ctx, podmanArgs...)
		return err
	})
	return h, err
}

// stop kills the holder's container and waits for its podprof run and the
// tracer to end.
func (h *holder) stop() error {
	if h.cmd == nil {
		return nil
	}
	defer func() {
		h.cmd = nil
		for i, x := range h.b.holders {
			if x == h {
				h.b.holders = append(h.b.holders[:i], h.b.holders[i+1:]...)
				break
			}
		}
	}()
	output("podman", "kill", h.name)
	select {
	case <-h.done: // 137: killed, as asked
	case <-time.After(60 * time.Second):
		h.cmd.Process.Kill()
		<-h.done
		return fmt.Errorf("the holder's podprof run did not end within 60s of its container's kill")
	}
	return h.b.waitMineGone(3 * time.Minute)
}

// waitMineGone waits for the bench's own tracer and kept services to
// exit. The tracer is the host's shared tracer while it runs: another
// user's podprof run may be using it and keep it. A tracer lingers for
// its idle time after its last run, the longest of the bench's runs'
// (startIdle): only a longer wait is another user's doing.
func (b *bench) waitMineGone(timeout time.Duration) error {
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		mine, _ := b.tracers()
		if len(mine) == 0 && len(b.keptServices()) == 0 {
			if d := time.Since(start); d > startIdle+5*time.Second {
				b.note("the bench's tracer served %.0f s past the bench's last podprof run: another podprof user's container was using it", d.Seconds())
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the tracer (pid %v) or the kept services %q did not exit within %s of the bench's last podprof run", mine, b.keptServices(), timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func copyFile(from, to string, mode os.FileMode) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, data, mode)
}
