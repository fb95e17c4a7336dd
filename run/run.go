package run

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
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
	"github.com/podprof/podprof/cli"
	"github.com/podprof/podprof/podmancmd"
	"github.com/podprof/podprof/report"
	"github.com/podprof/podprof/tracerd"
	"github.com/podprof/podprof/tracerd/hook"
)

// options are podprof's own `run` options. They are spelled --podprof-NAME
// so they can never collide with a podman flag, and PODPROF_NAME in the
// environment sets their default.
type options struct {
	output      string
	summary     string
	format      string
	tracer      string
	untraceable string
	service     string
	seccomp     seccompOptions
}

func (o *options) define(flags *pflag.FlagSet) {
	flags.StringVar(&o.output, "podprof-output", os.Getenv("PODPROF_OUTPUT"),
		"write the profile to `PATH` (default "+cli.ProfileDir()+"/NAME-TIME.json)")
	flags.StringVar(&o.summary, "podprof-summary", envOr("PODPROF_SUMMARY", "auto"),
		"print the summary of used files: auto (when stderr is a terminal), always or never")
	flags.StringVar(&o.format, "podprof-format", envOr("PODPROF_FORMAT", "text"),
		"summary format: text or json")
	flags.StringVar(&o.tracer, "podprof-tracer", envOr("PODPROF_TRACER", "auto"),
		"tracer mode: auto, lsm, fentry or tracepoint")
	flags.StringVar(&o.untraceable, "podprof-untraceable", envOr("PODPROF_UNTRACEABLE", "fail"),
		"where podprof can't trace (no tracer service for a user without root, a kernel that can't): fail, or run the container untraced as podman would")
	flags.StringVar(&o.service, "podprof-service", envOr("PODPROF_SERVICE", serviceAuto),
		"the podman service that runs the container: system (the system's API socket, "+systemSocket+", where podprof's hook is installed in its hooks dirs: make install), private (podprof's own, started with podman's global flags and kept for "+podmancmd.IdleEnv+", default "+podmancmd.DefaultIdle.String()+", after the last run) or auto (system where it can, else private)")
	o.seccomp.define(flags)
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
	switch o.service {
	case serviceAuto, servicePrivate, serviceSystem:
	default:
		return fmt.Errorf("invalid --podprof-service %q: use auto, private or system", o.service)
	}
	if _, err := podmancmd.IdleTime(); err != nil {
		return err
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
	if len(args) >= 3 && args[0] == podmancmd.KeepServiceArg {
		// podprof-podman run KeepServiceArg DIR PODMAN FLAGS...: the
		// keeper of a service a run started (podmancmd.AcquireService).
		return podmancmd.KeepService(args[1], args[2], args[3:])
	}
	logrus.SetLevel(logrus.WarnLevel)
	cmd := podmanRunCommand()
	// podman-remote hides what a remote service can't do on the client's
	// machine; podprof's service runs on this machine, and podprof runs
	// podman itself for what no service can do (local.go).
	for _, name := range []string{"pidfile", "conmon-pidfile", "preserve-fds", "preserve-fd", "decryption-key"} {
		cmd.Flags().Lookup(name).Hidden = false
	}
	// podman-remote does not even define this one: podman's words.
	cmd.Flags().Bool("env-host", false, "Use all current host environment variables in container")
	var opts options
	opts.define(cmd.Flags())
	globalFlagsAfterRun := acceptGlobalFlags(cmd.Flags(), args)
	podmanRun := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, positional []string) error {
		runArgs := withoutPodprofFlags(args, len(positional))
		global := append(globalFlags, globalFlagsAfterRun()...)
		err := runTraced(cmd, positional, runArgs, &opts, global, podmanRun)
		var untraceable untraceableError
		if errors.As(err, &untraceable) && opts.untraceable == "run" {
			fmt.Fprintf(os.Stderr, "podprof: not tracing: %v\n", untraceable.error)
			os.Exit(podmancmd.Exec(append(append(globalFlags, "run"), runArgs...)))
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
		// A service wraps the runtime's error about a container it could
		// not create in its attach's words; podman run prints it alone.
		fmt.Fprintln(os.Stderr, "Error:", attachWording.ReplaceAllString(err.Error(), ""))
	}
	return registry.GetExitCode()
}

var attachWording = regexp.MustCompile(`^preparing container [0-9a-f]{64} for attach: `)

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

// runTraced runs the container with podprof's hook, through the private
// service or, for what no service can do, through podman itself. args are
// the positional arguments (IMAGE [COMMAND...]), runArgs all of run's
// arguments but podprof's own.
func runTraced(cmd *cobra.Command, args, runArgs []string, opts *options, globalFlags []string, podmanRun func(*cobra.Command, []string) error) error {
	if err := opts.validate(); err != nil {
		return err
	}
	if err := refuseRemote(globalFlags); err != nil {
		return err
	}
	dial, err := dialTracer()
	if err != nil {
		return err
	}
	podman, err := podmancmd.Find()
	if err != nil {
		return err
	}
	output, err := profilePath(opts.output, cmd, args[0])
	if err != nil {
		return err
	}
	l := runSetup{podman: podman, service: opts.service, globalFlags: globalFlags, output: output}
	l.annotations = []string{hook.ProfileAnnotation + "=" + output}
	if opts.tracer != "auto" {
		l.annotations = append(l.annotations, hook.TracerAnnotation+"="+opts.tracer)
	}
	seccompAnnotations, err := opts.seccomp.annotations()
	if err != nil {
		return err
	}
	l.annotations = append(l.annotations, seccompAnnotations...)
	l.annotations = append(l.annotations, tracerd.RunAnnotation+"="+tracerd.RunAnnotationValue(recordRun(cmd.Flags(), args)))
	// Load the tracer while the container is created, so that its start
	// does not wait for it.
	holdCtx, releaseTracer := context.WithCancel(cmd.Context())
	defer releaseTracer()
	held := make(chan error, 1)
	go func() {
		tracer, err := dial(hook.Request{Mode: opts.tracer, Hold: true}, hook.ReadyTimeout)
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

	before, _ := os.Lstat(output)
	var runErr error
	if needsLocalPodman(cmd, args[0]) {
		runErr = runWithLocalPodman(cmd, runArgs, l)
	} else {
		runErr = runWithService(cmd, args, l, podmanRun)
	}
	// The hook waits for the tracer podprof holds; if it could not load,
	// the container did not start and the tracer's reason is the error.
	if err := <-held; err != nil {
		return podprofFailed(err)
	}
	if runErr != nil {
		return runErr
	}
	if detach, _ := cmd.Flags().GetBool("detach"); detach {
		return nil // the tracer writes the profile when the container ends
	}
	written, err := awaitProfile(dial, output, before)
	if err != nil {
		return podprofFailed(err)
	}
	if !written {
		switch registry.GetExitCode() {
		case define.ExecErrorCodeGeneric, define.ExecErrorCodeCannotInvoke, define.ExecErrorCodeNotFound:
			return nil // podman said why the container's command did not run
		}
		return podprofFailed(fmt.Errorf("the tracer wrote no profile to %s: its reason is in the system log (tag podprof)", report.Printable(output)))
	}
	if opts.summary == "never" || (opts.summary == "auto" && !term.IsTerminal(int(os.Stderr.Fd()))) {
		return nil
	}
	if err := printSummary(output, opts.format, globalFlags); err != nil {
		return podprofFailed(err)
	}
	return nil
}

// runSetup is what both ways of running a traced container need.
type runSetup struct {
	podman      string
	service     string   // --podprof-service
	globalFlags []string // podman's, before and after run
	annotations []string // the hook's: where the profile goes, the tracer mode
	output      string   // the profile's path
}

// runWithService runs podman-remote's run against a private podman
// service, with the hook's annotations added.
func runWithService(cmd *cobra.Command, args []string, l runSetup, podmanRun func(*cobra.Command, []string) error) error {
	serviceFlags, out, noout := clientFlags(l.globalFlags)
	if out != "" {
		f, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.ModePerm)
		if err != nil {
			return fmt.Errorf("unable to open file for standard output: %w", err)
		}
		os.Stdout = f
	}
	ctx := cmd.Context()
	uri, lost, release, err := acquireService(ctx, l.service, l.podman, serviceFlags)
	if err != nil {
		return err
	}
	defer release()

	conf := registry.PodmanConfig()
	conf.URI = uri
	engine, err := registry.NewContainerEngine(cmd, args)
	if err != nil {
		return fmt.Errorf("connecting to podprof's podman service: %w", err)
	}
	if _, err := registry.NewImageEngine(cmd, args); err != nil {
		return fmt.Errorf("connecting to podprof's podman service: %w", err)
	}
	defer registry.ContainerEngine().Shutdown(ctx)
	defer registry.ImageEngine().Shutdown(ctx)
	version, conn, err := serviceConnection(engine)
	if err != nil {
		return fmt.Errorf("connecting to podprof's podman service: %w", err)
	}
	done, err := actAsPodmanOf(version, cmd, conn, noout)
	if err != nil {
		return err
	}
	defer done()
	for _, annotation := range l.annotations {
		if err := cmd.Flags().Set("annotation", annotation); err != nil {
			return err
		}
	}
	runErr := podmanRun(cmd, args)
	if runErr != nil {
		if err := lost(); err != nil {
			// podman-remote calls that 126, as if the command could not be
			// run: it is podprof's own failure.
			return podprofFailed(fmt.Errorf("%w; a container it started runs on, and its profile is written to %s when it ends", err, report.Printable(l.output)))
		}
	}
	return runErr
}

// runWithLocalPodman runs the installed podman's own run, with the hook's
// annotations added; its exit code is podprof's.
func runWithLocalPodman(cmd *cobra.Command, runArgs []string, l runSetup) error {
	fds, err := preservedFiles(cmd)
	if err != nil {
		return err
	}
	var args []string
	for _, annotation := range l.annotations {
		args = append(args, "--annotation", annotation)
	}
	code, err := runLocalPodman(l.podman, l.globalFlags, append(args, runArgs...), fds)
	if err != nil {
		return err
	}
	registry.SetExitCode(code)
	return nil
}

// podprofFailed marks err as podprof's own once the container has run: the
// exit code is then podman's for its own errors, 125, not the container's.
func podprofFailed(err error) error {
	registry.SetExitCode(define.ExecErrorCodeGeneric)
	return err
}

func printSummary(profilePath, format string, globalFlags []string) error {
	usage, err := cli.LoadUsage([]string{profilePath}, "", globalFlags)
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
		if err := os.MkdirAll(cli.ProfileDir(), 0o755); err != nil {
			return "", fmt.Errorf("creating %s: %w", cli.ProfileDir(), err)
		}
		name, _ := cmd.Flags().GetString("name")
		if name == "" {
			name = imageBaseName(image)
		}
		output = filepath.Join(cli.ProfileDir(), name+"-"+time.Now().Format("20060102-150405.000")+".json")
	}
	abs, err := filepath.Abs(output)
	if err != nil {
		return "", err
	}
	return abs, tracerd.CheckOutputPath(abs)
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

// awaitProfile returns once the tracer is done with the containers whose
// profile goes to path, and says whether one of them wrote it: a
// container whose command never ran has no profile.
func awaitProfile(dial func(hook.Request, time.Duration) (*hook.Client, error), path string, before os.FileInfo) (written bool, err error) {
	tracer, err := dial(hook.Request{Await: path}, profileTimeout)
	if err != nil {
		return false, fmt.Errorf("waiting for the profile %s: %w", report.Printable(path), err)
	}
	tracer.Close()
	st, err := os.Lstat(path)
	return err == nil && (before == nil || !os.SameFile(st, before)), nil
}

// profileTimeout bounds the wait for the last events of a container that
// has exited and the writing of its profile.
const profileTimeout = 30 * time.Second

// refuseRemote refuses the global flags that point podman at another
// machine: podprof traces this one's kernel.
func refuseRemote(global []string) error {
	for _, name := range []string{"remote", "url", "host", "connection", "context", "identity"} {
		if _, given := podmancmd.GlobalValue(global, name); given {
			return fmt.Errorf("podprof run traces containers on this machine; --%s points podman elsewhere: drop it", name)
		}
	}
	return nil
}

// clientFlags takes out of podman's global flags those of the client, not
// the service: --out FILE (podman 5: stdout, the container's too, goes to
// FILE) and --noout.
func clientFlags(global []string) (service []string, out string, noout bool) {
	out, _ = podmancmd.GlobalValue(global, "out")
	value, noout := podmancmd.GlobalValue(global, "noout")
	noout = noout && value != "false"
	for _, arg := range global {
		if name, _, _ := strings.Cut(arg, "="); name != "--out" && name != "--noout" {
			service = append(service, arg)
		}
	}
	return service, out, noout
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
