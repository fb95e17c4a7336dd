package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// Results is everything one run measured; bench/results.json holds it.
type Results struct {
	Date       string          `json:"date"`
	Quick      bool            `json:"quick"`
	Machine    Machine         `json:"machine"`
	TracerMode string          `json:"tracer_mode"`
	LoadBefore string          `json:"loadavg_before"`
	LoadAfter  string          `json:"loadavg_after"`
	DurationS  float64         `json:"duration_s"`
	Start      *StartResult    `json:"start,omitempty"`
	Opens      *OpensResult    `json:"opens_in_container,omitempty"`
	HostTax    *HostTaxResult  `json:"host_tax,omitempty"`
	Syscalls   *SyscallsResult `json:"syscall_recording,omitempty"`
	Bursts     []*BurstResult  `json:"bursts,omitempty"`
	Memory     *MemoryResult   `json:"memory,omitempty"`
	// BurstProfile is where a traced create+open burst's CPU went, from
	// perf: inclusive shares of the workload's samples, percent.
	BurstProfile map[string]float64 `json:"burst_perf_shares,omitempty"`
	Reports      []*ReportResult    `json:"reports,omitempty"`
	Slims        []*SlimResult      `json:"slims,omitempty"`
	Packages     []*PackagesResult  `json:"packages_reports,omitempty"`
	Kernels      *KernelsResult     `json:"kernels,omitempty"`
	Goals        []Goal             `json:"goals"`
	Notes        []string           `json:"notes,omitempty"`
	// DisturbedSamples counts samples taken while another podprof tracer
	// (not the bench's) ran on the machine.
	DisturbedSamples int `json:"disturbed_samples"`
	// ForeignRetries counts runs made again because someone else's tracer
	// served them.
	ForeignRetries int `json:"foreign_tracer_retries"`
}

type Machine struct {
	CPU         string `json:"cpu"`
	Cores       int    `json:"cores"`
	MemoryBytes int64  `json:"memory_bytes"`
	Kernel      string `json:"kernel"`
	OS          string `json:"os"`
	Podman      string `json:"podman"`
	Runtime     string `json:"runtime"`
	Go          string `json:"go"`
	Commit      string `json:"podprof_commit"`
}

// StartPair is podman run against podprof run, taken in turns.
type StartPair struct {
	Runs    int   `json:"runs"`
	Podman  Stats `json:"podman_s"`
	Podprof Stats `json:"podprof_s"`
	// Ratio is podprof/podman of each pair of runs taken side by side.
	Ratio          Stats   `json:"paired_ratio"`
	RatioOfMedians float64 `json:"ratio_of_medians"`
	// Added is podprof - podman of each pair, seconds.
	Added Stats `json:"paired_added_s"`
}

type StartResult struct {
	Image string `json:"image"`
	// Cold: no service or tracer runs, podprof run starts them. Warm:
	// the run before kept them (the idle time).
	Cold StartPair `json:"cold"`
	Warm StartPair `json:"warm"`
	// System: warm, through the system's podman socket with podprof's
	// hook installed (--podprof-service=system); nil where one ran
	// already.
	System *StartPair `json:"system_socket_warm,omitempty"`
	// HookOnly: plain podman run, against podman run with podprof's hook
	// dir and annotation (no private service), a tracer loaded.
	HookOnly StartPair `json:"hook_only_warm"`
	// Components are the parts of a podprof run timed on their own.
	Components []Component `json:"components"`
}

type Component struct {
	Name  string `json:"name"`
	What  string `json:"what"`
	Stats Stats  `json:"seconds"`
}

// Per-pair figures are CPU time of the loop's thread unless named wall.
type OpensResult struct {
	Image          string  `json:"image"`
	Path           string  `json:"path"`
	Pairs          int     `json:"pairs"`
	Untraced       Stats   `json:"untraced_cpu_ns_per_pair"`
	Traced         Stats   `json:"traced_cpu_ns_per_pair"`
	UntracedWall   Stats   `json:"untraced_wall_ns_per_pair"`
	TracedWall     Stats   `json:"traced_wall_ns_per_pair"`
	AddedPercent   Stats   `json:"paired_added_percent"`
	AddedNS        float64 `json:"added_ns_of_medians"`
	PercentMedians float64 `json:"added_percent_of_medians"`
	// BPF is the tracer's programs' own run time in one more traced run,
	// with the kernel's statistics on.
	BPF *BPFStats `json:"bpf_stats_run"`
}

type HostTaxResult struct {
	Path        string `json:"path"`
	Pairs       int    `json:"pairs"`
	None        Stats  `json:"no_bpf_cpu_ns_per_pair"`
	Floor       Stats  `json:"empty_tp_btf_sys_exit_cpu_ns_per_pair"`
	Podprof     Stats  `json:"podprof_tracer_cpu_ns_per_pair"`
	NoneWall    Stats  `json:"no_bpf_wall_ns_per_pair"`
	FloorWall   Stats  `json:"empty_tp_btf_sys_exit_wall_ns_per_pair"`
	PodprofWall Stats  `json:"podprof_tracer_wall_ns_per_pair"`
	// Lingering: a tracer after its last run, idle (no program attached),
	// and the kept service; what they hold, resident (VmRSS by program for
	// the keeper and the service).
	Lingering        Stats            `json:"lingering_tracer_cpu_ns_per_pair"`
	LingeringTracer  *Memory          `json:"lingering_tracer_memory,omitempty"`
	LingeringKept    map[string]int64 `json:"lingering_kept_vm_rss_bytes,omitempty"`
	LingeringAddedNS float64          `json:"lingering_added_ns"`
	// Added costs are differences of medians.
	FloorAddedNS   float64 `json:"floor_added_ns"`
	PodprofAddedNS float64 `json:"podprof_added_ns"`
	// PodprofOverFloor is podprof's own work per pair beyond the floor.
	PodprofOverFloorNS float64 `json:"podprof_over_floor_ns"`
	// The programs' own run time in one more loop each, statistics on.
	FloorBPF   *BPFStats `json:"floor_bpf_stats_run"`
	PodprofBPF *BPFStats `json:"podprof_bpf_stats_run"`
}

type BurstResult struct {
	Variant   string   `json:"variant"`
	What      string   `json:"what"`
	Files     int      `json:"files"`
	Recorded  []int    `json:"recorded"` // burst files in each traced run's profile
	Lost      []uint64 `json:"lost_events"`
	ProfileOK bool     `json:"all_recorded"`
	// Times inside the container, seconds: wall, and CPU of the thread.
	CreateUntraced    Stats `json:"create_untraced_s"`
	CreateTraced      Stats `json:"create_traced_s"`
	OpenUntraced      Stats `json:"open_untraced_s"`
	OpenTraced        Stats `json:"open_traced_s"`
	CreateUntracedCPU Stats `json:"create_untraced_cpu_s"`
	CreateTracedCPU   Stats `json:"create_traced_cpu_s"`
	OpenUntracedCPU   Stats `json:"open_untraced_cpu_s"`
	OpenTracedCPU     Stats `json:"open_traced_cpu_s"`
	// Tail: from the workload's last open to its run command's exit (the
	// container stops; a traced run also drains and writes the profile).
	TailUntraced Stats `json:"tail_untraced_s"`
	TailTraced   Stats `json:"tail_traced_s"`
}

type MemoryResult struct {
	Files int `json:"files"`
	// Samples of the tracer process, with a container watched that has
	// recorded nothing yet, then all Files.
	Empty []Memory `json:"empty"`
	Full  []Memory `json:"full"`
	// PeakHWM is the tracer's peak RSS until it exited (writing the
	// profile included).
	PeakHWM    []int64 `json:"peak_vm_hwm_bytes"`
	FullTotal  Stats   `json:"full_total_bytes"`
	PeakTotal  Stats   `json:"peak_total_bytes"` // peak RSS + map memlock
	EmptyTotal Stats   `json:"empty_total_bytes"`
	// The same, every page counted once (see Memory.Unique); the peak
	// is the peak RSS less the ring buffer's mapping, plus the maps.
	FullUnique  Stats `json:"full_unique_bytes"`
	PeakUnique  Stats `json:"peak_unique_bytes"`
	EmptyUnique Stats `json:"empty_unique_bytes"`
}

type ReportResult struct {
	Image        string      `json:"image"`
	ImageID      string      `json:"image_id"`
	Layers       int         `json:"layers"`
	Files        int64       `json:"image_files"`
	Bytes        int64       `json:"image_bytes"`
	ProfileFiles int         `json:"profile_files"`
	ProfileFrom  string      `json:"profile_from"`
	Phases       []Component `json:"phases"`
	Total        Stats       `json:"total_s"`
	Save         Stats       `json:"podman_image_save_s"`
	SaveEntries  int         `json:"save_entries"`
	SaveBytes    int64       `json:"save_bytes"`
	Goal         float64     `json:"goal_s"`
}

// KernelsResult is what contrib/kernels/run.sh --bench wrote (its JSON, as
// is), and when.
type KernelsResult struct {
	Date      string        `json:"date"`
	Qemu      KernelsQemu   `json:"qemu"`
	Rounds    int           `json:"rounds"`
	Pairs     int           `json:"pairs"`
	Failed    int           `json:"failed"`
	DurationS float64       `json:"duration_s"`
	Kernels   []KernelBench `json:"kernels"`
}

type KernelsQemu struct {
	Accel  string `json:"accel"`
	Icount string `json:"icount"`
	CPU    string `json:"cpu"`
	Mem    string `json:"mem"`
	SMP    int    `json:"smp"`
}

type KernelBench struct {
	Kernel    string       `json:"kernel"`
	Package   string       `json:"package"`
	Icount    string       `json:"icount"`
	QemuWallS float64      `json:"qemu_wall_s"`
	BenchS    *float64     `json:"bench_s"` // all rounds, the guest's clock
	Modes     []KernelMode `json:"modes"`
	// Runs are /init's PODPROF-BENCH lines, one per round and mode.
	Runs []json.RawMessage `json:"runs"`
}

// KernelMode sums up one mode's rounds on one kernel (contrib/kernels/bench.jq):
// medians over the rounds that passed, in the guest's CPU ns per pair; nil
// where no round passed or no ratio can be taken.
type KernelMode struct {
	Mode                  string   `json:"mode"`
	Runs                  int      `json:"runs"`
	Passed                int      `json:"passed"`
	Secs                  float64  `json:"secs"`
	ContainerUntracedNS   *float64 `json:"container_untraced_ns"`
	ContainerTracedNS     *float64 `json:"container_traced_ns"`
	HostNoTracerNS        *float64 `json:"host_no_tracer_ns"`
	HostTracerLoadedNS    *float64 `json:"host_tracer_loaded_ns"`
	ContainerAddedNS      Spread   `json:"container_added_ns"`
	HostAddedNS           Spread   `json:"host_added_ns"`
	ContainerVsTracepoint *float64 `json:"container_vs_tracepoint"`
	HostVsTracepoint      *float64 `json:"host_vs_tracepoint"`
}

// Spread is a difference taken in each round (traced - untraced).
type Spread struct {
	Median  *float64  `json:"median"`
	Min     *float64  `json:"min"`
	Max     *float64  `json:"max"`
	Samples []float64 `json:"samples"`
}

type Goal struct {
	Name  string `json:"name"`
	Goal  string `json:"goal"`
	Value string `json:"value"`
	Met   bool   `json:"met"`
}

func machineInfo() Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "model name"); ok {
				m.CPU = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
		f.Close()
	}
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		m.MemoryBytes = int64(si.Totalram) * int64(si.Unit)
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	if data, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				m.OS = strings.Trim(v, `"`)
			}
		}
	}
	m.Podman, _ = output("podman", "--version")
	if rt, err := output("podman", "info", "--format", "{{.Host.OCIRuntime.Name}} {{.Host.OCIRuntime.Version}}"); err == nil {
		m.Runtime = strings.SplitN(rt, "\n", 2)[0]
	}
	if c, err := output("git", "rev-parse", "--short", "HEAD"); err == nil {
		if st, _ := output("git", "status", "--porcelain", "--untracked-files=no"); st != "" {
			c += "+dirty"
		}
		m.Commit = c
	}
	return m
}

func (b *bench) evaluateGoals() {
	r := &b.res
	add := func(name, goal, value string, met bool) {
		r.Goals = append(r.Goals, Goal{Name: name, Goal: goal, Value: value, Met: met})
	}
	if s := r.Start; s != nil {
		add("start (cold)", "≤1.5x podman run", times(s.Cold.Ratio.Median), s.Cold.Ratio.Median <= 1.5)
		add("start (warm)", "≤1.2x podman run", times(s.Warm.Ratio.Median), s.Warm.Ratio.Median <= 1.2)
		if s.System != nil {
			add("start (system socket)", "≤1.2x podman run", times(s.System.Ratio.Median), s.System.Ratio.Median <= 1.2)
		}
		for _, c := range s.Components {
			if c.Name == hookComponent {
				add("hook exec to Watch", "≤10 ms", secs(c.Stats.Median), c.Stats.Median <= 0.010)
			}
		}
	}
	if o := r.Opens; o != nil {
		add("open+close in a traced container (dedup hit)", "<15% added", pct(o.PercentMedians), o.PercentMedians < 15)
	}
	for _, bu := range r.Bursts {
		var lost uint64
		minRec := bu.Files
		for i, rec := range bu.Recorded {
			minRec = min(minRec, rec)
			lost = max(lost, bu.Lost[i])
		}
		add("burst "+bu.Variant+": files recorded", fmt.Sprintf("all %d", bu.Files), fmt.Sprintf("%d (worst run)", minRec), minRec == bu.Files)
		add("burst "+bu.Variant+": lost events", "0", fmt.Sprint(lost), lost == 0)
	}
	for _, rep := range r.Reports {
		add("report "+rep.Image, fmt.Sprintf("≤%.1f s", rep.Goal), secs(rep.Total.Median), rep.Total.Median <= rep.Goal)
	}
	for _, sl := range r.Slims {
		if sl.Goal > 0 {
			add("slim "+sl.Image, fmt.Sprintf("≤%.0f s", sl.Goal), secs(sl.Build.Median), sl.Build.Median <= sl.Goal)
		}
	}
	for _, pk := range r.Packages {
		add("report --packages "+pk.Image, fmt.Sprintf("≤%.1f s", pk.Goal), secs(pk.Total.Median), pk.Total.Median <= pk.Goal)
	}
	if m := r.Memory; m != nil {
		add(fmt.Sprintf("tracer memory with %d files", m.Files), "≤64 MiB", fmt.Sprintf("%s each page once; %s RSS+memlock (worst run)", mib(m.FullUnique.Max), mib(m.FullTotal.Max)), m.FullUnique.Max <= 64<<20)
	}
}
