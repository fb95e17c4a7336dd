package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/podprof/podprof/tracerd"
)

func hookCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "hook",
		Short: "the OCI hook for containers annotated io.podprof.profile=/abs/path.json (reads OCI state on stdin)",
		Long: "The OCI prestart hook: for a container annotated io.podprof.profile=/abs/path.json it\n" +
			"starts the tracer (or joins the running one) before the container's first instruction,\n" +
			"and the profile is written there when the container ends. It reads the OCI state on\n" +
			"stdin; make install puts its hook JSON in podman's hooks dir (README: Without the wrapper).",
		// Its arguments are the hook's own, never flags: the tracer
		// process and the rootless collector it starts.
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 && (args[0] == "--help" || args[0] == "-h") {
				return cmd.Help()
			}
			if code := hook(args); code != 0 {
				return exitStatus(code)
			}
			return nil
		},
	}
}

// hook is the OCI prestart hook (tracerd.Hook), and with tracerd.DaemonArg
// MODE the tracer process it starts; with tracerd.CollectArg, under
// rootless podman, the process that writes a container's profile from the
// tracer service's records. Its errors are the runtime's to log: one line,
// exit status 1.
func hook(args []string) int {
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
