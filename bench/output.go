package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
)

// rows is the summary table: measurement, baseline, podprof, difference,
// goal, met.
func (b *bench) rows() [][]string {
	r := &b.res
	var rows [][]string
	goal := func(name string) (string, string) {
		for _, g := range r.Goals {
			if g.Name == name {
				if r.Quick {
					return g.Goal, "(quick)"
				}
				return g.Goal, map[bool]string{true: "yes", false: "NO"}[g.Met]
			}
		}
		return "", ""
	}
	if s := r.Start; s != nil {
		pairs := []struct {
			name, what string
			p          StartPair
		}{{"start (cold)", "no service, no tracer", s.Cold}, {"start (warm)", "service and tracer kept by the run before", s.Warm}}
		if s.System != nil {
			pairs = append(pairs, struct {
				name, what string
				p          StartPair
			}{"start (system socket)", "--podprof-service=system, tracer kept", *s.System})
		}
		for _, x := range pairs {
			g, met := goal(x.name)
			rows = append(rows, []string{
				fmt.Sprintf("%s, %s, %d pairs: run --rm busybox true", x.name, x.what, x.p.Runs),
				"podman " + fmtStat(x.p.Podman, secs),
				"podprof " + fmtStat(x.p.Podprof, secs),
				fmt.Sprintf("paired %s, ratio of medians %s, paired added %s", fmtStat(x.p.Ratio, times), times(x.p.RatioOfMedians), fmtStat(x.p.Added, secs)),
				g, met,
			})
		}
		for _, c := range s.Components {
			if c.Name == hookComponent {
				g, met := goal("hook exec to Watch")
				rows = append(rows, []string{fmt.Sprintf("hook exec to Watch, tracer loaded, %d runs", c.Stats.N), "", "podprof-hook " + fmtStat(c.Stats, secs), "", g, met})
			}
		}
		if s.HookOnly.Runs > 0 {
			rows = append(rows, []string{
				fmt.Sprintf("start, podman run + podprof's hook, no service (warm), %d pairs", s.HookOnly.Runs),
				"podman " + fmtStat(s.HookOnly.Podman, secs),
				"podman+hook " + fmtStat(s.HookOnly.Podprof, secs),
				fmt.Sprintf("%s (paired %s), paired added %s", times(s.HookOnly.RatioOfMedians), fmtStat(s.HookOnly.Ratio, times), fmtStat(s.HookOnly.Added, secs)),
				"", "",
			})
		}
	}
	if o := r.Opens; o != nil {
		g, met := goal("open+close in a traced container (dedup hit)")
		rows = append(rows, []string{
			fmt.Sprintf("open+close in container, CPU time, %d x %d pairs", o.Untraced.N, o.Pairs),
			"untraced " + fmtStat(o.Untraced, ns),
			"traced " + fmtStat(o.Traced, ns),
			fmt.Sprintf("%s, %+.0f ns (paired %s)", pct(o.PercentMedians), o.AddedNS, fmtStat(o.AddedPercent, pct)),
			g, met,
		}, []string{
			"open+close in container, wall time, same runs",
			"untraced " + fmtStat(o.UntracedWall, ns),
			"traced " + fmtStat(o.TracedWall, ns),
			fmt.Sprintf("%s, %+.0f ns", pct(100*(o.TracedWall.Median-o.UntracedWall.Median)/o.UntracedWall.Median), o.TracedWall.Median-o.UntracedWall.Median),
			"", "",
		})
	}
	if h := r.HostTax; h != nil {
		rows = append(rows, []string{
			fmt.Sprintf("host tax, empty tp_btf/sys_exit (floor), CPU time, %d x %d pairs", h.None.N, h.Pairs),
			"no BPF " + fmtStat(h.None, ns),
			"floor " + fmtStat(h.Floor, ns),
			fmt.Sprintf("%+.0f ns (%s)", h.FloorAddedNS, pct(100*h.FloorAddedNS/h.None.Median)),
			"", "",
		}, []string{
			fmt.Sprintf("host tax, podprof tracer loaded, CPU time, %d x %d pairs", h.None.N, h.Pairs),
			"no BPF " + fmtStat(h.None, ns),
			"podprof " + fmtStat(h.Podprof, ns),
			fmt.Sprintf("%+.0f ns (%s); %+.0f ns over the floor", h.PodprofAddedNS, pct(100*h.PodprofAddedNS/h.None.Median), h.PodprofOverFloorNS),
			"", "",
		})
		if h.LingeringTracer != nil {
			var kept []string
			for name, rss := range h.LingeringKept {
				kept = append(kept, fmt.Sprintf("%s %s", name, humanBytes(rss)))
			}
			slices.Sort(kept)
			rows = append(rows, []string{
				fmt.Sprintf("host tax, podprof tracer lingering (no program attached), CPU time, %d x %d pairs", h.Lingering.N, h.Pairs),
				"no BPF " + fmtStat(h.None, ns),
				"lingering " + fmtStat(h.Lingering, ns),
				fmt.Sprintf("%+.0f ns (%s); resident: tracer %s (+%s BPF maps), %s", h.LingeringAddedNS, pct(100*h.LingeringAddedNS/h.None.Median),
					humanBytes(h.LingeringTracer.VmRSS), humanBytes(h.LingeringTracer.MapMemlock), strings.Join(kept, ", ")),
				"", "",
			})
		}
	}
	if sc := r.Syscalls; sc != nil {
		rows = append(rows, []string{
			fmt.Sprintf("recording system calls (--podprof-seccomp), open+close in the traced container, CPU time, %d x %d pairs", sc.ContainerOff.N, sc.Pairs),
			"off " + fmtStat(sc.ContainerOff, ns),
			"on " + fmtStat(sc.ContainerOn, ns),
			fmt.Sprintf("%+.0f ns per system call", sc.ContainerAddedPerCall),
			"", "",
		}, []string{
			fmt.Sprintf("recording system calls, host process, a watched container records, CPU time, %d x %d pairs", sc.HostOff.N, sc.Pairs),
			fmt.Sprintf("off %s (sys_enter attached: %t)", fmtStat(sc.HostOff, ns), sc.OffProgramAttached),
			fmt.Sprintf("on %s (attached: %t)", fmtStat(sc.HostOn, ns), sc.OnProgramAttached),
			fmt.Sprintf("%+.0f ns per system call; off: 0, not attached", sc.HostAddedPerCall),
			"", "",
		})
	}
	for _, bu := range r.Bursts {
		g1, m1 := goal("burst " + bu.Variant + ": files recorded")
		g2, m2 := goal("burst " + bu.Variant + ": lost events")
		base := "open " + fmtStat(bu.OpenUntraced, secs)
		trac := "open " + fmtStat(bu.OpenTraced, secs)
		if bu.CreateTraced.N > 0 {
			base = "create " + fmtStat(bu.CreateUntraced, secs) + ", " + base
			trac = "create " + fmtStat(bu.CreateTraced, secs) + ", " + trac
		}
		var lost uint64
		minRec := bu.Files
		for i := range bu.Recorded {
			minRec, lost = min(minRec, bu.Recorded[i]), max(lost, bu.Lost[i])
		}
		rows = append(rows, []string{
			fmt.Sprintf("burst %s, %d files, %d runs", bu.Variant, bu.Files, len(bu.Recorded)),
			"podman " + base,
			"podprof " + trac,
			fmt.Sprintf("recorded %d/%d, lost %d", minRec, bu.Files, lost),
			g1 + "; lost " + g2, joinMet(m1, m2),
		})
		rows = append(rows, []string{
			fmt.Sprintf("burst %s: exit tail", bu.Variant),
			"podman " + fmtStat(bu.TailUntraced, secs),
			"podprof " + fmtStat(bu.TailTraced, secs),
			fmt.Sprintf("%+.3f s", bu.TailTraced.Median-bu.TailUntraced.Median),
			"", "",
		})
	}
	if m := r.Memory; m != nil && len(m.Full) > 0 {
		g, met := goal(fmt.Sprintf("tracer memory with %d files", m.Files))
		rows = append(rows, []string{
			fmt.Sprintf("tracer memory, each page once (RSS - ring buffer mapping + BPF maps), %d files", m.Files),
			"0 files " + fmtStat(m.EmptyUnique, mib),
			fmt.Sprintf("%d files %s", m.Files, fmtStat(m.FullUnique, mib)),
			"peak (writing the profile) " + fmtStat(m.PeakUnique, mib),
			g, met,
		}, []string{
			fmt.Sprintf("tracer memory, VmRSS + BPF map memlock, %d files", m.Files),
			"0 files " + fmtStat(m.EmptyTotal, mib),
			fmt.Sprintf("%d files %s", m.Files, fmtStat(m.FullTotal, mib)),
			"peak (writing the profile) " + fmtStat(m.PeakTotal, mib),
			"", "",
		})
	}
	for _, sl := range r.Slims {
		g, met := goal("slim " + sl.Image)
		rows = append(rows, []string{
			fmt.Sprintf("slim %s (%s, %d files)", sl.Image, humanBytes(sl.OriginalBytes), sl.OriginalFiles),
			"", "build+load " + fmtStat(sl.Build, secs),
			fmt.Sprintf("%s, %d files: %.1fx smaller", humanBytes(sl.SlimBytes), sl.SlimFiles, sl.Factor),
			g, met,
		})
	}
	for _, pk := range r.Packages {
		g, met := goal("report --packages " + pk.Image)
		rows = append(rows, []string{
			fmt.Sprintf("report --packages %s (%d packages, %d files, %s)", pk.Image, pk.Packages, pk.Files, humanBytes(pk.Bytes)),
			"", "report " + fmtStat(pk.Total, secs), "", g, met,
		})
	}
	for _, rep := range r.Reports {
		g, met := goal("report " + rep.Image)
		rows = append(rows, []string{
			fmt.Sprintf("report %s (%d files, %s)", rep.Image, rep.Files, humanBytes(rep.Bytes)),
			"image save " + fmtStat(rep.Save, secs),
			"report " + fmtStat(rep.Total, secs),
			times(rep.Total.Median / rep.Save.Median),
			g, met,
		})
	}
	return rows
}

func joinMet(a, b string) string {
	if a == b {
		return a
	}
	return a + "/" + b
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
}

var header = []string{"measurement", "baseline", "podprof", "podprof vs baseline", "goal", "met"}

func (b *bench) printTable(w io.Writer) {
	r := &b.res
	fmt.Fprintf(w, "podprof bench%s: %s; %s, %d cores; kernel %s; %s (%s); tracer %s; load %s -> %s; %.0f s\n",
		map[bool]string{true: " (quick)", false: ""}[r.Quick], r.Date, r.Machine.CPU, r.Machine.Cores, r.Machine.Kernel,
		r.Machine.Podman, r.Machine.Runtime, r.TracerMode, r.LoadBefore, r.LoadAfter, r.DurationS)
	fmt.Fprintf(w, "medians [interquartile range]; samples taken with others' tracing programs loaded: %d; runs redone because another's tracer served them: %d\n", r.DisturbedSamples, r.ForeignRetries)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, row := range b.rows() {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
	if s := r.Start; s != nil && len(s.Components) > 0 {
		fmt.Fprintln(w, "\nstart, the parts of podprof run on their own:")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, c := range s.Components {
			fmt.Fprintf(tw, "  %s\t%s\n", c.Name, fmtStat(c.Stats, secs))
		}
		tw.Flush()
	}
	for _, rep := range r.Reports {
		fmt.Fprintf(w, "\nreport %s, per phase:", rep.Image)
		for _, p := range rep.Phases {
			fmt.Fprintf(w, " %s %.1f ms;", p.Name, 1000*p.Stats.Median)
		}
		fmt.Fprintln(w)
	}
	for _, pk := range r.Packages {
		fmt.Fprintf(w, "\nreport --packages %s, per phase:", pk.Image)
		for _, p := range pk.Phases {
			fmt.Fprintf(w, " %s %.1f ms;", p.Name, 1000*p.Stats.Median)
		}
		fmt.Fprintln(w)
	}
	if k := r.Kernels; k != nil {
		fmt.Fprintf(w, "\ntracer modes on other kernels, %s:\n", strings.ReplaceAll(k.what(), "`", ""))
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(kernelsHeader, "\t"))
		for _, row := range k.rows() {
			fmt.Fprintln(tw, strings.Join(row, "\t"))
		}
		tw.Flush()
	}
	for _, n := range r.Notes {
		fmt.Fprintln(w, "note:", n)
	}
}

func (b *bench) writeJSON(path string) error {
	data, err := json.MarshalIndent(&b.res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

const (
	mdBegin = "<!-- bench:begin: written by `make bench` (bench/output.go); edits here are lost -->"
	mdEnd   = "<!-- bench:end -->"
)

// writeMarkdown replaces the generated part of BENCHMARKS.md, between its
// markers, and keeps the rest (the analysis) as it is.
func (b *bench) writeMarkdown(path string) error {
	gen := mdBegin + "\n" + b.markdown() + mdEnd
	old, err := os.ReadFile(path)
	var out string
	switch {
	case err == nil && strings.Contains(string(old), mdBegin) && strings.Contains(string(old), mdEnd):
		s := string(old)
		i := strings.Index(s, mdBegin)
		j := strings.Index(s, mdEnd) + len(mdEnd)
		out = s[:i] + gen + s[j:]
	case err == nil || os.IsNotExist(err):
		out = "# Benchmarks\n\n" + gen + "\n\n## Analysis\n\n(to be written)\n"
	default:
		return err
	}
	return os.WriteFile(path, []byte(out), 0o644)
}

func mdRow(cells []string) string {
	for i, c := range cells {
		cells[i] = strings.ReplaceAll(c, "|", `\|`)
	}
	return "| " + strings.Join(cells, " | ") + " |\n"
}

func (b *bench) markdown() string {
	r := &b.res
	var sb strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&sb, format, args...) }
	m := r.Machine
	p("Run of %s (%.0f s%s).\n\n", r.Date, r.DurationS, map[bool]string{true: ", quick", false: ""}[r.Quick])
	p("| | |\n| --- | --- |\n")
	p("| machine | %s, %d cores, %s RAM |\n", m.CPU, m.Cores, humanBytes(m.MemoryBytes))
	p("| OS, kernel | %s, %s |\n", m.OS, m.Kernel)
	p("| podman, runtime | %s, %s |\n", m.Podman, m.Runtime)
	p("| tracer mode | %s |\n", r.TracerMode)
	p("| podprof | %s, %s |\n", m.Commit, m.Go)
	p("| load average (1, 5, 15 min) | before %s, after %s |\n", r.LoadBefore, r.LoadAfter)
	p("| samples taken with others' tracing programs loaded | %d |\n", r.DisturbedSamples)
	p("| runs redone because another podprof user's tracer served them | %d |\n\n", r.ForeignRetries)
	p("Medians, with the interquartile range in brackets; \"paired\" is the same\n")
	p("figure taken on each pair of runs made side by side.\n\n")
	sb.WriteString(mdRow(slicesClone(header)))
	sb.WriteString("| --- | --- | --- | --- | --- | --- |\n")
	for _, row := range b.rows() {
		sb.WriteString(mdRow(row))
	}
	if s := r.Start; s != nil && len(s.Components) > 0 {
		p("\n**Start, the parts of `podprof run` timed on their own** (%d rounds, no tracer loaded):\n\n", s.Components[0].Stats.N)
		p("| part | seconds | what |\n| --- | --- | --- |\n")
		for _, c := range s.Components {
			sb.WriteString(mdRow([]string{c.Name, fmtStat(c.Stats, secs), c.What}))
		}
	}
	if o := r.Opens; o != nil && o.BPF != nil {
		p("\n**Where the time of a traced open goes.** One more traced loop of %d pairs in a container, and one more host loop under each program, with the kernel's BPF run time statistics on (`BPF_ENABLE_STATS`; they add their own clock reads, so only the programs' share is read from them):\n\n", o.Pairs)
		// The empty program's run time is the statistics' own cost (two
		// clock reads around a program that does nothing): take it off
		// every run to estimate the programs' work.
		var statsCost float64
		if h := r.HostTax; h != nil && h.FloorBPF != nil && h.FloorBPF.RunsPerPair > 0 {
			statsCost = h.FloorBPF.NSPerPair / h.FloorBPF.RunsPerPair
		}
		p("| loop | program runs per pair (2 if only the loop made system calls) | program run time per run | per pair | per pair, less the statistics' cost (%.0f ns a run) |\n| --- | --- | --- | --- | --- |\n", statsCost)
		row := func(name string, st *BPFStats) {
			perRun := 0.0
			if st.RunsPerPair > 0 {
				perRun = st.NSPerPair / st.RunsPerPair
			}
			sb.WriteString(mdRow([]string{name, fmt.Sprintf("%.2f", st.RunsPerPair), fmt.Sprintf("%.0f ns", perRun),
				fmt.Sprintf("%.0f ns", st.NSPerPair), fmt.Sprintf("%.0f ns", st.NSPerPair-statsCost*st.RunsPerPair)}))
		}
		row("traced container, dedup hits", o.BPF)
		if h := r.HostTax; h != nil && h.FloorBPF != nil && h.PodprofBPF != nil {
			row("host process, podprof tracer loaded", h.PodprofBPF)
			row("host process, empty tp_btf/sys_exit", h.FloorBPF)
		}
		if h := r.HostTax; h != nil {
			p("\nWall time of the host loops: no BPF %s, floor %s, podprof %s.\n", fmtStat(h.NoneWall, ns), fmtStat(h.FloorWall, ns), fmtStat(h.PodprofWall, ns))
		}
	}
	if len(r.Bursts) > 0 {
		p("\n**Bursts** (wall time in the table; CPU time of the workload's thread here):\n\n")
		for _, bu := range r.Bursts {
			p("- %s: %s. Files recorded per traced run: %v; lost events: %v.", bu.Variant, bu.What, bu.Recorded, bu.Lost)
			if bu.CreateTracedCPU.N > 0 {
				p(" Create CPU: podman %s, podprof %s.", fmtStat(bu.CreateUntracedCPU, secs), fmtStat(bu.CreateTracedCPU, secs))
			}
			p(" Open CPU: podman %s, podprof %s.\n", fmtStat(bu.OpenUntracedCPU, secs), fmtStat(bu.OpenTracedCPU, secs))
		}
	}
	if len(r.BurstProfile) > 0 {
		p("\n**Where a traced burst's CPU goes**: one more create+open burst under podprof, the whole machine sampled with `perf record -a -g`; the workload's samples (comm pbloop) by the function they were taken in:\n\n")
		p("| where | share of the workload's CPU |\n| --- | --- |\n")
		for _, ps := range perfShares {
			if v, ok := r.BurstProfile[ps.name]; ok {
				sb.WriteString(mdRow([]string{ps.name, fmt.Sprintf("%.1f%%", v)}))
			}
		}
	}
	if mem := r.Memory; mem != nil && len(mem.Full) > 0 {
		p("\n**Tracer memory** (the tracer process of the create+open burst; RSS from /proc/PID/status, BPF from the memlock of its map fds in /proc/PID/fdinfo):\n\n")
		p("| run | point | VmRSS | of which: executable | BPF map mappings | other (heap, stacks) | BPF maps memlock (n) | BPF progs memlock | VmRSS + maps | each page once |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
		for i := range mem.Full {
			for _, x := range []struct {
				point string
				m     Memory
			}{{"0 files", mem.Empty[i]}, {fmt.Sprintf("%d files", mem.Files), mem.Full[i]}} {
				sb.WriteString(mdRow([]string{fmt.Sprint(i + 1), x.point, mib(float64(x.m.VmRSS)), mib(float64(x.m.RssExe)), mib(float64(x.m.RssBPFMap)), mib(float64(x.m.RssOther)),
					fmt.Sprintf("%s (%d)", mib(float64(x.m.MapMemlock)), x.m.Maps), mib(float64(x.m.ProgMemlock)), mib(float64(x.m.Total)), mib(float64(x.m.Unique))}))
			}
			sb.WriteString(mdRow([]string{fmt.Sprint(i + 1), "peak until exit", mib(float64(mem.PeakHWM[i])), "", "", "", "", "",
				mib(float64(mem.PeakHWM[i] + mem.Full[i].MapMemlock)), mib(float64(mem.PeakHWM[i] - mem.Full[i].RssBPFMap + mem.Full[i].MapMemlock))}))
		}
	}
	for _, rep := range r.Reports {
		p("\n**Report, %s** (%d layers, %d files, %s; profile of %d files, %s), per phase over %d runs:\n\n",
			rep.Image, rep.Layers, rep.Files, humanBytes(rep.Bytes), rep.ProfileFiles, rep.ProfileFrom, rep.Total.N)
		p("| phase | ms |\n| --- | --- |\n")
		for _, ph := range rep.Phases {
			sb.WriteString(mdRow([]string{ph.Name, fmtStat(ph.Stats, msec)}))
		}
		sb.WriteString(mdRow([]string{"**total**", fmtStat(rep.Total, msec)}))
		sb.WriteString(mdRow([]string{"`podman image save` piped to a tar header reader", fmt.Sprintf("%s (%d layer entries, %s)", fmtStat(rep.Save, msec), rep.SaveEntries, humanBytes(rep.SaveBytes))}))
	}
	for _, pk := range r.Packages {
		p("\n**Packages report, %s** (%d packages listing %d paths; %d files, %s; profile of %d files, %s), per phase over %d runs:\n\n",
			pk.Image, pk.Packages, pk.PackagePaths, pk.Files, humanBytes(pk.Bytes), pk.ProfileFiles, pk.ProfileFrom, pk.Total.N)
		p("| phase | ms |\n| --- | --- |\n")
		for _, ph := range pk.Phases {
			sb.WriteString(mdRow([]string{ph.Name, fmtStat(ph.Stats, msec)}))
		}
		sb.WriteString(mdRow([]string{"**total**", fmtStat(pk.Total, msec)}))
	}
	if len(r.Slims) > 0 {
		p("\n**podprof slim** (`--verify=false`: build and load; verification runs the workload twice more), %d runs each:\n\n", r.Slims[0].Build.N)
		p("| image | profile | original | slim | factor | build+load, s |\n| --- | --- | --- | --- | --- | --- |\n")
		for _, sl := range r.Slims {
			sb.WriteString(mdRow([]string{sl.Image, sl.ProfileFrom, fmt.Sprintf("%s, %d files", humanBytes(sl.OriginalBytes), sl.OriginalFiles),
				fmt.Sprintf("%s, %d files", humanBytes(sl.SlimBytes), sl.SlimFiles), fmt.Sprintf("%.1fx", sl.Factor), fmtStat(sl.Build, secs)}))
		}
	}
	if k := r.Kernels; k != nil {
		p("\n**Tracer modes on Debian's kernels**, %s:\n\n", k.what())
		sb.WriteString(mdRow(slicesClone(kernelsHeader)))
		sb.WriteString(strings.Repeat("| --- ", len(kernelsHeader)) + "|\n")
		for _, row := range k.rows() {
			sb.WriteString(mdRow(row))
		}
	}
	if len(r.Notes) > 0 {
		p("\nNotes:\n\n")
		for _, n := range r.Notes {
			p("- %s\n", n)
		}
	}
	return sb.String()
}

func msec(v float64) string { return fmt.Sprintf("%.1f", 1000*v) }

func slicesClone(s []string) []string { return append([]string(nil), s...) }
