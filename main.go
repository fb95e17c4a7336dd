// Command podprof tells which files of a container image a workload really
// uses. `podprof run` is `podman run`, traced; every other command is
// podman's, so `alias podman=podprof` is safe.
package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/podprof/podprof/cli"
	"github.com/podprof/podprof/podmancmd"
)

const usage = `podprof: which files of a container image does your workload really use?

podprof adds these commands to podman:
  podprof run [podman run options] IMAGE [COMMAND [ARG...]]
                  podman run, traced: saves a profile of the files the
                  container opened and, on a terminal, prints how much of the
                  image they are (see podprof run --help, --podprof-* options)
  podprof report [--image IMAGE] [--format text|json|tree] [--packages] PROFILE...
                  the summary of saved profiles (merged) against their image,
                  per layer, as a tree, or as a CI gate (see --help)
  podprof slim [-t NAME[:TAG]] [--include PATH]... PROFILE...
                  a smaller image with only the files the profiles' runs
                  used (and what the runtime needs), verified by running
                  the recorded runs again (see podprof slim --help)
  podprof sbom [--format cyclonedx|spdx] PROFILE...
                  a CycloneDX or SPDX SBOM of the image's packages (dpkg, apk,
                  rpm), each marked used or not by the profiles' runs
  podprof vex --vuln ID=PACKAGE... PROFILE...
                  OpenVEX statements: not_affected for packages no run used
  podprof explore [--image IMAGE] PROFILE...
                  browse the image's directories by share of bytes used
  podprof seccomp [-o FILE] PROFILE...
                  merge seccomp profiles of several runs (podprof run --podprof-seccomp)
  podprof doctor  which tracer mode this machine supports, and why not others
  podprof hook    the OCI hook for containers annotated
                  io.podprof.profile=/abs/path.json (reads OCI state on stdin)
  podprof tracer  the tracer service (root) that rootless podman's
                  containers are traced by (see podprof tracer --help)

Every other command and flag is podman's: podprof runs the real podman with
them unchanged, so alias podman=podprof is safe. Podman's help follows.

`

func main() {
	args := os.Args[1:]
	command, rest := "", []string(nil)
	if len(args) > 0 {
		command, rest = args[0], args[1:]
	}
	// Podman's global flags may come before the commands that use podman:
	// podprof --log-level=debug run ..., podprof --root DIR slim ...
	if strings.HasPrefix(command, "-") && (slices.Contains(args, "run") || slices.Contains(args, "slim")) {
		_, r, err := podmancmd.SplitGlobalFlags(args)
		if err != nil {
			// Never run podprof's command untraced by podman, nor the
			// wrong one: say so, as podman would.
			fmt.Fprintln(os.Stderr, "Error:", err)
			os.Exit(125)
		}
		if len(r) > 0 && (r[0] == "run" || r[0] == "slim") {
			command = r[0]
		}
	}
	switch command {
	case "run", "slim":
		os.Exit(podmancmd.ExecAPI(args))
	case "report":
		os.Exit(cli.Report(rest, os.Stdout))
	case "sbom":
		os.Exit(cli.Sbom(rest, os.Stdout, os.Stderr))
	case "vex":
		os.Exit(cli.Vex(rest, os.Stdout, os.Stderr))
	case "explore":
		os.Exit(cli.Explore(rest))
	case "seccomp":
		os.Exit(cli.Seccomp(rest, os.Stdout))
	case "doctor":
		os.Exit(cli.Doctor(os.Stdout))
	case "hook":
		os.Exit(cli.Hook(rest))
	case "tracer":
		os.Exit(cli.Tracer(rest))
	case "--help", "-h":
		fmt.Print(usage)
	}
	os.Exit(podmancmd.Exec(args))
}
