package main

import (
	"fmt"
	"math"
	"slices"
)

// Stats sums up repeated samples of one quantity. Machines are noisy: the
// median and the interquartile range say more than a mean.
type Stats struct {
	N       int       `json:"n"`
	Median  float64   `json:"median"`
	Q1      float64   `json:"q1"`
	Q3      float64   `json:"q3"`
	Min     float64   `json:"min"`
	Max     float64   `json:"max"`
	Samples []float64 `json:"samples"` // in the order they were taken
}

func newStats(samples []float64) Stats {
	s := Stats{N: len(samples), Samples: samples}
	if len(samples) == 0 {
		return s
	}
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	s.Min, s.Max = sorted[0], sorted[len(sorted)-1]
	s.Median = quantile(sorted, 0.5)
	s.Q1 = quantile(sorted, 0.25)
	s.Q3 = quantile(sorted, 0.75)
	return s
}

// quantile interpolates linearly between the closest ranks of sorted.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 1 {
		return sorted[0]
	}
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	return sorted[lo] + (pos-float64(lo))*(sorted[hi]-sorted[lo])
}

// paired returns b[i]/a[i] for samples taken side by side.
func paired(a, b []float64, f func(a, b float64) float64) []float64 {
	out := make([]float64, 0, len(a))
	for i := range min(len(a), len(b)) {
		out = append(out, f(a[i], b[i]))
	}
	return out
}

func ratio(a, b float64) float64 { return b / a }

func addedPercent(a, b float64) float64 { return 100 * (b - a) / a }

// fmtStat formats "median [q1–q3]" with f.
func fmtStat(s Stats, f func(float64) string) string {
	if s.N == 0 {
		return "-"
	}
	if s.N == 1 {
		return f(s.Median)
	}
	return fmt.Sprintf("%s [%s–%s]", f(s.Median), f(s.Q1), f(s.Q3))
}

func secs(v float64) string { return fmt.Sprintf("%.3f s", v) }

func ns(v float64) string { return fmt.Sprintf("%.0f ns", v) }

func times(v float64) string { return fmt.Sprintf("%.2fx", v) }

func pct(v float64) string { return fmt.Sprintf("%+.1f%%", v) }

func mib(v float64) string { return fmt.Sprintf("%.1f MiB", v/(1<<20)) }
