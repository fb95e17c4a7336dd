package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// A kernels summary as run.sh --bench writes it: a mode whose rounds all
// failed has nulls, which the table shows as "-".
const kernelsJSON = `{"qemu": {"accel": "tcg,thread=single", "icount": "shift=0", "cpu": "max", "mem": "2G", "smp": 1},
 "rounds": 5, "pairs": 10000, "failed": 1, "duration_s": 171,
 "kernels": [{"kernel": "6.1.0-56-amd64", "modes": [
  {"mode": "lsm", "runs": 5, "passed": 5, "container_untraced_ns": 9909,
   "container_added_ns": {"median": 999, "min": 987, "max": 1008, "samples": [999, 987, 1008, 990, 1001]},
   "host_no_tracer_ns": 9909, "host_added_ns": {"median": 306, "min": 303, "max": 323, "samples": [306]},
   "container_vs_tracepoint": 0.8976, "host_vs_tracepoint": 0.7766},
  {"mode": "tracepoint", "runs": 5, "passed": 0, "container_untraced_ns": null,
   "container_added_ns": {"median": null, "min": null, "max": null, "samples": []},
   "host_added_ns": {"median": null, "min": null, "max": null, "samples": []},
   "container_vs_tracepoint": null, "host_vs_tracepoint": null}]}]}`

func TestKernelsRows(t *testing.T) {
	var k KernelsResult
	if err := json.Unmarshal([]byte(kernelsJSON), &k); err != nil {
		t.Fatal(err)
	}
	got := k.rows()
	want := [][]string{
		{"6.1.0-56-amd64", "lsm", "9909", "+999 [+987–+1008]", "0.90x", "9909", "+306 [+303–+323]", "0.78x", "5/5"},
		{"6.1.0-56-amd64", "tracepoint", "-", "-", "-", "-", "-", "-", "0/5"},
	}
	if len(got) != len(want) {
		t.Fatalf("rows: %q", got)
	}
	for i := range want {
		if strings.Join(got[i], "|") != strings.Join(want[i], "|") {
			t.Errorf("row %d: %q, want %q", i, got[i], want[i])
		}
	}
}

// -only kernels replaces the kernels' results and keeps the earlier run's
// others, and its description.
func TestMergeKeepsOtherPhases(t *testing.T) {
	var k KernelsResult
	if err := json.Unmarshal([]byte(kernelsJSON), &k); err != nil {
		t.Fatal(err)
	}
	prev := Results{Date: "earlier", Opens: &OpensResult{Pairs: 7}, Goals: []Goal{{Name: "old"}}}
	b := &bench{cfg: config{only: "kernels"}, res: Results{Date: "now", Kernels: &k}}
	got := b.mergeInto(prev)
	if got.Date != "earlier" || got.Opens == nil || got.Opens.Pairs != 7 || got.Kernels != &k || got.Goals != nil {
		t.Errorf("merged: date %q, opens %v, kernels %p (want %p), goals %v", got.Date, got.Opens, got.Kernels, &k, got.Goals)
	}
	if len(got.Notes) != 1 || !strings.Contains(got.Notes[0], "kernels: measured by a later run, of now") {
		t.Errorf("notes: %q", got.Notes)
	}
}
