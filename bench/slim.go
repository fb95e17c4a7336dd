package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
)

// ---- 6. slim ----------------------------------------------------------------

// SlimResult is podprof slim of one image from one profile: how long the
// build and load take (no verification), and how much smaller it is.
type SlimResult struct {
	Image         string  `json:"image"`
	ProfileFrom   string  `json:"profile_from"`
	OriginalBytes int64   `json:"original_bytes"`
	OriginalFiles int64   `json:"original_files"`
	SlimBytes     int64   `json:"slim_bytes"`
	SlimFiles     int64   `json:"slim_files"`
	Factor        float64 `json:"factor"`
	Build         Stats   `json:"build_s"`
	Goal          float64 `json:"goal_s,omitempty"` // none when 0
}

// slimTag names the bench's slim images, removed when the phase ends.
const slimTag = "localhost/podprof-bench/slim:bench"

// The images of the test suite's slim workloads (contrib/setup.sh).
const (
	workloadsImage = "localhost/podprof-test/workloads:bookworm"
	nginxImage     = "localhost/podprof-test/nginx:bookworm"
)

func (b *bench) benchSlim(ctx context.Context) error {
	defer exec.Command("podman", "rmi", "-f", slimTag).Run()
	cases := []struct {
		image string
		args  []string // podman run's, after the image
		from  string
		goal  float64
	}{
		{demoImage, []string{"/bin/sh", "-c", "date; cat /etc/os-release"}, "podprof run of: sh -c 'date; cat /etc/os-release'", 2},
		{workloadsImage, []string{"python3", "-c", "import base64, csv, email.message, hashlib; print(hashlib.sha256(b'x').hexdigest())"}, "podprof run of: python3 -c 'import base64, csv, email.message, hashlib; ...'", 0},
		{nginxImage, []string{"-t"}, "podprof run of: nginx -t (reads its configuration and exits)", 0},
	}
	for _, c := range cases {
		if _, err := output("podman", "image", "exists", c.image); err != nil {
			return fmt.Errorf("image %s is missing: run `make setup`", c.image)
		}
		profile := b.profilePath("slim")
		prog, args := b.containerCmd(true, b.name(), profile, nil, c.image, c.args...)
		if _, _, err := runTimed(ctx, prog, args...); err != nil {
			return fmt.Errorf("profiling %s: %w", c.image, err)
		}
		r, err := b.slimOne(ctx, c.image, profile, c.from, c.goal)
		if err != nil {
			return err
		}
		b.res.Slims = append(b.res.Slims, r)
	}
	if !b.cfg.bigImage {
		return nil
	}
	if err := b.ensureBigImage(ctx); err != nil {
		return err
	}
	graphRoot, driver, err := podmanStore()
	if err != nil {
		return err
	}
	bigProfile, _, err := b.syntheticProfile(graphRoot, driver, bigImage)
	if err != nil {
		return err
	}
	r, err := b.slimOne(ctx, bigImage, bigProfile, "made up: every 10th regular file of the image", 15)
	if err != nil {
		return err
	}
	b.res.Slims = append(b.res.Slims, r)
	return nil
}

// slimOne times podprof slim of image from profile, reps times.
func (b *bench) slimOne(ctx context.Context, image, profile, from string, goal float64) (*SlimResult, error) {
	r := &SlimResult{Image: image, ProfileFrom: from, Goal: goal}
	var times []float64
	for i := 0; i < b.cfg.reportReps; i++ {
		d, out, err := runTimed(ctx, b.podprof, "slim", "--verify=false", "--replace", "-t", slimTag, "--format", "json", profile)
		if err != nil {
			return nil, fmt.Errorf("podprof slim of %s: %w", image, err)
		}
		times = append(times, d.Seconds())
		var result struct {
			Original, Slim struct{ Bytes, Files int64 }
			Factor         float64
		}
		if err := json.Unmarshal(out, &result); err != nil {
			return nil, fmt.Errorf("podprof slim --format json: %w", err)
		}
		r.OriginalBytes, r.OriginalFiles = result.Original.Bytes, result.Original.Files
		r.SlimBytes, r.SlimFiles, r.Factor = result.Slim.Bytes, result.Slim.Files, result.Factor
	}
	r.Build = newStats(times)
	b.logf("slim %s: %s, %s -> %s (%.1fx)", image, fmtStat(r.Build, secs), humanBytes(r.OriginalBytes), humanBytes(r.SlimBytes), r.Factor)
	return r, nil
}
