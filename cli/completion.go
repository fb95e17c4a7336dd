package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/podprof/podprof/report"
)

// completionCommand writes podprof's completion script, with podman's
// `completion` flags. The script completes podprof's commands and flags
// and, through podprof, podman's (complete.go).
func completionCommand() *cobra.Command {
	var file string
	var noDescriptions bool
	cmd := &cobra.Command{
		Use:   "completion [options] bash|zsh|fish|powershell",
		Short: "write podprof's shell completion script: podprof's commands and flags, and podman's",
		Long: "The completion script for podprof: it completes podprof's own commands and flags,\n" +
			"and podman's (podprof asks podman for those). For example, in ~/.bashrc:\n" +
			"  source <(podprof completion bash)\n\n" +
			"With alias podman=podprof, podman's own completion script already completes both:\n" +
			"it asks `podman __complete`, which the alias makes podprof.",
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		RunE: func(cmd *cobra.Command, args []string) error {
			write := func(w io.Writer) error { return writeCompletion(cmd.Root(), args[0], !noDescriptions, w) }
			return writeDocument(file, "completion script", cmd.OutOrStdout(), write)
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "write the script to `FILE` (default: standard output)")
	cmd.Flags().BoolVar(&noDescriptions, "no-desc", false, "no descriptions beside the candidates")
	return cmd
}

func writeCompletion(root *cobra.Command, shell string, descriptions bool, out io.Writer) error {
	choose := func(with, without func(io.Writer) error) func(io.Writer) error {
		if descriptions {
			return with
		}
		return without
	}
	generators := map[string]func(io.Writer) error{
		"bash":       func(w io.Writer) error { return root.GenBashCompletionV2(w, descriptions) },
		"zsh":        choose(root.GenZshCompletion, root.GenZshCompletionNoDesc),
		"fish":       func(w io.Writer) error { return root.GenFishCompletion(w, descriptions) },
		"powershell": choose(root.GenPowerShellCompletionWithDesc, root.GenPowerShellCompletion),
	}
	generate, ok := generators[shell]
	if !ok {
		return fmt.Errorf("invalid shell %q: use bash, zsh, fish or powershell", report.Printable(shell))
	}
	return generate(out)
}
