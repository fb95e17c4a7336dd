package cli

import (
	"errors"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"
	podman "go.podman.io/common/pkg/seccomp"

	"github.com/podprof/podprof/seccomp"
)

func seccompCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "seccomp [-o FILE] PROFILE...",
		Short: "merge seccomp profiles of several runs (podprof run --podprof-seccomp)",
		Long: "One seccomp profile that allows what any of the given ones allows: several runs'\n" +
			"recordings (podprof run --podprof-seccomp), an existing profile first to start from it.\n" +
			"The result has the first one's default action.",
		RunE: func(cmd *cobra.Command, args []string) error { return mergeSeccomp(args, output, cmd.OutOrStdout()) },
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write the merged profile to `FILE` (default: stdout)")
	return cmd
}

func mergeSeccomp(paths []string, output string, stdout io.Writer) error {
	if len(paths) == 0 {
		return errors.New("no seccomp profile given: podprof seccomp PROFILE... (see --help)")
	}
	profiles := make([]*podman.Seccomp, len(paths))
	for i, path := range paths {
		p, err := seccomp.Read(path)
		if err != nil {
			return err
		}
		profiles[i] = p
	}
	merged := seccomp.Merge(profiles[0], profiles[1:]...)
	if output == "" {
		return seccomp.Encode(stdout, merged)
	}
	abs, err := filepath.Abs(output)
	if err != nil {
		return err
	}
	return seccomp.Write(abs, merged)
}
