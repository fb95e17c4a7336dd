package run

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	// podman-remote's own `run`: its flags, its parsing into a spec, its
	// attach, signal proxy and exit codes. podprof adds a private service
	// and the hook annotation around it.
	_ "github.com/containers/podman/v5/cmd/podman/containers"
	"github.com/containers/podman/v5/cmd/podman/registry"
	"github.com/containers/podman/v5/libpod/define"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/podprof/podprof/bpf"
	"github.com/podprof/podprof/report"
)

// DefaultProfileDir is where profiles go unless --podprof-output says
// otherwise.
const DefaultProfileDir = "/var/lib/podprof/profiles"

// options are podprof's own `run` options. They are spelled --podprof-NAME
// so they can never collide with a podman flag, and PODPROF_NAME in the
// environment sets their default.
type options struct {
	output      string
	summary     string
	format      string
	tracer      string
	untraceable string
}

func (o *options) define(flags *pflag.FlagSet) {
	flags.StringVar(&o.output, "podprof-output", os.Getenv("PODPROF_OUTPUT"),
		"write the profile to `PATH` (default "+DefaultProfileDir+"/NAME-TIME.json)")
	flags.StringVar(&o.summary, "podprof-summary", envOr("PODPROF_SUMMARY", "auto"),
		"print the summary of used files: auto (when stderr is a terminal), always or never")
	flags.StringVar(&o.format, "podprof-format", envOr("PODPROF_FORMAT", "text"),
		"summary format: text or json")
	flags.StringVar(&o.tracer, "podprof-tracer", envOr("PODPROF_TRACER", "auto"),
		"tracer mode: auto, lsm, fentry or tracepoint")
	flags.StringVar(&o.untraceable, "podprof-untraceable", envOr("PODPROF_UNTRACEABLE", "fail"),
		"where podprof can't trace (not root, a kernel that can't): fail, or run the container untraced as podman would")
}

func (o *options) validate() error {
	switch o.summary {
	case "auto", "always", "never":
	default:
		return fmt.Errorf("invalid --podprof-summary %q: use auto, always or never", o.summary)
	}
	switch o.format {
	case "text", "json":
	default:
		return fmt.Errorf("invalid --podprof-format %q: use text or json", o.format)
	}
	switch o.untraceable {
	case "fail", "run":
	default:
		return fmt.Errorf("invalid --podprof-untraceable %q: use fail or run", o.untraceable)
	}
	_, err := bpf.ParseMode(o.tracer)
	return err
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

// Main is `podprof run`: podman's run, traced. globalFlags are podman's
// global flags given before `run`; they configure the private service.
// It returns the exit code: the container's, or 125 for podprof's and
// podman's own errors, as podman does.
func Main(globalFlags, args []string) int {
	logrus.SetLevel(logrus.WarnLevel)
	cmd := podmanRunCommand()
	// podman-remote hides what a remote service can't do on the client's
	// machine; podprof's service runs on this machine, where it can.
	for _, name := range []string{"pidfile", "conmon-pidfile"} {
		cmd.Flags().Lookup(name).Hidden = false
	}
	var opts options
	opts.define(cmd.Flags())
	podmanRun := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, positional []string) error {
		err := runTraced(cmd, positional, &opts, globalFlags, podmanRun)
		var untraceable untraceableError
		if errors.As(err, &untraceable) && opts.untraceable == "run" {
			fmt.Fprintf(os.Stderr, "podprof: not tracing: %v\n", untraceable.error)
			os.Exit(Podman(append(append(globalFlags, "run"), withoutPodprofFlags(args, len(positional))...)))
		}
		return err
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return fmt.Errorf("%w\nSee 'podman run --help'", err) // as podman says it
	})
	cmd.SetArgs(args)
	cmd.SilenceErrors = true
	cmd.SilenceUsage = true
	if err := cmd.ExecuteContext(registry.Context()); err != nil {
		if registry.GetExitCode() == 0 {
			registry.SetExitCode(define.ExecErrorCodeGeneric)
		}
		fmt.Fprintln(os.Stderr, "Error:", err)
	}
	return registry.GetExitCode()
}

// podmanRunCommand is podman-remote's `run` command, as registered by its
// package.
func podmanRunCommand() *cobra.Command {
	for _, c := range registry.Commands {
		if c.Parent == nil && c.Command.Name() == "run" {
			return c.Command
		}
	}
	panic("podman's run command is not registered")
}

func runTraced(cmd *cobra.Command, args []string, opts *options, globalFlags []string, podmanRun func(*cobra.Command, []string) error) error {
	if err := opts.validate(); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return untraceableError{errors.New("podprof run needs root to load its eBPF tracer: run it as root, or pass --podprof-untraceable=run")}
	}
	podman, err := findPodman()
	if err != nil {
		return err
	}
	globalFlags, err = serviceFlags(podman, globalFlags)
	if err != nil {
		return err
	}
	output, err := profilePath(opts.output, cmd, args[0])
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	// Load the tracer while the service starts and the container is
	// created, so that its start does not wait for it.
	holdCtx, releaseTracer := context.WithCancel(ctx)
	defer releaseTracer()
	held := make(chan error, 1)
	go func() {
		tracer, err := dialTracer(tracerRequest{Mode: opts.tracer, Hold: true}, readyTimeout)
		if err == nil {
			defer tracer.Close() // held until podprof run returns
		}
		held <- err
		<-holdCtx.Done()
	}()
	if opts.untraceable == "run" {
		// Whether the container may run untraced must be known before
		// it runs: give up the overlap of the load with its creation.
		if err := <-held; err != nil {
			return untraceableError{err}
		}
		held <- nil
	}
	svc, err := startService(ctx, podman, globalFlags)
	if err != nil {
		return err
	}
	defer svc.close()

	conf := registry.PodmanConfig()
	conf.URI = svc.URI
	if _, err := registry.NewContainerEngine(cmd, args); err != nil {
		return fmt.Errorf("connecting to the private podman service: %w", err)
	}
	if _, err := registry.NewImageEngine(cmd, args); err != nil {
		return fmt.Errorf("connecting to the private podman service: %w", err)
	}
	defer registry.ContainerEngine().Shutdown(ctx)
	defer registry.ImageEngine().Shutdown(ctx)

	if err := cmd.Flags().Set("annotation", ProfileAnnotation+"="+output); err != nil {
		return err
	}
	if opts.tracer != "auto" {
		if err := cmd.Flags().Set("annotation", TracerAnnotation+"="+opts.tracer); err != nil {
			return err
		}
	}
	before, _ := os.Lstat(output)
	// The hook waits for the tracer podprof holds; if it could not load,
	// the container did not start and the tracer's reason is the error.
	runErr := podmanRun(cmd, args)
	if err := <-held; err != nil {
		return podprofFailed(err)
	}
	if runErr != nil {
		if err := svc.lost(); err != nil {
			// podman-remote calls that 126, as if the command could not be
			// run: it is podprof's own failure.
			return podprofFailed(fmt.Errorf("%w; a container it started runs on, and its profile is written to %s when it ends", err, report.Printable(output)))
		}
		return runErr
	}
	if detach, _ := cmd.Flags().GetBool("detach"); detach {
		return nil // the tracer writes the profile when the container ends
	}
	if err := waitForProfile(ctx, output, before); err != nil {
		return podprofFailed(err)
	}
	if opts.summary == "never" || (opts.summary == "auto" && !term.IsTerminal(int(os.Stderr.Fd()))) {
		return nil
	}
	if err := printSummary(output, opts.format, globalFlags); err != nil {
		return podprofFailed(err)
	}
	return nil
}

// podprofFailed marks err as podprof's own once the container has run: the
// exit code is then podman's for its own errors, 125, not the container's.
func podprofFailed(err error) error {
	registry.SetExitCode(define.ExecErrorCodeGeneric)
	return err
}

func printSummary(profilePath, format string, globalFlags []string) error {
	usage, err := loadUsage([]string{profilePath}, "", globalFlags)
	if err != nil {
		return err
	}
	summary := report.NewSummary(usage, profilePath, 5)
	if format == "json" {
		return summary.WriteJSON(os.Stderr)
	}
	return summary.WriteText(os.Stderr)
}

// profilePath is the absolute path the profile is written to.
func profilePath(output string, cmd *cobra.Command, image string) (string, error) {
	if output == "" {
		if err := os.MkdirAll(DefaultProfileDir, 0o755); err != nil {
			return "", fmt.Errorf("creating %s: %w", DefaultProfileDir, err)
		}
		name, _ := cmd.Flags().GetString("name")
		if name == "" {
			name = imageBaseName(image)
		}
		output = filepath.Join(DefaultProfileDir, name+"-"+time.Now().Format("20060102-150405.000")+".json")
	}
	abs, err := filepath.Abs(output)
	if err != nil {
		return "", err
	}
	return abs, checkOutputPath(abs)
}

var unsafeNameChars = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// imageBaseName turns "localhost/podprof-demo/debian:bookworm" into
// "debian-bookworm", a file name.
func imageBaseName(image string) string {
	name := image[strings.LastIndex(image, "/")+1:]
	if i := strings.Index(name, "@"); i >= 0 {
		name = name[:i]
	}
	return strings.Trim(unsafeNameChars.ReplaceAllString(name, "-"), "-.")
}

// waitForProfile returns once the tracer has replaced the file at path.
// The tracer writes it right after the container's init exits, which is
// before podman reports the exit; the wait only covers the last events.
func waitForProfile(ctx context.Context, path string, before os.FileInfo) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		if st, err := os.Lstat(path); err == nil && (before == nil || !os.SameFile(st, before)) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the tracer did not write the profile %s within 30s of the container's exit", path)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// serviceFlags are the global flags the private service takes: podman's
// own global flags keep their meaning there. Those that point podman at
// another machine can't: podprof traces this one's kernel. --out and
// --noout are the client's, and applied here as podman does.
func serviceFlags(podman string, global []string) ([]string, error) {
	var out []string
	for i := 0; i < len(global); i++ {
		name, value, hasValue := strings.Cut(strings.TrimLeft(global[i], "-"), "=")
		switch name {
		case "remote", "r", "url", "host", "H", "connection", "c", "context", "identity":
			return nil, fmt.Errorf("podprof run traces containers on this machine; --%s points podman elsewhere: drop it", name)
		case "out": // podman 5: stdout, the container's too, goes to a file
			if !hasValue && i+1 < len(global) {
				i++
				value = global[i]
			}
			f, err := os.OpenFile(value, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.ModePerm)
			if err != nil {
				return nil, fmt.Errorf("unable to open file for standard output: %w", err)
			}
			os.Stdout = f
			continue
		case "noout": // podman 5 silences stdout, the container's too; 4 does not
			if podmanMajorVersion(podman) >= 5 {
				if devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0); err == nil {
					os.Stdout = devnull
				}
			}
			continue
		}
		out = append(out, global[i])
	}
	return out, nil
}

// podmanMajorVersion is the installed podman's major version, from
// "podman version 4.3.1"; 0 if unknown.
func podmanMajorVersion(podman string) int {
	out, err := exec.Command(podman, "--version").Output()
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(out))
	if len(fields) == 0 {
		return 0
	}
	major, _ := strconv.Atoi(strings.Split(fields[len(fields)-1], ".")[0])
	return major
}

// untraceableError says podprof can't trace here at all; with
// --podprof-untraceable=run the container then runs as podman would.
type untraceableError struct{ error }

// withoutPodprofFlags is args without podprof's own options, which come
// before the image: positional is the count of arguments from the image on.
func withoutPodprofFlags(args []string, positional int) []string {
	flags, tail := args[:len(args)-positional], args[len(args)-positional:]
	var out []string
	for i := 0; i < len(flags); i++ {
		if name, _, hasValue := strings.Cut(flags[i], "="); strings.HasPrefix(name, "--podprof-") {
			if !hasValue {
				i++ // its value
			}
			continue
		}
		out = append(out, flags[i])
	}
	return append(out, tail...)
}
