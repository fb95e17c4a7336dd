package cli

import (
	"github.com/spf13/cobra"

	"github.com/podprof/podprof/tracerd"
	"github.com/podprof/podprof/tracerd/hook"
)

func hookCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "hook",
		Short: "the OCI hook for containers annotated io.podprof.profile=/abs/path.json (reads OCI state on stdin)",
		Long: "The OCI prestart hook: for a container annotated io.podprof.profile=/abs/path.json it\n" +
			"starts the tracer (or joins the running one) before the container's first instruction,\n" +
			"and the profile is written there when the container ends. It reads the OCI state on\n" +
			"stdin. The hook JSON make install puts in podman's hooks dir runs podprof-hook, the same\n" +
			"hook as an executable of its own, which starts faster (README: Without the wrapper).",
		// Its arguments are the hook's own, never flags: the tracer
		// process and the rootless collector it starts.
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 && (args[0] == "--help" || args[0] == "-h") {
				return cmd.Help()
			}
			if code := runHook(args); code != 0 {
				return exitStatus(code)
			}
			return nil
		},
	}
}

// runHook is the OCI prestart hook (hook.Main, as podprof-hook runs it),
// and with hook.DaemonArg MODE the tracer process it starts; with
// tracerd.CollectArg, under rootless podman, the process that writes a
// container's profile from the tracer service's records.
func runHook(args []string) int {
	if len(args) == 2 && args[0] == hook.DaemonArg {
		return tracerd.Daemon(args[1])
	}
	if len(args) == 1 && args[0] == tracerd.CollectArg {
		return tracerd.Collect()
	}
	return hook.Main(args, tracerd.HookForUser)
}
