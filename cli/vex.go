package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/openvex/go-vex/pkg/vex"
	"github.com/spf13/cobra"

	"github.com/podprof/podprof/report"
	"github.com/podprof/podprof/sbom"
)

// vexOptions are podprof vex's flags.
type vexOptions struct {
	image  string
	vulns  []string
	author string
	output string
}

func vexCommand() *cobra.Command {
	var o vexOptions
	cmd := &cobra.Command{
		Use:   "vex [flags] --vuln ID=PACKAGE... PROFILE...",
		Short: "OpenVEX statements: not_affected for packages no run used",
		Long: "An OpenVEX document saying, per vulnerability and package, whether the profiled runs\n" +
			"used the package: not_affected (component_not_present) when the image lacks the package,\n" +
			"not_affected (vulnerable_code_not_in_execute_path) when no run opened any of its files,\n" +
			"under_investigation when one did. See docs/packages.md.\n\n" + ProfileArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return vexMain(args, &o, cmd.OutOrStdout()) },
	}
	flags := cmd.Flags()
	flags.StringVar(&o.image, "image", "", "compare with `IMAGE` (default: the image the profiles ran)")
	flags.StringArrayVar(&o.vulns, "vuln", nil, "a vulnerability and the packages it affects, `ID=PACKAGE[,PACKAGE...]` (CVE-2024-1234=libssl3); repeatable")
	flags.StringVar(&o.author, "author", vex.DefaultAuthor, "who vouches for the statements (that the profiled runs cover the workload)")
	flags.StringVarP(&o.output, "output", "o", "", "write the VEX document to `FILE` (default: standard output)")
	completeImages(cmd, "image")
	return cmd
}

func vexMain(args []string, o *vexOptions, stdout io.Writer) error {
	vulns, err := parseVulns(o.vulns)
	if err != nil {
		return err
	}
	if strings.TrimSpace(o.author) == "" {
		return errors.New("--author is empty: name who vouches for the statements")
	}
	paths, err := ProfilePaths(args)
	if err != nil {
		return err
	}
	_, packages, err := loadPackages(paths, o.image, nil)
	if err != nil {
		return err
	}
	now := time.Now()
	return writeDocument(o.output, "VEX document", stdout, func(w io.Writer) error {
		return packages.WriteVEX(w, vulns, o.author, now)
	})
}

// parseVulns reads the --vuln flags: ID=PACKAGE[,PACKAGE...].
func parseVulns(flags []string) ([]sbom.Vulnerability, error) {
	if len(flags) == 0 {
		return nil, errors.New("no vulnerability given: name each with --vuln ID=PACKAGE[,PACKAGE...] (from your scanner's report)")
	}
	vulns := make([]sbom.Vulnerability, 0, len(flags))
	for _, f := range flags {
		id, list, _ := strings.Cut(f, "=")
		var names []string
		for name := range strings.SplitSeq(list, ",") {
			if name = strings.TrimSpace(name); name != "" {
				names = append(names, name)
			}
		}
		if id = strings.TrimSpace(id); id == "" || len(names) == 0 {
			return nil, fmt.Errorf("invalid --vuln %s: give ID=PACKAGE[,PACKAGE...], such as CVE-2024-1234=libssl3", report.Printable(f))
		}
		vulns = append(vulns, sbom.Vulnerability{ID: id, Packages: names})
	}
	return vulns, nil
}
