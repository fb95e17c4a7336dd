package report

import "testing"

func TestGate(t *testing.T) {
	// 115 MB of 117 MB unused, as the demo image after `date; cat`.
	s := &Summary{ImageBytes: 117_000_000, UsedBytes: 2_000_000, UnusedBytes: 115_000_000}
	for _, c := range []struct {
		name string
		gate Gate
		want string
	}{
		{"no limits", NoGate, ""},
		{"bytes under", Gate{MaxUnusedBytes: 200_000_000, MaxUnusedPercent: -1}, ""},
		{"bytes equal is not over", Gate{MaxUnusedBytes: 115_000_000, MaxUnusedPercent: -1}, ""},
		{"bytes over", Gate{MaxUnusedBytes: 50_000_000, MaxUnusedPercent: -1}, "115 MB of 117 MB unused (98.3%): over the limit of 50 MB"},
		{"bytes over by one", Gate{MaxUnusedBytes: 114_999_999, MaxUnusedPercent: -1}, "115000000 bytes of 117 MB unused (98.3%): over the limit of 114999999 bytes"},
		{"zero bytes", Gate{MaxUnusedBytes: 0, MaxUnusedPercent: -1}, "115 MB of 117 MB unused (98.3%): over the limit of 0 B"},
		{"percent under", Gate{MaxUnusedBytes: -1, MaxUnusedPercent: 99}, ""},
		{"percent over", Gate{MaxUnusedBytes: -1, MaxUnusedPercent: 80}, "115 MB of 117 MB unused (98.3%): over the limit of 80%"},
		{"percent over by a little", Gate{MaxUnusedBytes: -1, MaxUnusedPercent: 98.29}, "115 MB of 117 MB unused (98.291%): over the limit of 98.29%"},
		{"both over", Gate{MaxUnusedBytes: 1_000_000, MaxUnusedPercent: 12.5}, "115 MB of 117 MB unused (98.3%): over the limits of 1 MB and 12.5%"},
		{"one of two over", Gate{MaxUnusedBytes: 1_000_000_000, MaxUnusedPercent: 12.5}, "115 MB of 117 MB unused (98.3%): over the limit of 12.5%"},
	} {
		if got := c.gate.Check(s); got != c.want {
			t.Errorf("%s: Check = %q, want %q", c.name, got, c.want)
		}
	}
	// Nothing to waste in an empty image, nor in a fully used one.
	for _, s := range []*Summary{{}, {ImageBytes: 10, UsedBytes: 10}} {
		if got := (Gate{MaxUnusedBytes: 0, MaxUnusedPercent: 0}).Check(s); got != "" {
			t.Errorf("%+v fails the strictest gate: %s", s, got)
		}
	}
}
