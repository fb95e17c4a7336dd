package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/podprof/podprof/report"
)

type profilesDiffOptions struct {
	imageA, imageB string
	format         string
}

func profilesDiffCommand() *cobra.Command {
	var o profilesDiffOptions
	cmd := &cobra.Command{
		Use:   "diff [flags] A B",
		Args:  cobra.ExactArgs(2),
		Short: "compare what two runs, or two images' runs, used",
		Long: "Compare the files used on side A with those used on side B: only in A, only in B,\n" +
			"in both, per layer, and the files used on one side only. Each side is a PROFILE, or\n" +
			"several separated by commas (a,b.json,c), whose runs are united as podprof report\n" +
			"unites them, compared with the image they ran or the one --image-a (--image-b) names.\n" +
			"Files are matched by path; pids, process names, times and open flags are ignored.\n\n" +
			ProfileArgs,
		Example: `  podprof profiles diff yesterday.json today.json
  podprof profiles diff web-v1 web-v2
  podprof profiles diff --image-b app:2 app1-run.json app1-run.json
  podprof profiles diff --format json run1.json,run2.json run3.json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.format != "text" && o.format != "json" {
				return fmt.Errorf("invalid --format %q: use text or json", o.format)
			}
			a, err := diffSide(args[0], o.imageA)
			if err != nil {
				return err
			}
			b, err := diffSide(args[1], o.imageB)
			if err != nil {
				return err
			}
			d := report.Diff(a.usage, b.usage)
			d.A.Profiles, d.B.Profiles = a.paths, b.paths
			if o.format == "json" {
				return d.WriteJSON(cmd.OutOrStdout())
			}
			return d.WriteText(cmd.OutOrStdout())
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&o.imageA, "image-a", "", "compare side A's runs with `IMAGE` (default: the image they ran)")
	flags.StringVar(&o.imageB, "image-b", "", "compare side B's runs with `IMAGE` (default: the image they ran)")
	flags.StringVar(&o.format, "format", "text", "text or json")
	completeValues(cmd, "format", "text", "json")
	completeImages(cmd, "image-a")
	completeImages(cmd, "image-b")
	return cmd
}

// A side of a diff: its profiles, united and joined with their image.
type side struct {
	paths []string
	usage *report.Usage
}

// diffSide reads one side: PROFILE[,PROFILE...], each as ProfilePaths
// takes it.
func diffSide(arg, image string) (side, error) {
	if arg == "" {
		return side{}, fmt.Errorf("no profile on one side: name a PROFILE, or several separated by commas")
	}
	paths, err := ProfilePaths(strings.Split(arg, ","))
	if err != nil {
		return side{}, err
	}
	u, err := LoadUsage(paths, image, nil)
	if err != nil {
		return side{}, err
	}
	return side{paths: paths, usage: u}, nil
}
