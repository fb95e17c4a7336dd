// Command podprof-podman is podprof's commands that drive podman through
// its API, `podprof run` and `podprof slim`, and those that read an image
// outside the store (`podprof report --image docker-archive:...`):
// podprof execs it, from beside itself, for those alone, so that podman's
// client and run command and c/image's transports, which it links, cost
// nothing to podprof's other commands, to its OCI hook and to its tracer
// process.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/podprof/podprof/cli"
	_ "github.com/podprof/podprof/imagestore/archive" // the reader of images outside the store (cli.ReadsArchive)
	"github.com/podprof/podprof/podmancmd"
	"github.com/podprof/podprof/run"
)

// main takes podprof's arguments as they were: [podman global flags]
// run|slim [its arguments]; podprof's command that reads an image outside
// the store; or podprof's completion request for them.
func main() {
	args := os.Args[1:]
	global, rest := []string(nil), args
	if len(args) > 0 && strings.HasPrefix(args[0], "-") {
		var err error
		if global, rest, err = podmancmd.SplitGlobalFlags(args); err != nil {
			fmt.Fprintln(os.Stderr, "Error:", err)
			os.Exit(125)
		}
	}
	switch {
	case len(rest) > 0 && cli.IsCompletionRequest(rest[0]):
		os.Exit(run.Complete(rest))
	case len(rest) > 0 && rest[0] == "run":
		os.Exit(run.Main(global, rest[1:]))
	case len(rest) > 0 && rest[0] == "slim":
		os.Exit(run.Slim(global, rest[1:], os.Stdout, os.Stderr))
	case cli.ReadsArchive(args):
		os.Exit(cli.Main(args, os.Stdout, os.Stderr))
	}
	os.Exit(podmancmd.Exec(args)) // neither after all: podman says what is wrong
}
