package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/podprof/podprof/podmancmd"
)

// runTimed runs a command to its end and returns its wall time and stdout.
// A non-zero exit is an error that quotes the end of its stderr.
func runTimed(ctx context.Context, name string, args ...string) (time.Duration, []byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	if err != nil {
		return elapsed, stdout.Bytes(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, lastLines(stderr.String(), 5))
	}
	return elapsed, stdout.Bytes(), nil
}

// podmanStore is where podman keeps its images, as imagestore.Store
// reads them: the graph root and driver podman info gives.
func podmanStore() (graphRoot, driver string, err error) {
	out, err := output("podman", "info", "--format", "{{.Store.GraphRoot}}\n{{.Store.GraphDriverName}}")
	if err != nil {
		return "", "", err
	}
	graphRoot, driver, _ = strings.Cut(out, "\n")
	return graphRoot, driver, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

func output(name string, args ...string) (string, error) {
	_, out, err := runTimed(context.Background(), name, args...)
	return strings.TrimSpace(string(out)), err
}

// tracerProc is a running podprof tracer process (`podprof hook --daemon
// MODE`), the bench's own or another's.
type tracerProc struct {
	pid int
	exe string
}

func tracerProcs() []tracerProc {
	entries, _ := os.ReadDir("/proc")
	var procs []tracerProc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if len(args) >= 3 && args[1] == "hook" && args[2] == "--daemon" {
			exe, _ := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
			procs = append(procs, tracerProc{pid: pid, exe: strings.TrimSuffix(exe, " (deleted)")})
		}
	}
	return procs
}

// tracers splits the running tracers into the bench's own (started from
// its copy of podprof) and others': another session's podprof or tests.
func (b *bench) tracers() (mine, others []int) {
	for _, t := range tracerProcs() {
		if t.exe == b.podprof {
			mine = append(mine, t.pid)
			if b.tracerLock == "" {
				b.tracerLock = fdPath(t.pid, func(p string) bool { return strings.HasSuffix(p, ".lock") })
			}
		} else {
			others = append(others, t.pid)
		}
	}
	return mine, others
}

// fdPath returns the first path that process pid has open and ok accepts.
func fdPath(pid int, ok func(string) bool) string {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if target, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && ok(target) {
			return target
		}
	}
	return ""
}

// listeningSocket returns the path of the unix socket process pid listens
// on: the tracer's, whatever podprof names it.
func listeningSocket(pid int) (string, error) {
	inodes := map[string]bool{}
	fdPath(pid, func(target string) bool {
		if ino, ok := strings.CutPrefix(target, "socket:["); ok {
			inodes[strings.TrimSuffix(ino, "]")] = true
		}
		return false
	})
	table, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/unix", pid))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(table), "\n") {
		// Num RefCount Protocol Flags Type St Inode Path; flags 10000 is
		// __SO_ACCEPTCON: listening.
		f := strings.Fields(line)
		if len(f) == 8 && inodes[f[6]] && f[3] == "00010000" {
			return f[7], nil
		}
	}
	return "", fmt.Errorf("process %d listens on no unix socket", pid)
}

// tracerLockHeld tells whether a tracer of the bench's podprof holds its
// lock: one that is exiting no longer shows its command line but may still
// hold it. The test holds the lock for a few microseconds when it is free.
func (b *bench) tracerLockHeld() bool {
	if b.tracerLock == "" {
		return false // none ran yet
	}
	f, err := os.Open(b.tracerLock)
	if err != nil {
		return false // podprof removes it as its tracer exits
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		return true
	}
	unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return false
}

// waitQuiet returns once no tracer runs: before a baseline without tracer,
// or a podprof run that must load its own. The bench's own tracer ends
// soon after its last client. Tracing programs of someone else's (another
// session's podprof, tests loading the bpf package) are waited for as long
// as the bench's patience lasts (foreignPatience in all), then samples are
// taken anyway and counted as disturbed. The shared tracer lock must be
// free: a podprof run would use whatever tracer holds it.
func (b *bench) waitQuiet(ctx context.Context) error {
	start := time.Now()
	for {
		mine, _ := b.tracers()
		held := b.tracerLockHeld()
		var foreign []string
		if len(mine) == 0 && !held && len(b.keptServices()) == 0 {
			if foreign = b.foreignTracing(); len(foreign) == 0 {
				return nil
			}
			if b.patienceUsed+time.Since(start) > foreignPatience {
				b.patienceUsed += time.Since(start)
				b.disturbed(foreign)
				return nil
			}
		}
		if time.Since(start) > 5*time.Minute {
			return fmt.Errorf("a podprof tracer still runs after 5 minutes (the bench's: %v, shared lock held: %v, others' programs: %v): the bench needs the machine to itself", mine, held, foreign)
		}
		select {
		case <-ctx.Done():
			b.patienceUsed += time.Since(start)
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// keptServices are the directories of the bench's podprof's kept
// services: there while a service or its keeper runs.
func (b *bench) keptServices() []string {
	dirs, _ := filepath.Glob(b.services + "*")
	return dirs
}

// keptPids are the bench's kept services' processes: keepers and podman
// services, whose arguments name their directories.
func (b *bench) keptPids() []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")); err == nil && strings.Contains(string(cmdline), b.services) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// withIdle runs f with podprof runs keeping their service and tracer for
// idle after them; waitQuiet then waits for them to go.
func withIdle(idle time.Duration, f func() error) error {
	os.Setenv(podmancmd.IdleEnv, idle.String())
	defer os.Setenv(podmancmd.IdleEnv, "0")
	return f()
}

// foreignPatience is how long the bench waits in all for other tracers.
const foreignPatience = 3 * time.Minute

// foreignTracing lists the tracing BPF programs loaded on the machine that
// are not the bench's: each taxes system calls or opens of every process.
func (b *bench) foreignTracing() []string {
	own := map[ebpf.ProgramID]bool{}
	mine, _ := b.tracers()
	for _, pid := range mine {
		if stats, err := progStats(pid); err == nil {
			for id := range stats {
				if n, err := strconv.ParseUint(id, 10, 32); err == nil {
					own[ebpf.ProgramID(n)] = true
				}
			}
		}
	}
	var names []string
	var id ebpf.ProgramID
	for {
		next, err := ebpf.ProgramGetNextID(id)
		if err != nil {
			break
		}
		id = next
		if own[id] {
			continue
		}
		prog, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue
		}
		switch prog.Type() {
		case ebpf.Tracing, ebpf.RawTracepoint, ebpf.TracePoint, ebpf.Kprobe, ebpf.LSM:
			if info, err := prog.Info(); err == nil && info.Name != floorProgramName {
				names = append(names, fmt.Sprintf("%s(%s)", info.Name, prog.Type()))
			}
		}
		prog.Close()
	}
	return names
}

// disturbed counts a sample taken while others' tracing programs ran.
func (b *bench) disturbed(foreign []string) {
	if b.disturbedSamples == 0 {
		b.note("tracing BPF programs not the bench's (%s: another podprof user, or tests of the bpf package) were loaded during some samples, taxing system calls of the whole machine; see disturbed_samples", strings.Join(foreign, ", "))
	}
	b.disturbedSamples++
	b.res.DisturbedSamples = b.disturbedSamples
}

// errForeignTracer means that a podprof run of the bench's was served by
// someone else's tracer. podprof now runs one tracer per executable, and
// the bench its own copy, so this should no longer happen.
var errForeignTracer = errors.New("another podprof user's tracer served the bench's podprof run")

// waitTracer returns the pid of the bench's own tracer, once a podprof run
// of the bench's has its container running.
func (b *bench) waitTracer(ctx context.Context, timeout time.Duration) (int, error) {
	start := time.Now()
	for {
		mine, others := b.tracers()
		if len(mine) == 1 {
			return mine[0], nil
		} else if len(mine) > 1 {
			return 0, fmt.Errorf("several podprof tracer processes of the bench's podprof run: %v", mine)
		}
		if len(others) > 0 && time.Since(start) > time.Second {
			return 0, fmt.Errorf("%w (its tracers: %v)", errForeignTracer, others)
		}
		if time.Since(start) > timeout {
			return 0, fmt.Errorf("no podprof tracer process of the bench's podprof within %s", timeout)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// retryForeign runs f again, up to 5 times, while someone else's tracer
// served it.
func (b *bench) retryForeign(ctx context.Context, what string, f func() error) error {
	for attempt := 1; ; attempt++ {
		err := f()
		if !errors.Is(err, errForeignTracer) || attempt == 5 {
			return err
		}
		b.res.ForeignRetries++
		b.logf("%s: %v; again", what, err)
		if err := b.waitQuiet(ctx); err != nil {
			return err
		}
	}
}

// Memory is what a process holds: its resident memory and the BPF maps and
// programs it has file descriptors for.
type Memory struct {
	VmRSS       int64 `json:"vm_rss_bytes"`
	VmHWM       int64 `json:"vm_hwm_bytes"`
	RssAnon     int64 `json:"rss_anon_bytes"`
	RssFile     int64 `json:"rss_file_bytes"`
	RssShmem    int64 `json:"rss_shmem_bytes"`
	MapMemlock  int64 `json:"bpf_map_memlock_bytes"` // summed over distinct maps
	Maps        int   `json:"bpf_maps"`
	ProgMemlock int64 `json:"bpf_prog_memlock_bytes"`
	// From /proc/PID/smaps: resident pages of the executable's mappings
	// (page cache, shared with every podprof process), of BPF map
	// mappings (the ring buffer, which the reader maps twice in a row so
	// that records never wrap: its pages count twice here and once more in
	// MapMemlock), and of everything else (heap, stacks).
	RssExe    int64 `json:"rss_exe_bytes"`
	RssBPFMap int64 `json:"rss_bpf_mmap_bytes"`
	RssOther  int64 `json:"rss_other_bytes"`
	// Total is VmRSS plus the maps' memlock, as asked; it counts the ring
	// buffer three times. Unique counts every page once: RssExe +
	// RssOther + MapMemlock.
	Total  int64 `json:"total_bytes"`
	Unique int64 `json:"unique_bytes"`
}

func processMemory(pid int) (Memory, error) {
	var m Memory
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, err
	}
	fields := map[string]*int64{"VmRSS": &m.VmRSS, "VmHWM": &m.VmHWM, "RssAnon": &m.RssAnon, "RssFile": &m.RssFile, "RssShmem": &m.RssShmem}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if p := fields[name]; ok && p != nil {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
			*p = kb << 10
		}
	}
	fds, err := fdinfos(pid)
	if err != nil {
		return m, err
	}
	seenMaps := map[string]bool{}
	seenProgs := map[string]bool{}
	for _, kv := range fds {
		memlock, _ := strconv.ParseInt(kv["memlock"], 10, 64)
		switch {
		// Link fds name their program's id too: only map and program
		// fds carry map_type and prog_type.
		case kv["map_type"] != "" && !seenMaps[kv["map_id"]]:
			seenMaps[kv["map_id"]] = true
			m.MapMemlock += memlock
			m.Maps++
		case kv["prog_type"] != "" && !seenProgs[kv["prog_id"]]:
			seenProgs[kv["prog_id"]] = true
			m.ProgMemlock += memlock
		}
	}
	m.Total = m.VmRSS + m.MapMemlock
	if smaps, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid)); err == nil {
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		name := ""
		for _, line := range strings.Split(string(smaps), "\n") {
			f := strings.Fields(line)
			if len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
				name = "" // a mapping's header: range perms offset dev inode [path]
				if len(f) >= 6 {
					name = strings.Join(f[5:], " ")
				}
				continue
			}
			if len(f) == 3 && f[0] == "Rss:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				switch {
				case name == exe || name == exe+" (deleted)":
					m.RssExe += kb << 10
				case strings.Contains(name, "bpf-map"):
					m.RssBPFMap += kb << 10
				default:
					m.RssOther += kb << 10
				}
			}
		}
	}
	m.Unique = m.RssExe + m.RssOther + m.MapMemlock
	return m, nil
}

// vmHWM reads a process's peak resident memory, or 0 once it is gone.
func vmHWM(pid int) int64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// loadAvg is /proc/loadavg's first three fields.
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func waitFile(ctx context.Context, path string, timeout time.Duration, alive func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		if err := alive(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not appear within %s", path, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// ProgStat is one BPF program's run time statistics.
type ProgStat struct {
	Name    string
	RunTime int64 // ns, while statistics were enabled
	RunCnt  uint64
}

// progStats reads the run time statistics of the BPF programs process pid
// holds, by program id.
func progStats(pid int) (map[string]ProgStat, error) {
	fds, err := fdinfos(pid)
	if err != nil {
		return nil, err
	}
	out := map[string]ProgStat{}
	for _, kv := range fds {
		id := kv["prog_id"]
		if id == "" || kv["prog_type"] == "" { // link fds name their program too
			continue
		}
		st := ProgStat{}
		st.RunTime, _ = strconv.ParseInt(kv["run_time_ns"], 10, 64)
		st.RunCnt, _ = strconv.ParseUint(kv["run_cnt"], 10, 64)
		if n, err := strconv.ParseUint(id, 10, 32); err == nil {
			if prog, err := ebpf.NewProgramFromID(ebpf.ProgramID(n)); err == nil {
				if pi, err := prog.Info(); err == nil {
					st.Name = pi.Name
				}
				prog.Close()
			}
		}
		out[id] = st
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("process %d holds no BPF program", pid)
	}
	return out, nil
}

// BPFStats is what BPF programs cost during a loop of pairs, from the
// kernel's run time statistics: their own run time, not the tracepoint's
// dispatch around them.
type BPFStats struct {
	NSPerPair   float64            `json:"program_ns_per_pair"`
	RunsPerPair float64            `json:"runs_per_pair"` // 2 when only the loop made system calls
	ByProgram   map[string]float64 `json:"program_ns_per_pair_by_name,omitempty"`
}

func bpfStatsDelta(before, after map[string]ProgStat, pairs int) *BPFStats {
	s := &BPFStats{ByProgram: map[string]float64{}}
	var ns int64
	var runs uint64
	for id, a := range after {
		bf := before[id]
		ns += a.RunTime - bf.RunTime
		runs += a.RunCnt - bf.RunCnt
		s.ByProgram[a.Name] += float64(a.RunTime-bf.RunTime) / float64(pairs)
	}
	s.NSPerPair = float64(ns) / float64(pairs)
	s.RunsPerPair = float64(runs) / float64(pairs)
	return s
}

// fdinfos reads /proc/PID/fdinfo: the fields of each open descriptor, by
// name. Those closed meanwhile are left out.
func fdinfos(pid int) ([]map[string]string, error) {
	dir := fmt.Sprintf("/proc/%d/fdinfo", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var fds []map[string]string
	for _, e := range entries {
		info, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		fields := map[string]string{}
		for _, line := range strings.Split(string(info), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok {
				fields[k] = strings.TrimSpace(v)
			}
		}
		fds = append(fds, fields)
	}
	return fds, nil
}

// heldLinks counts the BPF links process pid holds.
func heldLinks(pid int) (int, error) {
	fds, err := fdinfos(pid)
	links := 0
	for _, fd := range fds {
		if fd["link_id"] != "" {
			links++
		}
	}
	return links, err
}
