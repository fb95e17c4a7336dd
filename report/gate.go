package report

import (
	"strconv"
	"strings"
)

// A Gate fails a report whose unused part is over a limit, so that CI can
// stop an image that grew unused weight. A negative limit is no limit.
type Gate struct {
	// MaxUnusedBytes: the gate fails when more than this many bytes of the
	// image are unused.
	MaxUnusedBytes int64
	// MaxUnusedPercent: the gate fails when more than this share of the
	// image's bytes, 0 to 100, is unused.
	MaxUnusedPercent float64
}

// NoGate is a gate that never fails.
var NoGate = Gate{MaxUnusedBytes: -1, MaxUnusedPercent: -1}

// UnusedPercent is the share of the image's bytes that was not used, 0 to
// 100; 0 for an image of 0 bytes, which has nothing to waste.
func (s *Summary) UnusedPercent() float64 {
	return percent(s.UnusedBytes, s.ImageBytes)
}

// Check returns "" when s passes the gate, else one line that says what is
// over which limit, such as
//
//	115 MB of 117 MB unused (97.9%): over the limits of 50 MB and 80%
func (g Gate) Check(s *Summary) string {
	unusedPercent := s.UnusedPercent()
	var over []string
	if g.MaxUnusedBytes >= 0 && s.UnusedBytes > g.MaxUnusedBytes {
		limit := HumanBytes(g.MaxUnusedBytes)
		if limit == HumanBytes(s.UnusedBytes) { // rounding hides the difference
			limit = strconv.FormatInt(g.MaxUnusedBytes, 10) + " bytes"
		}
		over = append(over, limit)
	}
	if g.MaxUnusedPercent >= 0 && unusedPercent > g.MaxUnusedPercent {
		over = append(over, strconv.FormatFloat(g.MaxUnusedPercent, 'f', -1, 64)+"%")
	}
	if len(over) == 0 {
		return ""
	}
	unused := HumanBytes(s.UnusedBytes)
	if g.MaxUnusedBytes >= 0 && HumanBytes(g.MaxUnusedBytes) == unused {
		unused = strconv.FormatInt(s.UnusedBytes, 10) + " bytes"
	}
	// One decimal, or as many as it takes to tell the share from the
	// limit it is over.
	share := strconv.FormatFloat(unusedPercent, 'f', 1, 64)
	for digits := 2; g.MaxUnusedPercent >= 0 && digits <= 10 && share == strconv.FormatFloat(g.MaxUnusedPercent, 'f', digits-1, 64); digits++ {
		share = strconv.FormatFloat(unusedPercent, 'f', digits, 64)
	}
	limits := "the limit of " + over[0]
	if len(over) == 2 {
		limits = "the limits of " + strings.Join(over, " and ")
	}
	return unused + " of " + HumanBytes(s.ImageBytes) + " unused (" + share + "%): over " + limits
}
