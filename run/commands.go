package run

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/podprof/podprof/cli"
)

// commands are podprof-podman's commands under "podprof", as users call
// them: slim, and run with podprof's own flags, those podman run lacks
// (podman's own are podman's: see podman-run(1)). They answer completion
// requests and make the man pages; slim runs through them too. doSlim is
// what slim does; nil where it only shows.
func commands(doSlim func(cmd *cobra.Command, o *slimOptions, args []string) error) *cobra.Command {
	root := &cobra.Command{Use: "podprof", SilenceErrors: true, SilenceUsage: true}

	var runOpts options
	use, short := cli.APICommand("run")
	runCmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long: "podman run, traced: the container runs through podman's API with podprof's OCI hook,\n" +
			"which records every file it opens; the profile is saved when it ends and, on a\n" +
			"terminal, the summary of what it used is printed. Every option of podman run is\n" +
			"taken (podman-run(1)); these are podprof's own.",
		FParseErrWhitelist: cobra.FParseErrWhitelist{UnknownFlags: true}, // podman run's
	}
	runOpts.define(runCmd.Flags())
	for flag, values := range map[string][]string{
		"podprof-summary":     {"auto", "always", "never"},
		"podprof-format":      {"text", "json"},
		"podprof-tracer":      {"auto", "lsm", "fentry", "tracepoint"},
		"podprof-untraceable": {"fail", "run"},
	} {
		must(runCmd.RegisterFlagCompletionFunc(flag, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp)))
	}

	var slimOpts slimOptions
	use, short = cli.APICommand("slim")
	slimCmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long: "A new image in podman's store with only the files the profiles' runs used, and what a\n" +
			"container needs besides (its user and group files, WORKDIR, VOLUMEs, /tmp), verified\n" +
			"by running the recorded runs again in both images. See docs/slim.md.\n\n" +
			cli.ProfileArgs + "\n\n" +
			"Exit status: 0, 1 when the slim image did not run as the original did (it is removed), 125 on error.",
		RunE: func(cmd *cobra.Command, args []string) error { return doSlim(cmd, &slimOpts, args) },
	}
	slimOpts.define(slimCmd.Flags())
	must(slimCmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp)))

	root.AddCommand(runCmd, slimCmd)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return fmt.Errorf("%w\nSee '%s --help'", err, cmd.CommandPath()) // as podman says it
	})
	return root
}

// Commands are podprof run's and slim's definitions, for podprof's man
// pages.
func Commands() *cobra.Command { return commands(nil) }

// Complete answers podprof's completion request for run's podprof flags
// and for slim (podprof merges podman's answer for run's own).
func Complete(request []string) int {
	root := commands(nil)
	root.SetArgs(request)
	if err := root.Execute(); err != nil {
		return exitError
	}
	return exitOK
}

// must panics on what only a mistake in the command definitions causes.
func must(err error) {
	if err != nil {
		panic(err)
	}
}
