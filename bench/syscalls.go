package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
)

// ---- syscalls: what recording system calls (--podprof-seccomp) costs ------

// SyscallsResult is what the sys_enter program that records a container's
// system calls adds to each system call: in the traced container that
// records, and in a host process meanwhile. A pair is two calls (openat,
// close). Off, the program is not attached, so that it adds nothing by
// construction: the bench checks that the tracer holds no link to
// sys_enter then, and holds one while recording.
type SyscallsResult struct {
	Image string `json:"image"`
	Path  string `json:"path"`
	Pairs int    `json:"pairs"`
	// In a traced container: podprof run without and with --podprof-seccomp.
	ContainerOff Stats `json:"container_off_cpu_ns_per_pair"`
	ContainerOn  Stats `json:"container_on_cpu_ns_per_pair"`
	// ContainerAddedPerCall is (on - off) / 2, of the medians.
	ContainerAddedPerCall float64 `json:"container_added_ns_per_call"`
	// In a host process, while the tracer watches a sleeping container
	// that does not, then does, record its system calls.
	HostOff              Stats    `json:"host_off_cpu_ns_per_pair"`
	HostOn               Stats    `json:"host_on_cpu_ns_per_pair"`
	HostAddedPerCall     float64  `json:"host_added_ns_per_call"`
	OffProgramAttached   bool     `json:"off_program_attached"` // checked: false
	OnProgramAttached    bool     `json:"on_program_attached"`  // checked: true
	RecordedCallsChecked []string `json:"recorded_calls_checked"`
}

// sysEnter is the tracepoint of the recording program (tp_btf/sys_enter):
// no other program of podprof's attaches there.
const sysEnter = "sys_enter"

// loopCalls are system calls of the loop that a recording must hold.
var loopCalls = []string{"openat", "close"}

func (b *bench) benchSyscalls(ctx context.Context) error {
	r := &SyscallsResult{Image: busyboxImage, Path: openPath, Pairs: b.cfg.pairs, RecordedCallsChecked: loopCalls}
	b.res.Syscalls = r
	b.logf("syscalls: %d x %d open+close pairs of %s in a traced container without and with --podprof-seccomp; %d host loops with the tracer watching a container that does not, then does, record",
		b.cfg.openReps, b.cfg.pairs, openPath, b.cfg.hostReps)
	var off, on []float64
	for round := 0; round < b.cfg.openReps; round++ {
		for _, recording := range sides(round) {
			cpu, err := b.syscallsContainerLoop(ctx, recording)
			if err != nil {
				return err
			}
			if recording {
				on = append(on, cpu)
			} else {
				off = append(off, cpu)
			}
			b.logf("syscalls: round %d container, recording %-5t %.0f ns/pair CPU", round+1, recording, cpu)
		}
	}
	r.ContainerOff, r.ContainerOn = newStats(off), newStats(on)
	r.ContainerAddedPerCall = (r.ContainerOn.Median - r.ContainerOff.Median) / 2

	off, on = nil, nil
	for round := 0; round < b.cfg.hostReps; round++ {
		for _, recording := range sides(round) {
			cpu, attached, err := b.syscallsHostLoop(ctx, recording)
			if err != nil {
				return err
			}
			if attached != recording {
				return fmt.Errorf("the tracer's sys_enter program attached: %t while the watched container records system calls: %t", attached, recording)
			}
			if recording {
				on, r.OnProgramAttached = append(on, cpu), attached
			} else {
				off, r.OffProgramAttached = append(off, cpu), attached
			}
			b.logf("syscalls: round %d host, recording %-5t %.0f ns/pair CPU", round+1, recording, cpu)
		}
	}
	r.HostOff, r.HostOn = newStats(off), newStats(on)
	r.HostAddedPerCall = (r.HostOn.Median - r.HostOff.Median) / 2
	return nil
}

// syscallsContainerLoop runs the open+close loop under podprof run, with
// --podprof-seccomp if recording (whose profile must hold the loop's
// calls), and returns its CPU ns per pair.
func (b *bench) syscallsContainerLoop(ctx context.Context, recording bool) (float64, error) {
	if err := b.waitQuiet(ctx); err != nil {
		return 0, err
	}
	profile := b.profilePath("syscalls")
	defer os.Remove(profile)
	podmanArgs := []string{"-v", b.loop + ":/pbloop:ro"}
	seccompProfile := b.profilePath("seccomp")
	if recording {
		podmanArgs = append(podmanArgs, "--podprof-seccomp="+seccompProfile)
		defer os.Remove(seccompProfile)
	}
	prog, args := b.containerCmd(true, b.name(), profile, podmanArgs, busyboxImage, "/pbloop", "pairs", "-n", strconv.Itoa(b.cfg.pairs), "-path", openPath)
	_, out, err := runTimed(ctx, prog, args...)
	if err != nil {
		return 0, err
	}
	var o pairsOut
	if err := lastJSONLine(out, &o); err != nil {
		return 0, err
	}
	if recording {
		recorded, err := recordedSyscalls(seccompProfile)
		if err != nil {
			return 0, err
		}
		for _, call := range loopCalls {
			if !slices.Contains(recorded, call) {
				return 0, fmt.Errorf("the recording run's seccomp profile %s does not record %s: the loop ran unrecorded", seccompProfile, call)
			}
		}
	}
	return o.CPUNSPerPair, nil
}

// syscallsHostLoop runs the host loop while the bench's tracer watches a
// sleeping container, recording its system calls or not, and returns the
// loop's CPU ns per pair and whether the tracer held a link to the
// sys_enter program meanwhile.
func (b *bench) syscallsHostLoop(ctx context.Context, recording bool) (float64, bool, error) {
	if err := b.waitQuiet(ctx); err != nil {
		return 0, false, err
	}
	var podmanArgs []string
	if recording {
		seccompProfile := b.profilePath("holder-seccomp")
		defer os.Remove(seccompProfile)
		podmanArgs = append(podmanArgs, "--podprof-seccomp="+seccompProfile)
	}
	h, err := b.startHolderRetry(ctx, podmanArgs...)
	if err != nil {
		return 0, false, err
	}
	attached, err := holdsLinkTo(h.tracer, sysEnter)
	if err != nil {
		h.stop()
		return 0, false, err
	}
	o, err := b.hostLoop(ctx)
	if serr := h.stop(); err == nil {
		err = serr
	}
	return o.CPUNSPerPair, attached, err
}

// holdsLinkTo tells whether process pid holds a BPF link attached to the
// tracepoint tp: the kernel's word (/proc/PID/fdinfo) on what is attached.
func holdsLinkTo(pid int, tp string) (bool, error) {
	fds, err := fdinfos(pid)
	if err != nil {
		return false, err
	}
	for _, fd := range fds {
		if fd["link_id"] != "" && fd["tp_name"] == tp {
			return true, nil
		}
	}
	return false, nil
}

// recordedSyscalls are the calls of a seccomp profile's rule that podprof
// recorded (not those it allows for the OCI runtime).
func recordedSyscalls(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("the recording run's seccomp profile: %w", err)
	}
	var profile struct {
		Syscalls []struct {
			Names   []string `json:"names"`
			Comment string   `json:"comment"`
		} `json:"syscalls"`
	}
	if err := json.Unmarshal(data, &profile); err != nil {
		return nil, fmt.Errorf("the recording run's seccomp profile %s: %w", path, err)
	}
	var recorded []string
	for _, rule := range profile.Syscalls {
		if rule.Comment == "recorded by podprof" {
			recorded = append(recorded, rule.Names...)
		}
	}
	return recorded, nil
}
