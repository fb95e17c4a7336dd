package cli

import (
	"fmt"
	"os"

	"github.com/podprof/podprof/tracerd"
)

// Hook is `podprof hook`, the OCI prestart hook (tracerd.Hook), and with
// tracerd.DaemonArg MODE the tracer process it starts; with
// tracerd.CollectArg, under rootless podman, the process that writes a
// container's profile from the tracer service's records.
func Hook(args []string) int {
	if len(args) == 2 && args[0] == tracerd.DaemonArg {
		return tracerd.Daemon(args[1])
	}
	if len(args) == 1 && args[0] == tracerd.CollectArg {
		return tracerd.Collect()
	}
	if len(args) != 0 {
		fmt.Fprintf(os.Stderr, "podprof hook: unexpected arguments %q: the hook reads the OCI state on stdin and takes no arguments\n", args)
		return 1
	}
	if err := tracerd.Hook(os.Stdin); err != nil {
		fmt.Fprintf(os.Stderr, "podprof hook: %v\n", err)
		return 1
	}
	return 0
}
