package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"
	podman "go.podman.io/common/pkg/seccomp"

	"github.com/podprof/podprof/seccomp"
)

// Seccomp is `podprof seccomp [-o FILE] PROFILE...`: one seccomp profile
// that allows what any of the given ones allows (several runs' recordings,
// an existing profile first to start from it), on stdout or to FILE. It
// returns 0, or 125 with a one-line error.
func Seccomp(args []string, stdout io.Writer) int {
	return seccompMain(args, stdout, os.Stderr)
}

func seccompMain(args []string, stdout, stderr io.Writer) int {
	flags := pflag.NewFlagSet("podprof seccomp", pflag.ContinueOnError)
	flags.SetOutput(stderr)
	output := flags.StringP("output", "o", "", "write the merged profile to `FILE` (default: stdout)")
	flags.Usage = func() {
		fmt.Fprintf(stderr, "Usage: podprof seccomp [-o FILE] PROFILE...\n\n"+
			"Merges seccomp profiles written by podprof run --podprof-seccomp: the result allows\n"+
			"what any of them allows, with the first one's default action.\n\n%s", flags.FlagUsages())
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "Error: %v\nSee 'podprof seccomp --help'\n", err)
		return exitError
	}
	if err := mergeSeccomp(flags.Args(), *output, stdout); err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return exitError
	}
	return exitOK
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
