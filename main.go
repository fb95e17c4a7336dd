// Command podprof tells which files of a container image a workload really
// uses. `podprof run` is `podman run`, traced; every other command is
// podman's, so `alias podman=podprof` is safe.
package main

import (
	"fmt"
	"os"

	"github.com/podprof/podprof/run"
)

const usage = `podprof: which files of a container image does your workload really use?

Usage:
  podprof run [podman run options] IMAGE [COMMAND [ARG...]]
                  podman run, traced: prints used and unused files when the
                  container exits and saves a profile (see podprof run --help
                  for the --podprof-* options)
  podprof report [--image IMAGE] [--format text|json] PROFILE...
                  the summary of saved profiles (merged) against their image
  podprof doctor  which tracer mode this machine supports, and why not others
  podprof hook    the OCI hook podman runs for containers annotated
                  io.podprof.profile=/abs/path.json (reads OCI state on stdin)

Every other command and flag is podman's: podprof runs the real podman with
them unchanged, so alias podman=podprof is safe.
`

func main() {
	args := os.Args[1:]
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(125)
	}
	switch args[0] {
	case "run":
		os.Exit(run.Main(nil, args[1:]))
	case "hook":
		os.Exit(run.HookMain(args[1:]))
	case "report":
		os.Exit(run.ReportMain(args[1:], os.Stdout))
	case "doctor":
		os.Exit(run.Doctor(os.Stdout))
	case "help", "--help", "-h":
		fmt.Print(usage)
		return
	}
	os.Exit(run.Podman(args))
}
