package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStats(t *testing.T) {
	s := newStats([]float64{5, 1, 4, 2, 3})
	if s.Median != 3 || s.Q1 != 2 || s.Q3 != 4 || s.Min != 1 || s.Max != 5 || s.N != 5 {
		t.Errorf("newStats(1..5) = %+v", s)
	}
	if s.Samples[0] != 5 {
		t.Errorf("samples were reordered: %v", s.Samples)
	}
	s = newStats([]float64{1, 2})
	if s.Median != 1.5 || s.Q1 != 1.25 || s.Q3 != 1.75 {
		t.Errorf("newStats(1, 2) = %+v", s)
	}
	if got := paired([]float64{2, 4}, []float64{3, 2}, ratio); got[0] != 1.5 || got[1] != 0.5 {
		t.Errorf("paired ratios = %v", got)
	}
	if got := addedPercent(200, 230); got != 15 {
		t.Errorf("addedPercent(200, 230) = %v", got)
	}
}

// The generated part of BENCHMARKS.md is replaced; the analysis around it
// is kept.
func TestWriteMarkdownKeepsAnalysis(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	b := &bench{res: Results{Date: "first"}}
	if err := b.writeMarkdown(path); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	edited := strings.Replace(string(data), "(to be written)", "hand-written analysis", 1)
	if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	b.res.Date = "second"
	if err := b.writeMarkdown(path); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(path)
	got := string(data)
	if !strings.Contains(got, "hand-written analysis") || !strings.Contains(got, "Run of second") || strings.Contains(got, "Run of first") {
		t.Errorf("after a second run BENCHMARKS.md is:\n%s", got)
	}
	if strings.Count(got, mdBegin) != 1 || strings.Count(got, mdEnd) != 1 {
		t.Errorf("markers duplicated:\n%s", got)
	}
}
