package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// ---- 6. tracer modes on other kernels ------------------------------------

// benchKernels runs contrib/kernels/run.sh --bench: the bpf package's
// BenchmarkOpenClose in each tracer mode on Debian's kernels, booted under
// qemu, where lsm and fentry can run (this host's kernel may refuse BPF
// trampolines). Its guests' clocks count instructions (qemu -icount), so
// the host's load does not move the figures; only the ratios between
// modes carry over to hardware.
func (b *bench) benchKernels(ctx context.Context) error {
	out := filepath.Join(b.tmp, "kernels.json")
	cmd := exec.CommandContext(ctx, "bash", "contrib/kernels/run.sh", "--bench")
	cmd.Env = append(os.Environ(),
		"PODPROF_BENCH_JSON="+out,
		// run.sh builds the bpf test binary with the go on PATH
		"PATH="+filepath.Dir(b.cfg.goTool)+string(os.PathListSeparator)+os.Getenv("PATH"))
	if b.cfg.quick {
		cmd.Env = append(cmd.Env, "PODPROF_BENCH_ROUNDS=1", "PODPROF_BENCH_PAIRS=1000")
	}
	// its PASS/FAIL lines and tables are progress here
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	b.logf("kernels: contrib/kernels/run.sh --bench, BenchmarkOpenClose in each tracer mode under qemu")
	r := &KernelsResult{Date: time.Now().UTC().Format(time.RFC3339)}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("contrib/kernels/run.sh --bench: %w (its output is above)", err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, r); err != nil {
		return fmt.Errorf("contrib/kernels/run.sh --bench wrote %s: %w", out, err)
	}
	b.res.Kernels = r
	return nil
}

var kernelsHeader = []string{"kernel", "mode", "container: untraced", "traced - untraced", "vs tracepoint", "host: no tracer", "loaded - no tracer", "vs tracepoint", "rounds"}

// rows is the table of benchKernels: CPU ns per open()+close() pair,
// medians over the rounds, the added costs with their range.
func (r *KernelsResult) rows() [][]string {
	num := func(v *float64) string {
		if v == nil {
			return "-"
		}
		return fmt.Sprintf("%.0f", *v)
	}
	added := func(s Spread) string {
		if s.Median == nil {
			return "-"
		}
		return fmt.Sprintf("%+.0f [%+.0f–%+.0f]", *s.Median, *s.Min, *s.Max)
	}
	ratio := func(v *float64) string {
		if v == nil {
			return "-"
		}
		return times(*v)
	}
	var rows [][]string
	for _, k := range r.Kernels {
		for _, m := range k.Modes {
			rows = append(rows, []string{k.Kernel, m.Mode,
				num(m.ContainerUntracedNS), added(m.ContainerAddedNS), ratio(m.ContainerVsTracepoint),
				num(m.HostNoTracerNS), added(m.HostAddedNS), ratio(m.HostVsTracepoint),
				fmt.Sprintf("%d/%d", m.Passed, r.Rounds)})
		}
	}
	return rows
}

// what says how the figures were made, for the text and the markdown.
func (r *KernelsResult) what() string {
	qemu := fmt.Sprintf("qemu TCG with %d CPU(s)", r.Qemu.SMP)
	switch r.Qemu.Icount {
	case "":
		qemu += ", whose times follow the host's load"
	case "shift=0":
		qemu = fmt.Sprintf("qemu -icount shift=0 with %d CPU, where the guest's clock counts instructions, 1 ns each", r.Qemu.SMP)
	default:
		qemu = fmt.Sprintf("qemu -icount %s with %d CPU, where the guest's clock counts instructions", r.Qemu.Icount, r.Qemu.SMP)
	}
	return fmt.Sprintf("`contrib/kernels/run.sh --bench` of %s (%.0f s): the bpf package's BenchmarkOpenClose, %d rounds of %d pairs per sub-benchmark, each round every mode once, under %s. The guest's CPU ns per open()+close() pair, medians over the rounds; the added costs with their range [min–max], and relative to tracepoint mode's on the same kernel",
		r.Date, r.DurationS, r.Rounds, r.Pairs, qemu)
}
