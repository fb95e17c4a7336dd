// Command podprof tells which files of a container image a workload really
// uses. `podprof run` is `podman run`, traced; podprof's other commands
// (cli.Root) read what it saved; every other command is podman's, so
// `alias podman=podprof` is safe.
package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/podprof/podprof/cli"
	"github.com/podprof/podprof/podmancmd"
)

func main() {
	args := os.Args[1:]
	command := ""
	if len(args) > 0 {
		command = args[0]
	}
	// Podman's global flags may come before the commands that use podman:
	// podprof --log-level=debug run ..., podprof --root DIR slim ...
	if strings.HasPrefix(command, "-") && slices.ContainsFunc(args, cli.IsAPICommand) {
		_, rest, err := podmancmd.SplitGlobalFlags(args)
		if err != nil {
			// Never run podprof's command untraced by podman, nor the
			// wrong one: say so, as podman would.
			fmt.Fprintln(os.Stderr, "Error:", err)
			os.Exit(125)
		}
		if len(rest) > 0 && cli.IsAPICommand(rest[0]) {
			command = rest[0]
		}
	}
	switch {
	case cli.IsAPICommand(command), cli.ReadsArchive(args):
		os.Exit(podmancmd.ExecAPI(args))
	case cli.IsCompletionRequest(command):
		os.Exit(cli.Complete(args, os.Stdout, os.Stderr))
	case cli.IsCommand(args), command == "--help", command == "-h":
		os.Exit(cli.Main(args, os.Stdout, os.Stderr))
	}
	os.Exit(podmancmd.Exec(args))
}
