package slim

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/podprof/podprof/report"
)

// A Rerun runs a recorded podman run command line again, traced, in the
// image with the given id, and returns what the run did.
type Rerun func(ctx context.Context, imageID string, run *report.RunRecord) (*RunResult, error)

// RunResult is what one traced run did.
type RunResult struct {
	ExitCode       int
	Stdout, Stderr []byte
	Profile        *report.Profile
	// Stopped: the run was still going after its time (a service), and
	// was stopped; what it did until then is compared.
	Stopped bool
}

// A Check compares one recorded run in the original image with the same
// run in the slim image.
type Check struct {
	Run          *report.RunRecord `json:"run"`
	ExitCode     int               `json:"exit_code"`      // in the original image
	SlimExitCode int               `json:"slim_exit_code"` // in the slim image
	// Stopped, SlimStopped: the run outlived --verify-timeout and was
	// stopped.
	Stopped     bool `json:"stopped"`
	SlimStopped bool `json:"slim_stopped"`
	SameStdout  bool `json:"same_stdout"`
	SameStderr  bool `json:"same_stderr"`
	// StdoutDiff, StderrDiff say where the outputs part, when they do.
	StdoutDiff string `json:"stdout_diff,omitempty"`
	StderrDiff string `json:"stderr_diff,omitempty"`
	// Missing are the files of the original image that the original run
	// opened and the slim image lacks.
	Missing []string `json:"missing"`
}

// OK says whether the slim image ran as the original did.
func (c *Check) OK() bool {
	return c.ExitCode == c.SlimExitCode && c.Stopped == c.SlimStopped && c.SameStdout && c.SameStderr && len(c.Missing) == 0
}

// Verify runs each recorded run in the original image and in the slim one,
// and compares them. The original runs again rather than trusting the
// profile: its output was never recorded, and a run that opens other files
// each time is then seen to.
func Verify(ctx context.Context, rerun Rerun, original *report.Image, originalID string, slim *Built, runs []*report.RunRecord) ([]Check, error) {
	var checks []Check
	for _, run := range runs {
		before, err := rerun(ctx, originalID, run)
		if err != nil {
			return nil, fmt.Errorf("running %s in the original image: %w", describeRun(run), err)
		}
		after, err := rerun(ctx, slim.ID, run)
		if err != nil {
			return nil, fmt.Errorf("running %s in the slim image: %w", describeRun(run), err)
		}
		c := Check{Run: run, ExitCode: before.ExitCode, SlimExitCode: after.ExitCode, Stopped: before.Stopped, SlimStopped: after.Stopped, Missing: []string{}}
		c.SameStdout = bytes.Equal(before.Stdout, after.Stdout)
		if !c.SameStdout {
			c.StdoutDiff = firstDifference(before.Stdout, after.Stdout)
		}
		c.SameStderr = bytes.Equal(before.Stderr, after.Stderr)
		if !c.SameStderr {
			c.StderrDiff = firstDifference(before.Stderr, after.Stderr)
		}
		if before.Profile != nil {
			c.Missing = missingFiles(original, slim.Tree, before.Profile)
		}
		checks = append(checks, c)
	}
	return checks, nil
}

// missingFiles are the paths of p that name a file of the original image
// and nothing in the slim one.
func missingFiles(original, slim *report.Image, p *report.Profile) []string {
	outsideOriginal := make(map[string]bool)
	for _, f := range report.Join(original, p).Outside {
		outsideOriginal[f.Path] = true
	}
	var missing []string
	for _, f := range report.Join(slim, p).Outside {
		if !outsideOriginal[f.Path] {
			missing = append(missing, f.Path)
		}
	}
	slices.Sort(missing)
	return missing
}

// firstDifference names the first line where two outputs part.
func firstDifference(a, b []byte) string {
	la, lb := bytes.SplitAfter(a, []byte("\n")), bytes.SplitAfter(b, []byte("\n"))
	for i := 0; ; i++ {
		var x, y []byte
		if i < len(la) {
			x = la[i]
		}
		if i < len(lb) {
			y = lb[i]
		}
		if !bytes.Equal(x, y) {
			// %q escapes whatever the container printed.
			return fmt.Sprintf("line %d: original %q, slim %q", i+1, x, y)
		}
	}
}

// describeRun is the recorded command line, for messages.
func describeRun(run *report.RunRecord) string {
	if len(run.Command) == 0 {
		return "the image's command"
	}
	return fmt.Sprintf("%q", run.Command) // %q escapes what the user typed
}
