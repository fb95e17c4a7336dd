package cli

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/podprof/podprof/podmancmd"
	"github.com/podprof/podprof/report"
)

// versionCommand is podman's `version` with podprof's own version after
// it. Given any flag (--format), it is podman's alone, byte for byte, for
// the scripts that read it.
func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version [podman version options]",
		Short: "podman's version, then podprof's (with a flag such as --format: podman's alone)",
		// podman's flags are podman's to parse.
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 && (args[0] == "--help" || args[0] == "-h") {
				return cmd.Help()
			}
			if len(args) > 0 {
				return exitStatus(podmancmd.Exec(append([]string{"version"}, args...)))
			}
			return printVersions(cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
}

// printVersions prints podman's version section(s) and podprof's, in
// podman's layout.
func printVersions(stdout, stderr io.Writer) error {
	podman, err := podmancmd.Find()
	if err != nil {
		return err
	}
	version := exec.Command(podman, "version")
	version.Stdout, version.Stderr = stdout, stderr
	if err := version.Run(); err != nil {
		if exit, ok := err.(*exec.ExitError); ok {
			return exitStatus(exit.ExitCode()) // podman said why
		}
		return fmt.Errorf("running %s version: %w", podman, err)
	}
	exe, _ := os.Executable()
	_, err = fmt.Fprintf(stdout, "\nPodprof:\nVersion:      %s\nGo Version:   %s\nPath:         %s\n",
		report.Version, runtime.Version(), exe)
	return err
}
