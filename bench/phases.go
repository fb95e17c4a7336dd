package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"

	"golang.org/x/sys/unix"

	"github.com/podprof/podprof/internal/e2e"
	"github.com/podprof/podprof/podmancmd"
	"github.com/podprof/podprof/report"
)

// sides returns the order of one round of an interleaved comparison:
// untraced first on even rounds, traced first on odd ones, so that a drift
// of the machine does not favour either.
func sides(round int) []bool {
	if round%2 == 0 {
		return []bool{false, true}
	}
	return []bool{true, false}
}

// readProfile reads a traced run's profile and notes the tracer mode.
func (b *bench) readProfile(path string) (*report.Profile, error) {
	p, err := report.ReadProfile(path)
	if err != nil {
		return nil, fmt.Errorf("the traced run's profile: %w", err)
	}
	if b.res.TracerMode == "" {
		b.res.TracerMode = p.Tracer
	} else if p.Tracer != b.res.TracerMode {
		b.note("a run used tracer mode %s, earlier ones %s", p.Tracer, b.res.TracerMode)
	}
	return p, nil
}

// ---- 1. start ----------------------------------------------------------

func (b *bench) benchStart(ctx context.Context) error {
	r := &StartResult{Image: busyboxImage}
	b.res.Start = r
	var err error
	b.logf("start: %d cold pairs (no service, no tracer), podman run vs podprof run, %s true", b.cfg.startRuns, busyboxImage)
	if r.Cold, err = b.startPairs(ctx, false); err != nil {
		return err
	}
	b.logf("start: cold: podman %s, podprof %s, ratio %s", secs(r.Cold.Podman.Median), secs(r.Cold.Podprof.Median), times(r.Cold.RatioOfMedians))
	if r.Components, err = b.startComponents(ctx); err != nil {
		return err
	}
	b.logf("start: %d warm pairs (the service and the tracer kept by the run before)", b.cfg.startRuns)
	if err := withIdle(startIdle, func() (err error) {
		r.Warm, err = b.startPairs(ctx, true)
		return err
	}); err != nil {
		return err
	}
	b.logf("start: warm: podman %s, podprof %s, ratio %s", secs(r.Warm.Podman.Median), secs(r.Warm.Podprof.Median), times(r.Warm.RatioOfMedians))
	if r.System, err = b.systemPairs(ctx); err != nil {
		return err
	}
	h, err := b.startHolderRetry(ctx)
	if err != nil {
		return err
	}
	b.logf("start: %d pairs of podman run against podman run with podprof's hook and no private service, the tracer loaded", b.cfg.startRuns)
	r.HookOnly, err = b.hookOnlyPairs(ctx)
	if err == nil {
		var hook Component
		if hook, err = b.hookTimes(ctx); err == nil {
			r.Components = append(r.Components, hook)
		}
	}
	if serr := h.stop(); err == nil {
		err = serr
	}
	return err
}

// startIdle is the idle time of the warm start rows' podprof runs: the
// pairs follow each other within it.
const startIdle = 15 * time.Second

// startPairs times `podman run --rm IMAGE true` and the same through
// podprof run, in turns, after one untimed pair. Cold, each podprof run
// starts with no service and no tracer; warm, each one uses those the
// run before kept (withIdle): the same processes throughout.
func (b *bench) startPairs(ctx context.Context, warm bool) (StartPair, error) {
	var podman, podprof []float64
	var kept []int // the tracer and service processes warm runs use
	for round := -1; round < b.cfg.startRuns; round++ {
		for _, traced := range sides(round + 1) {
			if !warm {
				if err := b.waitQuiet(ctx); err != nil {
					return StartPair{}, err
				}
			}
			name := b.name()
			profile := b.profilePath("start")
			prog, args := b.containerCmd(traced, name, profile, nil, busyboxImage, "true")
			d, _, err := runTimed(ctx, prog, args...)
			if err != nil {
				return StartPair{}, err
			}
			if traced {
				if _, err := b.readProfile(profile); err != nil {
					return StartPair{}, err
				}
				os.Remove(profile)
				if warm {
					mine, _ := b.tracers()
					now := append(mine, b.keptPids()...)
					if kept == nil {
						kept = now
					} else if !slices.Equal(now, kept) {
						return StartPair{}, fmt.Errorf("a warm run did not use the tracer and service the run before kept (%v): now %v", kept, now)
					}
				}
			}
			if round < 0 {
				continue
			}
			if traced {
				podprof = append(podprof, d.Seconds())
			} else {
				podman = append(podman, d.Seconds())
			}
		}
	}
	return newStartPair(podman, podprof), nil
}

// systemPairs are warm start pairs of podprof run through the system's
// podman socket (--podprof-service=system), podprof's hook installed in
// its hooks dir: a service the bench starts there, as podman.socket would,
// with a containers.conf (CONTAINERS_CONF, for podprof run too) that names
// the bench's hooks dir. nil, and a note, where a service answers there
// already: the bench can't know its hooks dirs.
func (b *bench) systemPairs(ctx context.Context) (*StartPair, error) {
	const socket = "/run/podman/podman.sock"
	if conn, err := net.Dial("unix", socket); err == nil {
		conn.Close()
		b.note("a podman service answers on %s: the system socket's start row is not measured", socket)
		return nil, nil
	}
	// The warm rows' service and tracer go first: the system socket's runs
	// keep a tracer only, which the untimed first pair starts.
	if err := b.waitQuiet(ctx); err != nil {
		return nil, err
	}
	hooksDir := filepath.Join(b.tmp, "system-hooks.d")
	if err := b.writeHook(hooksDir, podmancmd.IdleEnv+"="+startIdle.String()); err != nil {
		return nil, err
	}
	conf, err := e2e.ContainersConf(hooksDir)
	if err != nil {
		return nil, err
	}
	confPath := filepath.Join(b.tmp, "containers.conf")
	if err := os.WriteFile(confPath, conf, 0o644); err != nil {
		return nil, err
	}
	made := os.Mkdir(filepath.Dir(socket), 0o700) == nil
	os.Remove(socket) // a dead service's
	svc := exec.Command("podman", "system", "service", "--time=0", "unix://"+socket)
	svc.Env = append(os.Environ(), "CONTAINERS_CONF="+confPath)
	svc.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setpgid: true}
	if err := svc.Start(); err != nil {
		return nil, fmt.Errorf("starting podman system service on %s: %w", socket, err)
	}
	defer func() {
		svc.Process.Signal(syscall.SIGTERM)
		svc.Wait()
		os.Remove(socket)
		if made {
			os.Remove(filepath.Dir(socket))
		}
	}()
	for start := time.Now(); ; time.Sleep(5 * time.Millisecond) {
		if conn, err := net.Dial("unix", socket); err == nil {
			conn.Close()
			break
		}
		if time.Since(start) > 30*time.Second {
			return nil, fmt.Errorf("podman system service on %s did not answer within 30s", socket)
		}
	}
	os.Setenv("CONTAINERS_CONF", confPath)
	os.Setenv("PODPROF_SERVICE", "system")
	defer os.Unsetenv("CONTAINERS_CONF")
	defer os.Unsetenv("PODPROF_SERVICE")
	b.logf("start: %d warm pairs through the system socket %s (--podprof-service=system)", b.cfg.startRuns, socket)
	var p StartPair
	err = withIdle(startIdle, func() (err error) {
		p, err = b.startPairs(ctx, true)
		return err
	})
	if err != nil {
		return nil, err
	}
	if pids := b.keptPids(); len(pids) > 0 {
		return nil, fmt.Errorf("podprof run --podprof-service=system started services of its own: %v", pids)
	}
	b.logf("start: system socket: podman %s, podprof %s, ratio %s", secs(p.Podman.Median), secs(p.Podprof.Median), times(p.RatioOfMedians))
	return &p, nil
}

// newStartPair compares start times taken in interleaved pairs.
func newStartPair(podman, podprof []float64) StartPair {
	p := StartPair{Runs: len(podman), Podman: newStats(podman), Podprof: newStats(podprof)}
	p.Ratio = newStats(paired(podman, podprof, ratio))
	p.Added = newStats(paired(podman, podprof, func(a, b float64) float64 { return b - a }))
	p.RatioOfMedians = p.Podprof.Median / p.Podman.Median
	return p
}

// startComponents times the parts of a podprof run on their own, with no
// tracer loaded: what bounds its start.
func (b *bench) startComponents(ctx context.Context) ([]Component, error) {
	var binStart, tracerReady, tracerExit, svcReady, svcStop, remoteRun, remoteRun2, localRun []float64
	for i := 0; i < b.cfg.componentReps; i++ {
		if err := b.waitQuiet(ctx); err != nil {
			return nil, err
		}
		d, _, err := runTimed(ctx, b.podprof, "help")
		if err != nil {
			return nil, err
		}
		binStart = append(binStart, d.Seconds())

		ready, exit, err := b.spawnTracer(ctx)
		if err != nil {
			return nil, err
		}
		tracerReady = append(tracerReady, ready.Seconds())
		tracerExit = append(tracerExit, exit.Seconds())

		ready, stop, remote, remote2, err := b.serviceTimes(ctx)
		if err != nil {
			return nil, err
		}
		svcReady = append(svcReady, ready.Seconds())
		svcStop = append(svcStop, stop.Seconds())
		remoteRun = append(remoteRun, remote.Seconds())
		remoteRun2 = append(remoteRun2, remote2.Seconds())

		prog, args := b.containerCmd(false, b.name(), "", nil, busyboxImage, "true")
		d, _, err = runTimed(ctx, prog, args...)
		if err != nil {
			return nil, err
		}
		localRun = append(localRun, d.Seconds())
	}
	return []Component{
		{"podprof binary start", "`podprof help`: exec, runtime and package init of the podprof binary (podprof run pays it once; the hook is podprof-hook)", newStats(binStart)},
		{"tracer spawn to ready", "`podprof hook --daemon MODE` started as podprof run does, until it says ok: exec + BPF load + attach + socket (overlaps the service start)", newStats(tracerReady)},
		{"tracer exit", "from the last client's disconnect to the tracer process's exit (detach, free maps)", newStats(tracerExit)},
		{"service ready", "`podman system service` started until its socket answers", newStats(svcReady)},
		{"service stop", "SIGTERM to the service until it exits (podprof run waits for it)", newStats(svcStop)},
		{"remote podman run", "`podman --url SERVICE run --rm IMAGE true` through that service, its first request: the container part of podprof run, without hook", newStats(remoteRun)},
		{"remote podman run, again", "the same through the same service, its second request", newStats(remoteRun2)},
		{"local podman run", "`podman run --rm IMAGE true`, for comparison, in the same rounds", newStats(localRun)},
	}, nil
}

// hookOnlyPairs times `podman run --rm IMAGE true` against the same with
// podprof's hook in a hooks dir and the profile annotation, while a tracer
// is loaded: podprof without its private podman service, as the planned
// standalone hook would run. The difference is the hook's alone.
func (b *bench) hookOnlyPairs(ctx context.Context) (StartPair, error) {
	hooksDir := filepath.Join(b.tmp, "hooks.d")
	if err := b.writeHook(hooksDir); err != nil {
		return StartPair{}, err
	}
	var podman, hooked []float64
	for round := -1; round < b.cfg.startRuns; round++ {
		for _, traced := range sides(round + 1) {
			args := []string{"run", "--rm", "--name", b.name()}
			profile := b.profilePath("hookonly")
			if traced {
				args = append([]string{"--hooks-dir", hooksDir}, append(args, "--annotation", "io.podprof.profile="+profile)...)
			}
			d, _, err := runTimed(ctx, "podman", append(args, busyboxImage, "true")...)
			if err != nil {
				return StartPair{}, err
			}
			if traced {
				// The tracer writes the profile as the container's
				// init exits, before podman reports the exit.
				if err := waitFile(ctx, profile, 10*time.Second, func() error { return nil }); err != nil {
					return StartPair{}, fmt.Errorf("the hook-only run wrote no profile: %w", err)
				}
				os.Remove(profile)
			}
			if round < 0 {
				continue
			}
			if traced {
				hooked = append(hooked, d.Seconds())
			} else {
				podman = append(podman, d.Seconds())
			}
		}
	}
	return newStartPair(podman, hooked), nil
}

// writeHook writes make install's hook for the bench's podprof, with env,
// to a new hooks dir.
func (b *bench) writeHook(dir string, env ...string) error {
	return e2e.WriteInstalledHook(".", dir, b.podprof, env...)
}

// hookComponent names the hook's time, exec to Watch, among the start's
// parts.
const hookComponent = "prestart hook, warm"

// hookTimes times the OCI prestart hook, which runc waits for before it
// starts the container's program: podprof-hook with the state of an
// untraced sleeping container on stdin, while a tracer is loaded (a holder
// runs). It returns once the tracer watches that container. As many runs
// as start pairs: its goal is in milliseconds, which one busy moment of
// the machine moves.
func (b *bench) hookTimes(ctx context.Context) (Component, error) {
	var times []float64
	for i := 0; i < b.cfg.startRuns; i++ {
		name := b.name()
		if _, err := output("podman", "run", "-d", "--rm", "--name", name, busyboxImage, "sleep", "600"); err != nil {
			return Component{}, err
		}
		pidText, err := output("podman", "container", "inspect", "--format", "{{.State.Pid}}", name)
		pid, _ := strconv.Atoi(pidText)
		if err != nil || pid <= 0 {
			output("podman", "rm", "-f", name)
			return Component{}, fmt.Errorf("the pid of container %s: %q %v", name, pidText, err)
		}
		state, _ := json.Marshal(map[string]any{
			"ociVersion":  "1.0.2",
			"id":          name,
			"status":      "created",
			"pid":         pid,
			"bundle":      b.tmp, // not podman's layout: the profile names no image
			"annotations": map[string]string{"io.podprof.profile": b.profilePath("hook")},
		})
		cmd := exec.CommandContext(ctx, filepath.Join(filepath.Dir(b.podprof), podmancmd.HookExecutable))
		cmd.Stdin = bytes.NewReader(state)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		d := time.Since(start)
		output("podman", "rm", "-f", "-t", "0", name)
		if err != nil {
			return Component{}, fmt.Errorf("podprof-hook: %v: %s", err, out)
		}
		times = append(times, d.Seconds())
	}
	return Component{hookComponent, "podprof-hook given a container's OCI state, a tracer loaded: exec + init of the hook's binary, connect, Watch; runc waits for it before the container's program starts", newStats(times)}, nil
}

// spawnTracer starts the tracer process the way podprof run does and times
// it to ready; then connects (the daemon holds itself for its spawner until
// a first connection) and times its exit once that connection closes.
func (b *bench) spawnTracer(ctx context.Context) (ready, exit time.Duration, err error) {
	mode := b.res.TracerMode
	if mode == "" {
		mode = "auto"
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return 0, 0, err
	}
	defer readyR.Close()
	cmd := exec.Command(b.podprof, "hook", "--daemon", mode)
	cmd.ExtraFiles = []*os.File{readyW}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		readyW.Close()
		return 0, 0, err
	}
	readyW.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	line, _ := bufio.NewReader(readyR).ReadString('\n')
	ready = time.Since(start)
	if strings.TrimSpace(line) != "ok" {
		cmd.Process.Kill()
		<-done
		return 0, 0, fmt.Errorf("the tracer process did not start: %q", line)
	}
	socket, err := listeningSocket(cmd.Process.Pid)
	if err != nil {
		cmd.Process.Kill()
		<-done
		return 0, 0, err
	}
	conn, err := net.Dial("unix", socket)
	if err != nil {
		cmd.Process.Kill()
		<-done
		return 0, 0, fmt.Errorf("connecting to the tracer: %w", err)
	}
	closed := time.Now()
	conn.Close()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		return 0, 0, errors.New("the tracer process did not exit within 30s of its only client's disconnect")
	}
	return ready, time.Since(closed), nil
}

// serviceTimes starts a private podman service as podprof run does, runs
// a container through it, and stops it.
func (b *bench) serviceTimes(ctx context.Context) (ready, stop, remote, remote2 time.Duration, err error) {
	dir, err := os.MkdirTemp(b.tmp, "svc-")
	if err != nil {
		return 0, 0, 0, 0, err
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "podman.sock")
	cmd := exec.Command("podman", "system", "service", "--time=0", "unix://"+sock)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setpgid: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, 0, 0, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stopSvc := func() time.Duration {
		t := time.Now()
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		return time.Since(t)
	}
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		if time.Since(start) > 30*time.Second {
			stopSvc()
			return 0, 0, 0, 0, errors.New("podman system service did not answer within 30s")
		}
		time.Sleep(time.Millisecond)
	}
	ready = time.Since(start)
	remote, _, err = runTimed(ctx, "podman", "--url", "unix://"+sock, "run", "--rm", "--name", b.name(), busyboxImage, "true")
	if err == nil {
		remote2, _, err = runTimed(ctx, "podman", "--url", "unix://"+sock, "run", "--rm", "--name", b.name(), busyboxImage, "true")
	}
	stop = stopSvc()
	return ready, stop, remote, remote2, err
}

// ---- 2. opens in a container ------------------------------------------

type pairsOut struct {
	Pairs        int     `json:"pairs"`
	ElapsedNS    int64   `json:"elapsed_ns"`
	NSPerPair    float64 `json:"ns_per_pair"`
	CPUNSPerPair float64 `json:"cpu_ns_per_pair"`
}

func lastJSONLine(out []byte, v any) error {
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	if err := json.Unmarshal(lines[len(lines)-1], v); err != nil {
		return fmt.Errorf("the workload's output %q: %w", lastLines(string(out), 2), err)
	}
	return nil
}

const openPath = "/etc/passwd" // a file of the image, on the overlay

func (b *bench) benchOpens(ctx context.Context) error {
	r := &OpensResult{Image: busyboxImage, Path: openPath, Pairs: b.cfg.pairs}
	b.res.Opens = r
	b.logf("opens: %d x %d open+close pairs of %s in a container, podman run vs podprof run", b.cfg.openReps, b.cfg.pairs, openPath)
	var untraced, traced, untracedWall, tracedWall []float64
	for round := 0; round < b.cfg.openReps; round++ {
		for _, tr := range sides(round) {
			if err := b.waitQuiet(ctx); err != nil {
				return err
			}
			name := b.name()
			profile := b.profilePath("opens")
			prog, args := b.containerCmd(tr, name, profile, []string{"-v", b.loop + ":/pbloop:ro"}, busyboxImage,
				"/pbloop", "pairs", "-n", fmt.Sprint(b.cfg.pairs), "-path", openPath)
			_, out, err := runTimed(ctx, prog, args...)
			if err != nil {
				return err
			}
			var o pairsOut
			if err := lastJSONLine(out, &o); err != nil {
				return err
			}
			if tr {
				p, err := b.readProfile(profile)
				if err != nil {
					return err
				}
				if !hasFile(p, openPath, func(f report.File) bool { return f.Read }) {
					return fmt.Errorf("the traced run's profile %s does not record the read of %s: the loop ran untraced", profile, openPath)
				}
				os.Remove(profile)
				traced, tracedWall = append(traced, o.CPUNSPerPair), append(tracedWall, o.NSPerPair)
			} else {
				untraced, untracedWall = append(untraced, o.CPUNSPerPair), append(untracedWall, o.NSPerPair)
			}
			b.logf("opens: round %d %s: %.0f ns/pair CPU, %.0f ns/pair wall", round+1, map[bool]string{false: "podman ", true: "podprof"}[tr], o.CPUNSPerPair, o.NSPerPair)
		}
	}
	r.Untraced, r.Traced = newStats(untraced), newStats(traced)
	r.UntracedWall, r.TracedWall = newStats(untracedWall), newStats(tracedWall)
	r.AddedPercent = newStats(paired(untraced, traced, addedPercent))
	r.AddedNS = r.Traced.Median - r.Untraced.Median
	r.PercentMedians = 100 * r.AddedNS / r.Untraced.Median
	err := b.retryForeign(ctx, "opens", func() (err error) {
		r.BPF, err = b.opensBPFStats(ctx)
		return err
	})
	if err != nil {
		return err
	}
	b.logf("opens: BPF programs ran %.0f ns per pair (%.2f runs per pair)", r.BPF.NSPerPair, r.BPF.RunsPerPair)
	return nil
}

// opensBPFStats runs the traced loop once more with the kernel's BPF run
// time statistics on, and returns what the tracer's programs cost per pair
// during the loop: the program part of what tracing adds.
func (b *bench) opensBPFStats(ctx context.Context) (*BPFStats, error) {
	if err := b.waitQuiet(ctx); err != nil {
		return nil, err
	}
	stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		return nil, fmt.Errorf("enabling BPF run time statistics: %w", err)
	}
	defer stats.Close()
	ctl := filepath.Join(b.tmp, fmt.Sprintf("ctl-%d", b.seq))
	if err := os.Mkdir(ctl, 0o755); err != nil {
		return nil, err
	}
	defer os.RemoveAll(ctl)
	name := b.name()
	profile := b.profilePath("opens-stats")
	defer os.Remove(profile)
	prog, args := b.containerCmd(true, name, profile, []string{"-v", b.loop + ":/pbloop:ro", "-v", ctl + ":/ctl"}, busyboxImage,
		"/pbloop", "pairs", "-n", fmt.Sprint(b.cfg.pairs), "-path", openPath, "-ctl", "/ctl")
	c, err := startCtl(ctx, ctl, name, prog, args...)
	if err != nil {
		return nil, err
	}
	if err := c.wait("ready", 2*time.Minute); err != nil {
		return nil, c.fail(err)
	}
	tracer, err := b.waitTracer(ctx, 10*time.Second)
	if err != nil {
		return nil, c.fail(err)
	}
	before, err := progStats(tracer)
	if err != nil {
		return nil, c.fail(err)
	}
	if err := c.signal("go"); err != nil {
		return nil, c.fail(err)
	}
	if err := c.wait("done", 10*time.Minute); err != nil {
		return nil, c.fail(err)
	}
	after, err := progStats(tracer)
	if err != nil {
		return nil, c.fail(err)
	}
	if err := c.signal("release"); err != nil {
		return nil, c.fail(err)
	}
	if _, err := c.finish(); err != nil {
		return nil, err
	}
	return bpfStatsDelta(before, after, b.cfg.pairs), nil
}

func hasFile(p *report.Profile, path string, ok func(report.File) bool) bool {
	for _, f := range p.Files {
		if f.Path == path && ok(f) {
			return true
		}
	}
	return false
}

// ---- 3. host tax -------------------------------------------------------

// floorProgram is the least a tracer on sys_exit can cost: an empty
// tp_btf program, which still sends every system call of the host through
// the tracepoint's slow path.
const floorProgramName = "bench_floor"

func floorProgram() (*ebpf.Program, func(), error) {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         floorProgramName,
		Type:         ebpf.Tracing,
		AttachType:   ebpf.AttachTraceRawTp,
		AttachTo:     "sys_exit",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
		License:      "GPL",
	})
	if err != nil {
		return nil, nil, fmt.Errorf("loading the empty tp_btf/sys_exit program: %w", err)
	}
	l, err := link.AttachTracing(link.TracingOptions{Program: prog})
	if err != nil {
		prog.Close()
		return nil, nil, fmt.Errorf("attaching the empty tp_btf/sys_exit program: %w", err)
	}
	return prog, func() { l.Close(); prog.Close() }, nil
}

func (b *bench) hostLoop(ctx context.Context) (pairsOut, error) {
	var o pairsOut
	_, out, err := runTimed(ctx, b.loop, "pairs", "-n", fmt.Sprint(b.cfg.pairs), "-path", openPath)
	if err != nil {
		return o, err
	}
	err = lastJSONLine(out, &o)
	return o, err
}

func (b *bench) benchHostTax(ctx context.Context) error {
	r := &HostTaxResult{Path: openPath, Pairs: b.cfg.pairs}
	b.res.HostTax = r
	b.logf("host tax: %d rounds of %d open+close pairs of the host's %s: no BPF, empty tp_btf/sys_exit, podprof tracer (watching a sleeping container), podprof tracer lingering after a run (watching nothing)", b.cfg.hostReps, b.cfg.pairs, openPath)
	var none, floor, podprof, lingering, noneWall, floorWall, podprofWall []float64
	configs := []string{"none", "floor", "podprof", "lingering"}
	for round := 0; round < b.cfg.hostReps; round++ {
		for k := range configs {
			config := configs[(k+round)%len(configs)]
			if err := b.waitQuiet(ctx); err != nil {
				return err
			}
			var o pairsOut
			var err error
			switch config {
			case "none":
				o, err = b.hostLoop(ctx)
				none, noneWall = append(none, o.CPUNSPerPair), append(noneWall, o.NSPerPair)
			case "floor":
				var unload func()
				if _, unload, err = floorProgram(); err != nil {
					return err
				}
				o, err = b.hostLoop(ctx)
				unload()
				floor, floorWall = append(floor, o.CPUNSPerPair), append(floorWall, o.NSPerPair)
			case "podprof":
				var h *holder
				if h, err = b.startHolderRetry(ctx); err != nil {
					return err
				}
				o, err = b.hostLoop(ctx)
				if serr := h.stop(); err == nil {
					err = serr
				}
				podprof, podprofWall = append(podprof, o.CPUNSPerPair), append(podprofWall, o.NSPerPair)
			case "lingering":
				err = withIdle(lingerIdle, func() error {
					if err := b.lingeringTracer(ctx, r); err != nil {
						return err
					}
					o, err = b.hostLoop(ctx)
					return err
				})
				lingering = append(lingering, o.CPUNSPerPair)
			}
			if err != nil {
				return err
			}
			b.logf("host tax: round %d %-7s %.0f ns/pair CPU, %.0f ns/pair wall", round+1, config, o.CPUNSPerPair, o.NSPerPair)
		}
	}
	r.None, r.Floor, r.Podprof, r.Lingering = newStats(none), newStats(floor), newStats(podprof), newStats(lingering)
	r.LingeringAddedNS = r.Lingering.Median - r.None.Median
	r.NoneWall, r.FloorWall, r.PodprofWall = newStats(noneWall), newStats(floorWall), newStats(podprofWall)
	r.FloorAddedNS = r.Floor.Median - r.None.Median
	r.PodprofAddedNS = r.Podprof.Median - r.None.Median
	r.PodprofOverFloorNS = r.Podprof.Median - r.Floor.Median
	return b.hostTaxBPFStats(ctx, r)
}

// lingerIdle is the idle time of the runs before the lingering tracer's
// host loops: long enough for a loop, not to keep the next round waiting.
const lingerIdle = 10 * time.Second

// lingeringTracer runs a container through podprof and leaves its tracer,
// service and keeper lingering (withIdle); it checks that the tracer has
// no BPF link while it watches nothing, and notes what they hold.
func (b *bench) lingeringTracer(ctx context.Context, r *HostTaxResult) error {
	prog, args := b.containerCmd(true, b.name(), b.profilePath("linger"), nil, busyboxImage, "true")
	if _, _, err := runTimed(ctx, prog, args...); err != nil {
		return err
	}
	mine, _ := b.tracers()
	if len(mine) != 1 {
		return fmt.Errorf("after a podprof run, want its tracer lingering: the bench's tracers are %v", mine)
	}
	// It detaches its programs once it has seen the run's watch end, a
	// moment after the run.
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		links, err := heldLinks(mine[0])
		if err != nil {
			return err
		}
		if links == 0 {
			break
		}
		if time.Since(start) > 2*time.Second {
			return fmt.Errorf("the lingering tracer %d watches nothing but holds %d BPF links 2 s after the run", mine[0], links)
		}
	}
	m, err := processMemory(mine[0])
	if err != nil {
		return err
	}
	r.LingeringTracer = &m
	r.LingeringKept = map[string]int64{}
	for _, pid := range b.keptPids() {
		if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil {
			if km, err := processMemory(pid); err == nil {
				r.LingeringKept[filepath.Base(strings.Split(string(cmdline), "\x00")[0])] = km.VmRSS
			}
		}
	}
	return nil
}

// hostTaxBPFStats runs the host loop once more under each program with the
// kernel's BPF run time statistics on: how much of the tax is the programs'
// own run time, and how much the tracepoint's.
func (b *bench) hostTaxBPFStats(ctx context.Context, r *HostTaxResult) error {
	stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		return fmt.Errorf("enabling BPF run time statistics: %w", err)
	}
	defer stats.Close()

	prog, unload, err := floorProgram()
	if err != nil {
		return err
	}
	before, err := prog.Stats()
	if err == nil {
		_, err = b.hostLoop(ctx)
	}
	var after *ebpf.ProgramStats
	if err == nil {
		after, err = prog.Stats()
	}
	unload()
	if err != nil {
		return err
	}
	r.FloorBPF = &BPFStats{
		NSPerPair:   float64(after.Runtime-before.Runtime) / float64(b.cfg.pairs),
		RunsPerPair: float64(after.RunCount-before.RunCount) / float64(b.cfg.pairs),
	}

	h, err := b.startHolderRetry(ctx)
	if err != nil {
		return err
	}
	defer h.stop()
	pb, err := progStats(h.tracer)
	if err != nil {
		return err
	}
	if _, err := b.hostLoop(ctx); err != nil {
		return err
	}
	pa, err := progStats(h.tracer)
	if err != nil {
		return err
	}
	r.PodprofBPF = bpfStatsDelta(pb, pa, b.cfg.pairs)
	b.logf("host tax: BPF programs ran %.0f ns per pair (floor program %.0f ns)", r.PodprofBPF.NSPerPair, r.FloorBPF.NSPerPair)
	return h.stop()
}

// ---- 4. burst and 6. memory --------------------------------------------

type burstOut struct {
	Files       int   `json:"files"`
	CreateNS    int64 `json:"create_ns"`
	OpenNS      int64 `json:"open_ns"`
	CreateCPUNS int64 `json:"create_cpu_ns"`
	OpenCPUNS   int64 `json:"open_cpu_ns"`
}

type burstRun struct {
	out      burstOut
	tail     time.Duration
	profile  *report.Profile
	memEmpty Memory
	memFull  Memory
	peakHWM  int64
}

func (b *bench) benchBurst(ctx context.Context) error {
	n := b.cfg.burstFiles
	tree := filepath.Join(b.shm, "tree")
	b.logf("burst: making %d files in %s for the open-only variant", n, tree)
	if err := makeTree(tree, n); err != nil {
		return err
	}
	variants := []struct {
		name, what string
		args       []string
		extra      []string
		write      bool
	}{
		{"create+open", fmt.Sprintf("the container creates %d empty files in a tmpfs (open O_CREAT|O_WRONLY, close), then opens each once O_RDONLY: %d opens, each file reported twice (its flags grow)", n, 2*n),
			[]string{"--tmpfs", "/burst:rw,mode=755"}, nil, true},
		{"open-only", fmt.Sprintf("the container opens %d files that exist already (a host tmpfs dir, bind-mounted read-only), each once O_RDONLY", n),
			[]string{"-v", tree + ":/burst:ro"}, []string{"-open-only"}, false},
	}
	mem := &MemoryResult{Files: n}
	for vi, v := range variants {
		r := &BurstResult{Variant: v.name, What: v.what, Files: n, ProfileOK: true}
		b.res.Bursts = append(b.res.Bursts, r)
		var cu, ct, ou, ot, tu, tt, cuc, ctc, ouc, otc []float64
		for round := 0; round < b.cfg.burstReps; round++ {
			for _, traced := range sides(round) {
				var run *burstRun
				err := b.retryForeign(ctx, "burst", func() (err error) {
					run, err = b.burstOnce(ctx, traced, append(v.args, "-v", b.loop+":/pbloop:ro"),
						append([]string{"/pbloop", "burst", "-n", fmt.Sprint(n), "-dir", "/burst", "-ctl", "/ctl"}, v.extra...))
					return err
				})
				if err != nil {
					return fmt.Errorf("%s: %w", v.name, err)
				}
				create, open := float64(run.out.CreateNS)/1e9, float64(run.out.OpenNS)/1e9
				createCPU, openCPU := float64(run.out.CreateCPUNS)/1e9, float64(run.out.OpenCPUNS)/1e9
				if !traced {
					cu, ou, tu = append(cu, create), append(ou, open), append(tu, run.tail.Seconds())
					cuc, ouc = append(cuc, createCPU), append(ouc, openCPU)
					b.logf("burst %s: podman : create %.3f s (CPU %.3f), open %.3f s (CPU %.3f), tail %.3f s", v.name, create, createCPU, open, openCPU, run.tail.Seconds())
					continue
				}
				ct, ot, tt = append(ct, create), append(ot, open), append(tt, run.tail.Seconds())
				ctc, otc = append(ctc, createCPU), append(otc, openCPU)
				recorded := 0
				for _, f := range run.profile.Files {
					if strings.HasPrefix(f.Path, "/burst/d") && f.Read && f.Write == v.write {
						recorded++
					}
				}
				r.Recorded = append(r.Recorded, recorded)
				r.Lost = append(r.Lost, run.profile.LostEvents)
				if recorded != n || run.profile.LostEvents != 0 {
					r.ProfileOK = false
				}
				b.logf("burst %s: podprof: create %.3f s (CPU %.3f), open %.3f s (CPU %.3f), tail %.3f s; recorded %d/%d, lost %d; tracer RSS+memlock %s -> %s, each page once %s -> %s (peak RSS %s)",
					v.name, create, createCPU, open, openCPU, run.tail.Seconds(), recorded, n, run.profile.LostEvents, mib(float64(run.memEmpty.Total)), mib(float64(run.memFull.Total)), mib(float64(run.memEmpty.Unique)), mib(float64(run.memFull.Unique)), mib(float64(run.peakHWM)))
				if vi == 0 {
					mem.Empty = append(mem.Empty, run.memEmpty)
					mem.Full = append(mem.Full, run.memFull)
					mem.PeakHWM = append(mem.PeakHWM, run.peakHWM)
				}
			}
		}
		if v.write {
			r.CreateUntraced, r.CreateTraced = newStats(cu), newStats(ct)
			r.CreateUntracedCPU, r.CreateTracedCPU = newStats(cuc), newStats(ctc)
		}
		r.OpenUntraced, r.OpenTraced = newStats(ou), newStats(ot)
		r.OpenUntracedCPU, r.OpenTracedCPU = newStats(ouc), newStats(otc)
		r.TailUntraced, r.TailTraced = newStats(tu), newStats(tt)
	}
	var empty, full, peak, emptyU, fullU, peakU []float64
	for i := range mem.Full {
		empty = append(empty, float64(mem.Empty[i].Total))
		full = append(full, float64(mem.Full[i].Total))
		peak = append(peak, float64(mem.PeakHWM[i]+mem.Full[i].MapMemlock))
		emptyU = append(emptyU, float64(mem.Empty[i].Unique))
		fullU = append(fullU, float64(mem.Full[i].Unique))
		peakU = append(peakU, float64(mem.PeakHWM[i]-mem.Full[i].RssBPFMap+mem.Full[i].MapMemlock))
	}
	mem.EmptyTotal, mem.FullTotal, mem.PeakTotal = newStats(empty), newStats(full), newStats(peak)
	mem.EmptyUnique, mem.FullUnique, mem.PeakUnique = newStats(emptyU), newStats(fullU), newStats(peakU)
	b.res.Memory = mem
	if err := os.RemoveAll(tree); err != nil {
		return err
	}
	return b.retryForeign(ctx, "burst profile", func() error {
		return b.burstProfile(ctx, variants[0].args, n)
	})
}

// burstProfile samples the whole machine with perf while a traced
// create+open burst runs, and keeps where the workload's CPU time went:
// what bounds a burst.
func (b *bench) burstProfile(ctx context.Context, podmanArgs []string, n int) error {
	perfPath, err := exec.LookPath("perf")
	if err != nil {
		b.note("perf is not installed: no profile of the burst (apt-get install linux-perf)")
		return nil
	}
	data := filepath.Join(b.tmp, "burst.perf")
	var perf *exec.Cmd
	var perfOut bytes.Buffer
	around := func(stage string) error {
		if stage == "go" {
			perf = exec.CommandContext(ctx, perfPath, "record", "-a", "-g", "--call-graph", "fp", "-o", data)
			perf.Stdout, perf.Stderr = &perfOut, &perfOut
			if err := perf.Start(); err != nil {
				return fmt.Errorf("perf record: %w", err)
			}
			time.Sleep(time.Second) // perf opens its events
			return nil
		}
		perf.Process.Signal(os.Interrupt)
		// perf record ends by raising the SIGINT it was stopped with.
		if err := perf.Wait(); err != nil && !strings.Contains(perfOut.String(), "Captured and wrote") {
			return fmt.Errorf("perf record: %v: %s", err, lastLines(perfOut.String(), 3))
		}
		return nil
	}
	b.logf("burst: one more traced create+open burst, sampled with perf record -a -g")
	if _, err := b.burstOnceWith(ctx, true, append(podmanArgs, "-v", b.loop+":/pbloop:ro"),
		[]string{"/pbloop", "burst", "-n", fmt.Sprint(n), "-dir", "/burst", "-ctl", "/ctl"}, around); err != nil {
		return err
	}
	_, out, err := runTimed(ctx, perfPath, "report", "-i", data, "--comm", "pbloop",
		"--no-children", "--sort", "sym", "--stdio", "-g", "none")
	os.Remove(data)
	if err != nil {
		return err
	}
	b.res.BurstProfile = parsePerfShares(string(out))
	for _, ps := range perfShares {
		b.logf("burst: %.1f%% of the workload's CPU: %s", b.res.BurstProfile[ps.name], ps.name)
	}
	return nil
}

// perfShares sorts the workload's samples by the function they were
// taken in (self time: call chains through BPF programs are not always
// whole in perf's reports), in the order shown.
var perfShares = []struct {
	name  string
	match func(sym string) bool
}{
	{"ring buffer wake-ups of the reader: irq_work self-IPI (native_write_msr, a VM exit here) and waking it", func(sym string) bool {
		switch sym {
		case "native_write_msr", "native_apic_msr_write", "arch_irq_work_raise", "irq_work_queue", "__irq_work_queue_local",
			"sysvec_irq_work", "irq_work_run", "irq_work_run_list", "irq_work_single", "bpf_ringbuf_notify",
			"__wake_up", "__wake_up_common", "ep_poll_callback", "try_to_wake_up", "ttwu_do_activate", "ttwu_queue_wakelist":
			return true
		}
		return false
	}},
	{"tracer's BPF programs, their own code (bpf_prog_*)", func(sym string) bool { return strings.HasPrefix(sym, "bpf_prog_") }},
	{"BPF helpers and maps (bpf_*, htab_*, probe reads)", func(sym string) bool {
		for _, p := range []string{"bpf_", "__bpf", "htab_", "__htab", "lookup_nulls_elem_raw", "copy_from_kernel_nofault", "alloc_htab_elem", "pcpu_", "__pcpu"} {
			if strings.HasPrefix(sym, p) {
				return true
			}
		}
		return false
	}},
	{"everything else (the system calls themselves, user space)", func(string) bool { return true }},
}

// parsePerfShares reads `perf report --no-children --sort sym --stdio`:
// the share of the workload's samples in each group of perfShares, in
// percent.
func parsePerfShares(report string) map[string]float64 {
	out := map[string]float64{}
	var total float64
	for _, line := range strings.Split(report, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || !strings.HasSuffix(f[0], "%") || f[1] != "[k]" && f[1] != "[.]" {
			continue
		}
		self, err := strconv.ParseFloat(strings.TrimSuffix(f[0], "%"), 64)
		if err != nil {
			continue
		}
		total += self
		for _, s := range perfShares {
			if s.match(f[2]) {
				out[s.name] += self
				break
			}
		}
	}
	if total == 0 {
		return nil
	}
	for k, v := range out {
		out[k] = 100 * v / total
	}
	return out
}

func makeTree(dir string, n int) error {
	for i := 0; i < n; i++ {
		if i%1000 == 0 {
			if err := os.MkdirAll(fmt.Sprintf("%s/d%03d", dir, i/1000), 0o755); err != nil {
				return err
			}
		}
		f, err := os.Create(fmt.Sprintf("%s/d%03d/f%06d", dir, i/1000, i))
		if err != nil {
			return err
		}
		f.Close()
	}
	return nil
}

// burstOnce runs the burst workload in a container and follows its
// hand-shake: the tracer's memory is read once the container is watched
// and before its first open, then once it has opened everything, and its
// peak until it exits.
func (b *bench) burstOnce(ctx context.Context, traced bool, podmanArgs, command []string) (*burstRun, error) {
	return b.burstOnceWith(ctx, traced, podmanArgs, command, nil)
}

// burstOnceWith is burstOnce; around is called with "go" just before the
// workload is let go and with "done" once it has opened everything.
func (b *bench) burstOnceWith(ctx context.Context, traced bool, podmanArgs, command []string, around func(stage string) error) (*burstRun, error) {
	if err := b.waitQuiet(ctx); err != nil {
		return nil, err
	}
	name := b.name()
	ctl := filepath.Join(b.tmp, fmt.Sprintf("ctl-%d", b.seq))
	if err := os.Mkdir(ctl, 0o755); err != nil {
		return nil, err
	}
	defer os.RemoveAll(ctl)
	profile := b.profilePath("burst")
	defer os.Remove(profile)
	prog, args := b.containerCmd(traced, name, profile, append([]string{"-v", ctl + ":/ctl"}, podmanArgs...), busyboxImage, command...)
	c, err := startCtl(ctx, ctl, name, prog, args...)
	if err != nil {
		return nil, err
	}
	run := &burstRun{}
	if err := c.wait("ready", 2*time.Minute); err != nil {
		return nil, c.fail(err)
	}
	tracer := 0
	if traced {
		if tracer, err = b.waitTracer(ctx, 10*time.Second); err != nil {
			return nil, c.fail(err)
		}
		if run.memEmpty, err = processMemory(tracer); err != nil {
			return nil, c.fail(err)
		}
	}
	if around != nil {
		if err := around("go"); err != nil {
			return nil, c.fail(err)
		}
	}
	if err := c.signal("go"); err != nil {
		return nil, c.fail(err)
	}
	if err := c.wait("done", 10*time.Minute); err != nil {
		return nil, c.fail(err)
	}
	if around != nil {
		if err := around("done"); err != nil {
			return nil, c.fail(err)
		}
	}
	if traced {
		if run.memFull, err = processMemory(tracer); err != nil {
			return nil, c.fail(err)
		}
	}
	released := time.Now()
	if err := c.signal("release"); err != nil {
		return nil, c.fail(err)
	}
	peak := make(chan int64, 1)
	if traced {
		go func() {
			var max int64
			for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
				hwm := vmHWM(tracer)
				if hwm == 0 {
					break
				}
				max = hwm
			}
			peak <- max
		}()
	}
	out, err := c.finish()
	run.tail = time.Since(released)
	if err != nil {
		return nil, err
	}
	if err := lastJSONLine(out, &run.out); err != nil {
		return nil, err
	}
	if traced {
		run.peakHWM = <-peak
		if run.profile, err = b.readProfile(profile); err != nil {
			return nil, err
		}
	}
	return run, nil
}

// ctlRun is a container run in the background whose workload hand-shakes
// with the bench through files in a shared directory.
type ctlRun struct {
	ctx            context.Context
	ctl, name      string
	prog           string
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan error
	exited         bool
	exitErr        error
}

func startCtl(ctx context.Context, ctl, name, prog string, args ...string) (*ctlRun, error) {
	c := &ctlRun{ctx: ctx, ctl: ctl, name: name, prog: prog, done: make(chan error, 1)}
	c.cmd = exec.CommandContext(ctx, prog, args...)
	c.cmd.Stdout, c.cmd.Stderr = &c.stdout, &c.stderr
	if err := c.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { c.done <- c.cmd.Wait() }()
	return c, nil
}

func (c *ctlRun) alive() error {
	if !c.exited {
		select {
		case c.exitErr = <-c.done:
			c.exited = true
		default:
			return nil
		}
	}
	return fmt.Errorf("the container exited early: %v: %s", c.exitErr, lastLines(c.stderr.String(), 3))
}

func (c *ctlRun) wait(file string, timeout time.Duration) error {
	return waitFile(c.ctx, filepath.Join(c.ctl, file), timeout, c.alive)
}

func (c *ctlRun) signal(file string) error {
	return os.WriteFile(filepath.Join(c.ctl, file), nil, 0o644)
}

// fail kills the container and returns err.
func (c *ctlRun) fail(err error) error {
	if !c.exited {
		output("podman", "kill", c.name)
		c.exitErr, c.exited = <-c.done, true
	}
	return err
}

// finish waits for the run's end and returns its stdout.
func (c *ctlRun) finish() ([]byte, error) {
	if !c.exited {
		c.exitErr, c.exited = <-c.done, true
	}
	if c.exitErr != nil {
		return nil, fmt.Errorf("%s: %v: %s", c.prog, c.exitErr, lastLines(c.stderr.String(), 3))
	}
	return c.stdout.Bytes(), nil
}
