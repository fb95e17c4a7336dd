package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/podprof/podprof/imagestore"
	"github.com/podprof/podprof/podmancmd"
	"github.com/podprof/podprof/report"
)

// podprof's own commands are cobra commands, as podman's are: each is
// defined once, in its own file (its use line, help, flags and what it
// runs), and `podprof help`, shell completion (complete.go) and the man
// pages (make man) are made from those definitions. Every other command
// is podman's.

// Exit statuses, as podman's: 125 for podprof's own errors (a bad flag, a
// profile it cannot read), said in one line on stderr.
const (
	exitOK    = 0
	exitError = 125
)

// exitStatus ends a command with another status after the command has
// said why itself: report's --fail-unused-* gate (1), doctor with no mode
// (1), the OCI hook's failures (1).
type exitStatus int

func (s exitStatus) Error() string { return "exit status " + strconv.Itoa(int(s)) }

// apiCommands are the commands podprof-podman does (podmancmd.ExecAPI):
// they link podman's client, which podprof's other commands, its OCI hook
// and its tracer process must not pay for.
var apiCommands = []string{"run", "slim"}

const rootHelp = `podprof: which files of a container image does your workload really use?

podprof run is podman run, traced: it saves a profile of the files the
container opened. podprof report, explore, slim, sbom and vex read the
profiles against their image. Every other command and flag is podman's:
podprof runs the real podman with them unchanged, so alias podman=podprof
is safe.

` + ProfileArgs

// Root is podprof's command tree, as its help, completion and man pages
// show it.
func Root() *cobra.Command {
	root := &cobra.Command{
		Use:   "podprof",
		Short: "which files of a container image does your workload really use?",
		Long:  rootHelp,
		// Errors are printed once, podman's way, by Main.
		SilenceErrors:     true,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.AddCommand(
		apiCommand("run [podman run options] IMAGE [COMMAND [ARG...]]",
			"podman run, traced: save a profile of the files the container opened"),
		reportCommand(),
		apiCommand("slim [flags] PROFILE...",
			"build a smaller image with only the files the profiles' runs used, verified by running them again"),
		exploreCommand(),
		sbomCommand(),
		vexCommand(),
		seccompCommand(),
		doctorCommand(),
		hookCommand(),
		tracerCommand(),
		profilesCommand(),
		versionCommand(),
		completionCommand(),
	)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return fmt.Errorf("%w\nSee '%s --help'", err, cmd.CommandPath()) // as podman says it
	})
	// podprof's own help, then podman's: both are podprof's commands.
	root.SetHelpFunc(func(cmd *cobra.Command, args []string) {
		if cmd != root {
			defaultHelp(cmd, args)
			return
		}
		fmt.Fprint(cmd.OutOrStdout(), cmd.Long+"\n\n"+cmd.UsageString()+
			"\nEvery other command is podman's. Podman's help follows.\n\n")
		os.Exit(podmancmd.Exec([]string{"--help"}))
	})
	return root
}

var defaultHelp = (&cobra.Command{}).HelpFunc()

// IsCommand says whether podprof, not podman, does the command named.
// `help` is podprof's for podprof's commands and for itself alone.
func IsCommand(args []string) bool {
	if len(args) == 0 {
		return false
	}
	if args[0] == "help" {
		return len(args) == 1 || IsCommand(args[1:])
	}
	for _, c := range Root().Commands() {
		if c.Name() == args[0] {
			return true
		}
	}
	return false
}

// Main does podprof's command in args (IsCommand) and returns its exit
// status: 0, a status the command chose, or 125 after a one-line error.
func Main(args []string, stdout, stderr io.Writer) int {
	root := Root()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	var status exitStatus
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &status):
		return int(status)
	}
	fmt.Fprintln(stderr, "Error:", report.PrintableError(err))
	return exitError
}

// apiCommand stands for a command of podprof-podman, which defines its
// flags and help: podprof hands it the command line.
func apiCommand(use, short string) *cobra.Command {
	cmd := &cobra.Command{
		Use:                use,
		Short:              short,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return exitStatus(podmancmd.ExecAPI(append([]string{cmd.Name()}, args...)))
		},
		ValidArgsFunction: completeAPICommand,
	}
	cmd.SetHelpFunc(func(cmd *cobra.Command, _ []string) {
		os.Exit(podmancmd.ExecAPI([]string{cmd.Name(), "--help"}))
	})
	return cmd
}

// IsAPICommand says whether the command named is podprof-podman's.
func IsAPICommand(name string) bool { return slices.Contains(apiCommands, name) }

// ReadsArchive says whether args are a podprof command that names an image
// outside the store (imagestore.IsArchive) with one of its flags: only
// podprof-podman, which links their reader, does those
// (imagestore.RegisterArchiveReader).
func ReadsArchive(args []string) bool {
	cmd, rest, err := Root().Find(args)
	if err != nil || !cmd.HasParent() || cmd.ParseFlags(rest) != nil {
		return false
	}
	found := false
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		found = found || (f.Value.Type() == "string" && imagestore.IsArchive(f.Value.String()))
	})
	return found
}

// ProfileArgs is what the commands that read profiles say of their
// arguments, in their help.
const ProfileArgs = "PROFILE is a profile file, a container's name or ID (its newest saved profile), or nothing (the newest saved profile)."

// APICommand is the use line and the one-line help of podprof-podman's
// command name (IsAPICommand), defined here for podprof's help.
func APICommand(name string) (use, short string) {
	for _, c := range Root().Commands() {
		if c.Name() == name {
			return c.Use, c.Short
		}
	}
	panic("no podprof command " + name)
}
