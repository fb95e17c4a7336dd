package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/podprof/podprof/report"
)

func exploreCommand() *cobra.Command {
	var image string
	var depth int
	cmd := &cobra.Command{
		Use:   "explore [--image IMAGE] PROFILE...",
		Short: "browse the image's directories by share of bytes used",
		Long: "An interactive explorer of the image's tree, with what the profiles (merged by union)\n" +
			"used. When stdin or stdout is not a terminal it prints the tree once, as\n" +
			"podprof report --format tree.\n\n" + ProfileArgs + "\n\n" + exploreKeysText(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if depth < 0 {
				return fmt.Errorf("invalid --depth %d: give 0 or more levels", depth)
			}
			paths, err := ProfilePaths(args)
			if err != nil {
				return err
			}
			u, err := LoadUsage(paths, image, nil)
			if err != nil {
				return err
			}
			stdout, isFile := cmd.OutOrStdout().(*os.File)
			if !isFile || !term.IsTerminal(int(os.Stdin.Fd())) || !term.IsTerminal(int(stdout.Fd())) {
				return u.WriteTree(cmd.OutOrStdout(), report.TreeOptions{Depth: depth})
			}
			return runExplorer(report.NewExplorer(u), os.Stdin, stdout)
		},
	}
	cmd.Flags().StringVar(&image, "image", "", "compare with `IMAGE` (default: the image the profiles ran)")
	cmd.Flags().IntVar(&depth, "depth", report.DefaultTreeDepth, "`N` levels of the tree printed when the output is not a terminal")
	completeImages(cmd, "image")
	return cmd
}
