package main

import (
	"archive/tar"
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/podprof/podprof/imagestore"
	"github.com/podprof/podprof/report"
)

// The generated image: busybox, then two layers of zero-filled files,
// 50,000 files and 1 GiB in all. It is built once and kept; bump the
// recipe to rebuild it.
const (
	bigRecipeLabel = "io.podprof.bench.recipe"
	bigRecipe      = "1"
	bigFiles       = 50000
	bigBytes       = 1 << 30
	bigFilesPerDir = 100
	// The first layer has files 0 to bigHalf-1, under bigPrefixA; the
	// second the rest, under bigPrefixB.
	bigHalf    = bigFiles * 3 / 5
	bigPrefixA = "big/a"
	bigPrefixB = "big/b"
)

// ---- 5. report -----------------------------------------------------------

func (b *bench) benchReport(ctx context.Context) error {
	graphRoot, driver, err := podmanStore()
	if err != nil {
		return err
	}

	// The demo image's profile is a real run's.
	demoProfile := filepath.Join(b.tmp, "report-demo.json")
	demoCmd := "cat /etc/os-release; ls -lR /usr/share/doc; dpkg -l; apt-get --version; grep -r root /etc"
	prog, args := b.containerCmd(true, b.name(), demoProfile, nil, demoImage, "/bin/sh", "-c", demoCmd+" >/dev/null 2>&1; true")
	if _, _, err := runTimed(ctx, prog, args...); err != nil {
		return err
	}
	p, err := b.readProfile(demoProfile)
	if err != nil {
		return err
	}
	r, err := b.reportOne(ctx, graphRoot, driver, demoImage, demoProfile, "podprof run of: sh -c '"+demoCmd+"'", len(p.Files), 0.3)
	if err != nil {
		return err
	}
	b.res.Reports = append(b.res.Reports, r)

	if !b.cfg.bigImage {
		return nil
	}
	if err := b.ensureBigImage(ctx); err != nil {
		return err
	}
	bigProfile, files, err := b.syntheticProfile(graphRoot, driver, bigImage)
	if err != nil {
		return err
	}
	r, err = b.reportOne(ctx, graphRoot, driver, bigImage, bigProfile, "made up: every 10th regular file of the image", files, 1.0)
	if err != nil {
		return err
	}
	b.res.Reports = append(b.res.Reports, r)
	return nil
}

func imageID(image string) (string, error) {
	return output("podman", "image", "inspect", "--format", "{{.Id}}", image)
}

// reportOne times what podprof run does between the container's exit and
// the summary, phase by phase, against streaming the image's tar headers
// out of `podman image save`.
func (b *bench) reportOne(ctx context.Context, graphRoot, driver, image, profilePath, from string, profileFiles int, goal float64) (*ReportResult, error) {
	id, err := imageID(image)
	if err != nil {
		return nil, err
	}
	r := &ReportResult{Image: image, ImageID: id, ProfileFiles: profileFiles, ProfileFrom: from, Goal: goal}
	b.logf("report %s: %d x the summary of a %d-file profile", image, b.cfg.reportReps, profileFiles)
	phases := []string{"ReadProfile", "StorageLayers", "BuildImage", "Join", "NewSummary", "WriteText"}
	r.Phases, r.Total, err = timePhases(b.cfg.reportReps, phases, func(mark func()) error {
		profile, err := report.ReadProfile(profilePath)
		if err != nil {
			return err
		}
		mark()
		layers, err := imagestore.Store{GraphRoot: graphRoot, Driver: driver}.Layers(id)
		if err != nil {
			return err
		}
		mark()
		img, err := report.BuildImage(layers)
		if err != nil {
			return err
		}
		mark()
		usage := report.Join(img, profile)
		mark()
		summary := report.NewSummary(usage, profilePath, 5)
		mark()
		if err := summary.WriteText(io.Discard); err != nil {
			return err
		}
		r.Layers, r.Files, r.Bytes = len(layers), img.Files, img.Bytes
		return nil
	})
	if err != nil {
		return nil, err
	}
	b.logf("report %s: %s (%d layers, %d files, %s)", image, fmtStat(r.Total, secs), r.Layers, r.Files, report.HumanBytes(r.Bytes))

	var saves []float64
	for i := 0; i < b.cfg.saveReps; i++ {
		d, entries, size, err := streamSave(ctx, image)
		if err != nil {
			return nil, err
		}
		saves = append(saves, d.Seconds())
		r.SaveEntries, r.SaveBytes = entries, size
	}
	r.Save = newStats(saves)
	b.logf("report %s: podman image save | tar headers: %s (%d entries in its layers, %s streamed)", image, fmtStat(r.Save, secs), r.SaveEntries, report.HumanBytes(r.SaveBytes))
	return r, nil
}

// streamSave times `podman image save IMAGE` piped into a reader of the
// tar headers of the archive and of each layer in it: listing the image's
// files the way a tool without access to the store must.
func streamSave(ctx context.Context, image string) (time.Duration, int, int64, error) {
	start := time.Now()
	cmd := exec.CommandContext(ctx, "podman", "image", "save", "--format", "docker-archive", image)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, 0, 0, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return 0, 0, 0, err
	}
	counter := &countingReader{r: bufio.NewReaderSize(stdout, 1<<20)}
	entries, readErr := countLayerEntries(counter)
	io.Copy(io.Discard, counter)
	if err := cmd.Wait(); err != nil {
		return 0, 0, 0, fmt.Errorf("podman image save %s: %v: %s", image, err, lastLines(stderr.String(), 3))
	}
	if readErr != nil {
		return 0, 0, 0, fmt.Errorf("reading podman image save %s: %w", image, readErr)
	}
	return time.Since(start), entries, counter.n, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func countLayerEntries(r io.Reader) (int, error) {
	outer := tar.NewReader(r)
	entries := 0
	for {
		hdr, err := outer.Next()
		if err == io.EOF {
			return entries, nil
		}
		if err != nil {
			return entries, err
		}
		if !strings.HasSuffix(hdr.Name, ".tar") {
			continue
		}
		inner := tar.NewReader(outer)
		for {
			if _, err := inner.Next(); err == io.EOF {
				break
			} else if err != nil {
				return entries, fmt.Errorf("layer %s: %w", hdr.Name, err)
			}
			entries++
		}
	}
}

// syntheticProfile writes a profile of image that opened every 10th
// regular file of it.
func (b *bench) syntheticProfile(graphRoot, driver, image string) (string, int, error) {
	id, err := imageID(image)
	if err != nil {
		return "", 0, err
	}
	layers, err := imagestore.Store{GraphRoot: graphRoot, Driver: driver}.Layers(id)
	if err != nil {
		return "", 0, err
	}
	img, err := report.BuildImage(layers)
	if err != nil {
		return "", 0, err
	}
	p := &report.Profile{
		Version: report.ProfileVersion,
		Image:   report.ImageRef{Name: image, ID: id},
		Tracer:  "synthetic",
		Started: time.Now(),
		Ended:   time.Now(),
	}
	i := 0
	img.Root.Walk(func(n *report.Node) bool {
		if n.Kind == report.Regular {
			if i%10 == 0 {
				p.Files = append(p.Files, report.File{Path: n.Path(), Read: true})
			}
			i++
		}
		return true
	})
	path := filepath.Join(b.tmp, "report-big.json")
	if err := report.WriteProfile(path, p); err != nil {
		return "", 0, err
	}
	return path, len(p.Files), nil
}

// ensureBigImage builds the 1 GiB, 50,000-file image unless it is there.
func (b *bench) ensureBigImage(ctx context.Context) error {
	return b.ensureBig(ctx, bigImage, busyboxImage, nil)
}

// ensureBig builds image unless it is there: base, the two layers of the
// 1 GiB of files, then the layers extra writes (tar files in dir, whose
// names it returns).
func (b *bench) ensureBig(ctx context.Context, image, base string, extra func(dir string) ([]string, error)) error {
	if label, err := output("podman", "image", "inspect", "--format", "{{index .Labels \""+bigRecipeLabel+"\"}}", image); err == nil && label == bigRecipe {
		return nil
	}
	b.logf("building %s (%d files, %s on %s; once, then kept)", image, bigFiles, report.HumanBytes(bigBytes), base)
	dir, err := os.MkdirTemp(b.tmp, "big-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// Sizes cycle over 0..2x the mean, so that the layers sum to 1 GiB.
	mean := int64(bigBytes / bigFiles)
	size := func(i int) int64 { return 2 * mean * int64(i%100) / 99 }
	if err := writeBigTar(filepath.Join(dir, "a.tar"), 0, bigHalf, size); err != nil {
		return err
	}
	if err := writeBigTar(filepath.Join(dir, "b.tar"), bigHalf, bigFiles, size); err != nil {
		return err
	}
	containerfile := fmt.Sprintf("FROM %s\nADD a.tar /\nADD b.tar /\n", base)
	if extra != nil {
		tars, err := extra(dir)
		if err != nil {
			return err
		}
		for _, t := range tars {
			containerfile += "ADD " + t + " /\n"
		}
	}
	containerfile += fmt.Sprintf("LABEL %s=%s\n", bigRecipeLabel, bigRecipe)
	if err := os.WriteFile(filepath.Join(dir, "Containerfile"), []byte(containerfile), 0o644); err != nil {
		return err
	}
	t := time.Now()
	if _, _, err := runTimed(ctx, "podman", "build", "--layers", "-f", filepath.Join(dir, "Containerfile"), "-t", image, dir); err != nil {
		return err
	}
	b.logf("built %s in %.0f s", image, time.Since(t).Seconds())
	return nil
}

// bigPath is the path in the big images of their i-th file, and of its
// directory: bigFilesPerDir files a directory.
func bigPath(i int) (dir, file string) {
	prefix := bigPrefixA
	if i >= bigHalf {
		prefix = bigPrefixB
	}
	dir = fmt.Sprintf("%s/d%04d", prefix, i/bigFilesPerDir)
	return dir, fmt.Sprintf("%s/file-%06d.dat", dir, i)
}

func writeBigTar(path string, from, to int, size func(int) int64) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	tw := tar.NewWriter(w)
	zeros := make([]byte, 1<<20)
	mtime := time.Unix(1700000000, 0)
	for i := from; i < to; i++ {
		dir, file := bigPath(i)
		if i%bigFilesPerDir == 0 || i == from {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755, ModTime: mtime}); err != nil {
				return err
			}
		}
		n := size(i)
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: file, Mode: 0o644, Size: n, ModTime: mtime}); err != nil {
			return err
		}
		for n > 0 {
			k := min(n, int64(len(zeros)))
			if _, err := tw.Write(zeros[:k]); err != nil {
				return err
			}
			n -= k
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return w.Flush()
}

// timePhases runs once reps times and returns the time of each phase, as
// once marks their ends (the last phase ends with once), and of the whole.
func timePhases(reps int, names []string, once func(mark func()) error) ([]Component, Stats, error) {
	samples := make([][]float64, len(names))
	var totals []float64
	for range reps {
		marks := []time.Time{time.Now()}
		if err := once(func() { marks = append(marks, time.Now()) }); err != nil {
			return nil, Stats{}, err
		}
		marks = append(marks, time.Now())
		if len(marks) != len(names)+1 {
			return nil, Stats{}, fmt.Errorf("timing %d phases, %d were marked", len(names), len(marks)-1)
		}
		for k := range names {
			samples[k] = append(samples[k], marks[k+1].Sub(marks[k]).Seconds())
		}
		totals = append(totals, marks[len(names)].Sub(marks[0]).Seconds())
	}
	phases := make([]Component, len(names))
	for k, name := range names {
		phases[k] = Component{Name: name, Stats: newStats(samples[k])}
	}
	return phases, newStats(totals), nil
}
