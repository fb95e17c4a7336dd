package run

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/containers/podman/v5/pkg/bindings"
	"github.com/containers/podman/v5/pkg/bindings/images"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.podman.io/image/v5/docker/reference"

	"github.com/podprof/podprof/cli"
	"github.com/podprof/podprof/imagestore"
	"github.com/podprof/podprof/podmancmd"
	"github.com/podprof/podprof/report"
	"github.com/podprof/podprof/slim"
)

// Exit codes of podprof slim: 0, exitVerifyFailed when the slim image did
// not run as the original did (it was removed), exitError when it could
// not be made, as podman's own errors.
const (
	exitOK           = 0
	exitVerifyFailed = 1
	exitError        = 125
)

// slimOptions are podprof slim's flags.
type slimOptions struct {
	image         string
	tag           string
	include       []string
	includeFrom   string
	exclude       []string
	verify        bool
	verifyTimeout time.Duration
	force         bool
	replace       bool
	format        string
}

func (o *slimOptions) define(flags *pflag.FlagSet) {
	flags.StringVar(&o.image, "image", "", "the profiles' `IMAGE` (default: the image they ran; another one is refused)")
	flags.StringVarP(&o.tag, "tag", "t", "", "name the slim image `NAME[:TAG]` (default: the image's name with -slim after its tag)")
	flags.StringArrayVar(&o.include, "include", nil, "also keep `PATH` (absolute; a path.Match glob; a directory with all it holds); repeatable")
	flags.StringVar(&o.includeFrom, "include-from", "", "also keep the paths or globs listed in `FILE`, one a line (# comments)")
	flags.StringArrayVar(&o.exclude, "exclude", nil, "never keep `PATH` (or glob), with all it holds, though a profile used it; repeatable")
	flags.BoolVar(&o.verify, "verify", true, "run each recorded run again in the original and the slim image, traced, and compare them (when the profiles record how they ran)")
	flags.DurationVar(&o.verifyTimeout, "verify-timeout", 5*time.Minute, "stop a verifying run after `DURATION` and compare what it did until then (for services)")
	flags.BoolVar(&o.force, "force", false, "build from profiles that lost events (the image may lack files the workload needs)")
	flags.BoolVar(&o.replace, "replace", false, "move the name to the slim image if an image has it")
	flags.StringVar(&o.format, "format", "text", "text or json")
}

// Slim is `podprof slim [flags] PROFILE...`: a new image in podman's
// store with only the files the profiles' runs used, and what a container
// needs besides, verified by running the recorded runs again. globalFlags
// are podman's, given before slim. It returns 0; 1 when the slim image did
// not run as the original (it is removed); 125 with a one-line error.
func Slim(globalFlags, args []string, stdout, stderr io.Writer) int {
	code := exitOK
	root := commands(func(cmd *cobra.Command, o *slimOptions, args []string) error {
		var err error
		code, err = slimMain(globalFlags, cmd.Flags(), args, o, stdout, stderr)
		return err
	})
	root.SetArgs(append([]string{"slim"}, args...))
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(stderr, "Error:", report.PrintableError(err))
		if code == exitOK {
			code = exitError
		}
	}
	return code
}

func slimMain(globalFlags []string, flags *pflag.FlagSet, args []string, o *slimOptions, stdout, stderr io.Writer) (int, error) {
	if o.format != "text" && o.format != "json" {
		return exitError, fmt.Errorf("invalid --format %q: use text or json", o.format)
	}
	if o.includeFrom != "" {
		listed, err := readPathList(o.includeFrom)
		if err != nil {
			return exitError, err
		}
		o.include = append(o.include, listed...)
	}
	paths, err := cli.ProfilePaths(args)
	if err != nil {
		return exitError, err
	}
	var profiles []*report.Profile
	for _, path := range paths {
		p, err := report.ReadProfile(path)
		if err != nil {
			return exitError, err
		}
		if p.LostEvents > 0 && !o.force {
			return exitError, fmt.Errorf("%s lost %d events: the slim image could lack files the workload opened; profile the run again, or pass --force", report.Printable(path), p.LostEvents)
		}
		profiles = append(profiles, p)
	}
	store, err := imagestore.Default(globalFlags)
	if err != nil {
		return exitError, err
	}
	imageID, err := slimImageID(store, o.image, profiles)
	if err != nil {
		return exitError, err
	}
	tag, err := slimTag(o.tag, profiles[0].Image.Name)
	if err != nil {
		return exitError, err
	}
	var runs []*report.RunRecord
	for _, p := range profiles {
		if p.Run != nil && !slices.ContainsFunc(runs, func(r *report.RunRecord) bool { return sameRun(r, p.Run) }) {
			runs = append(runs, p.Run)
		}
	}
	if o.verify && len(runs) == 0 && flags.Changed("verify") {
		return exitError, errors.New("--verify: no profile records how it ran (only podprof run records it): verify the slim image by hand, or leave --verify out")
	}

	original, err := store.OpenImage(imageID)
	if err != nil {
		return exitError, err
	}
	config, err := store.Config(imageID)
	if err != nil {
		return exitError, err
	}
	if existing, err := store.Named(tag); err != nil {
		return exitError, err
	} else if existing != "" && !o.replace {
		return exitError, fmt.Errorf("image %s exists: name the slim image with -t NAME[:TAG], or pass --replace", tag)
	}
	podman, err := podmancmd.Find()
	if err != nil {
		return exitError, err
	}
	dir, err := podmancmd.PrivateDir()
	if err != nil {
		return exitError, err
	}
	// The service starts while the layer is written; it owns dir, and
	// Close removes it, layer and all.
	ctx := context.Background()
	type started struct {
		svc *podmancmd.Service
		err error
	}
	service := make(chan started, 1)
	go func() {
		svc, err := podmancmd.StartService(ctx, podman, dir, globalFlags)
		service <- started{svc, err}
	}()
	usage := report.Join(original.Tree, report.Merge(profiles...))
	built, buildErr := slim.Build(dir, original, config, usage, slim.Needs{Include: o.include, Exclude: o.exclude}, slimCommand(o, paths))
	s := <-service
	if s.err != nil {
		os.RemoveAll(dir)
		return exitError, s.err
	}
	defer s.svc.Close()
	if buildErr != nil {
		return exitError, buildErr
	}
	conn, err := bindings.NewConnection(ctx, s.svc.URI)
	if err != nil {
		return exitError, fmt.Errorf("connecting to podprof's podman service: %w", err)
	}
	if err := loadImage(conn, built, tag); err != nil {
		return exitError, err
	}

	result := slimResult{
		Original: imageSummary{Name: profiles[0].Image.Name, ID: imageID, Bytes: original.Tree.Bytes, Files: original.Tree.Files, Layers: len(original.Layers)},
		Slim:     imageSummary{Name: tag, ID: built.ID, Bytes: built.Tree.Bytes, Files: built.Tree.Files, Layers: 1},
		Checks:   []slim.Check{},
	}
	if built.Tree.Bytes > 0 {
		result.Factor = float64(original.Tree.Bytes) / float64(built.Tree.Bytes)
	}
	code := exitOK
	if o.verify && len(runs) > 0 {
		result.Checks, err = slim.Verify(ctx, podprofRerun(globalFlags, dir, o.verifyTimeout), original.Tree, imageID, built, runs)
		if err == nil && slices.ContainsFunc(result.Checks, func(c slim.Check) bool { return !c.OK() }) {
			code = exitVerifyFailed
		}
		if err != nil || code != exitOK {
			if _, rmErr := images.Remove(conn, []string{built.ID}, new(images.RemoveOptions).WithForce(true)); len(rmErr) > 0 {
				fmt.Fprintf(stderr, "Error: removing the slim image %s: %v\n", built.ID, errors.Join(rmErr...))
			}
		}
		if err != nil {
			return exitError, fmt.Errorf("%w; the slim image was removed", err)
		}
	}
	if o.format == "json" {
		err = report.WriteJSON(stdout, "slim result", result)
	} else {
		err = result.writeText(stdout)
	}
	if err != nil {
		return exitError, err
	}
	if code == exitVerifyFailed {
		fmt.Fprintln(stderr, "podprof: the slim image did not run as the original did, and was removed: keep what it lacked with --include PATH")
	}
	return code, nil
}

// slimImageID is the image the profiles ran, which --image may name too,
// but no other: a slim image of another image would keep files by paths
// that may mean nothing there.
func slimImageID(store imagestore.Store, image string, profiles []*report.Profile) (string, error) {
	id := profiles[0].Image.ID
	for _, p := range profiles[1:] {
		if p.Image.ID != id {
			return "", errors.New("the profiles are of different images: slim one image at a time")
		}
	}
	if image == "" {
		if id == "" {
			return "", errors.New("the profile does not name its image (written by a hook outside podman?): name it with --image IMAGE")
		}
		return id, nil
	}
	named, err := store.ResolveImage(image)
	if err != nil {
		return "", err
	}
	if id != "" && named != id {
		return "", fmt.Errorf("image %s is not the profiles' image %s: profile a run of %s first", report.Printable(image), id, report.Printable(image))
	}
	return named, nil
}

// slimTag is the slim image's name: the one given, as podman names a
// local image (localhost/ before a name with no registry, :latest after
// one with no tag), or the original's with -slim after its tag.
func slimTag(given, original string) (string, error) {
	name := given
	if name == "" {
		if original == "" {
			return "", errors.New("the profiles do not name their image: name the slim image with -t NAME[:TAG]")
		}
		named, err := reference.ParseNormalizedNamed(original)
		if err != nil {
			return "", fmt.Errorf("the profiles' image name %s: %w: name the slim image with -t NAME[:TAG]", report.Printable(original), err)
		}
		tag := "latest"
		if tagged, ok := named.(reference.Tagged); ok {
			tag = tagged.Tag()
		}
		name = reference.TrimNamed(named).String() + ":" + tag + "-slim"
	}
	if first, _, found := strings.Cut(name, "/"); !found || (!strings.ContainsAny(first, ".:") && first != "localhost") {
		name = "localhost/" + name
	}
	named, err := reference.ParseNamed(name)
	if err != nil {
		return "", fmt.Errorf("invalid image name %s: %w", report.Printable(name), err)
	}
	if _, digested := named.(reference.Digested); digested {
		return "", fmt.Errorf("invalid image name %s: a slim image is named by a tag, not a digest", report.Printable(name))
	}
	return reference.TagNameOnly(named).String(), nil
}

// loadImage loads the slim image into podman's store, named tag.
func loadImage(conn context.Context, built *slim.Built, tag string) error {
	archive, w := io.Pipe()
	go func() { w.CloseWithError(built.WriteArchive(w, tag)) }()
	_, err := images.Load(conn, archive)
	archive.Close()
	if err != nil {
		return fmt.Errorf("loading the slim image into podman's store: %w", err)
	}
	if exists, err := images.Exists(conn, built.ID, nil); err != nil || !exists {
		return fmt.Errorf("podman loaded the slim image, but not as %s: %v", built.ID, err)
	}
	return nil
}

// slimCommand is how the slim image was made, for its history.
func slimCommand(o *slimOptions, profiles []string) string {
	words := []string{"podprof", "slim"}
	for _, p := range o.include {
		words = append(words, "--include", p)
	}
	for _, p := range o.exclude {
		words = append(words, "--exclude", p)
	}
	for _, p := range profiles {
		words = append(words, filepath.Base(p))
	}
	return strings.Join(words, " ")
}

func sameRun(a, b *report.RunRecord) bool {
	return a.Image == b.Image && slices.Equal(a.Options, b.Options) && slices.Equal(a.Command, b.Command)
}

// podprofRerun runs a recorded run with this podprof's run, traced, stdin
// empty, and stops it after timeout (SIGTERM, which podprof run passes to
// the container): a service is compared by what it did until then.
func podprofRerun(globalFlags []string, dir string, timeout time.Duration) slim.Rerun {
	runs := 0
	return func(ctx context.Context, imageID string, run *report.RunRecord) (*slim.RunResult, error) {
		self, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("finding podprof's own executable: %w", err)
		}
		runs++
		profile := filepath.Join(dir, fmt.Sprintf("verify-%d.json", runs))
		args := append(append([]string{}, globalFlags...), "run", "--rm", "--podprof-output="+profile, "--podprof-summary=never")
		args = append(append(append(args, run.Options...), imageID), run.Command...)
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, self, args...)
		cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
		cmd.WaitDelay = 15 * time.Second
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		// Stopped, a run that exits 0 still has the context's error.
		var exit *exec.ExitError
		if err := cmd.Run(); err != nil && ctx.Err() == nil && !errors.As(err, &exit) {
			return nil, err
		}
		result := &slim.RunResult{ExitCode: cmd.ProcessState.ExitCode(), Stdout: out.Bytes(), Stderr: errOut.Bytes(), Stopped: ctx.Err() != nil}
		result.Profile, err = report.ReadProfile(profile)
		if err != nil && result.ExitCode == exitError {
			// podprof run's own failure, not the container's exit code.
			return nil, errors.New(lastLine(errOut.String()))
		}
		return result, nil
	}
}

// readPathList reads --include-from's file: a path or glob a line; blank
// lines and lines starting with # are skipped.
func readPathList(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--include-from: %w", err)
	}
	defer f.Close()
	var paths []string
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		line := strings.TrimSpace(lines.Text())
		if line != "" && !strings.HasPrefix(line, "#") {
			paths = append(paths, line)
		}
	}
	if err := lines.Err(); err != nil {
		return nil, fmt.Errorf("--include-from %s: %w", report.Printable(path), err)
	}
	return paths, nil
}

// slimResult is what podprof slim prints: the two images and the checks.
type slimResult struct {
	Original imageSummary `json:"original"`
	Slim     imageSummary `json:"slim"`
	Factor   float64      `json:"factor"` // original bytes / slim bytes
	Checks   []slim.Check `json:"verified"`
}

type imageSummary struct {
	Name   string `json:"name"`
	ID     string `json:"id"`
	Bytes  int64  `json:"bytes"`
	Files  int64  `json:"files"`
	Layers int    `json:"layers"`
}

func (r *slimResult) writeText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintf(tw, "\toriginal\tslim\n")
	fmt.Fprintf(tw, "bytes\t%s\t%s\n", report.HumanBytes(r.Original.Bytes), report.HumanBytes(r.Slim.Bytes))
	fmt.Fprintf(tw, "files\t%d\t%d\n", r.Original.Files, r.Slim.Files)
	fmt.Fprintf(tw, "layers\t%d\t%d\n", r.Original.Layers, r.Slim.Layers)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "%.1fx smaller: %s (%.12s) from %s (%.12s)\n", r.Factor, report.Printable(r.Slim.Name), r.Slim.ID, report.Printable(r.Original.Name), r.Original.ID)
	for _, c := range r.Checks {
		verdict := "same exit code, output and errors, no file missing"
		if !c.OK() {
			var problems []string
			if c.Stopped != c.SlimStopped {
				problems = append(problems, fmt.Sprintf("stopped after --verify-timeout: original %v, slim %v", c.Stopped, c.SlimStopped))
			}
			if c.ExitCode != c.SlimExitCode {
				problems = append(problems, fmt.Sprintf("exit code %d, not %d", c.SlimExitCode, c.ExitCode))
			}
			if !c.SameStdout {
				problems = append(problems, "other output ("+c.StdoutDiff+")")
			}
			if !c.SameStderr {
				problems = append(problems, "other errors ("+c.StderrDiff+")")
			}
			if len(c.Missing) > 0 {
				quoted := make([]string, len(c.Missing))
				for i, m := range c.Missing {
					quoted[i] = report.Printable(m)
				}
				problems = append(problems, "missing "+strings.Join(quoted, ", "))
			}
			verdict = "FAILED: " + strings.Join(problems, "; ")
		}
		ended := fmt.Sprintf("exit %d", c.ExitCode)
		if c.Stopped {
			ended = fmt.Sprintf("stopped after --verify-timeout, exit %d", c.ExitCode)
		}
		fmt.Fprintf(w, "verified %q (%s): %s\n", c.Run.Command, ended, verdict)
	}
	return nil
}

// lastLine is the last line of s that is not blank.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
