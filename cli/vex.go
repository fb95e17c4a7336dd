package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
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
	scan   string
	author string
	output string
}

func vexCommand() *cobra.Command {
	var o vexOptions
	cmd := &cobra.Command{
		Use:   "vex [flags] --scan REPORT.json PROFILE...",
		Short: "OpenVEX statements: not_affected for the scanner's findings in packages no run used",
		Long: "An OpenVEX document for a Trivy or Grype JSON report of the profiles' image\n" +
			"(trivy image -f json, grype -o json): not_affected, vulnerable_code_not_in_execute_path,\n" +
			"for each vulnerability found in packages of which the profiled runs opened no file.\n" +
			"Findings in a package some run used, or one the image does not have, are left out:\n" +
			"podprof claims nothing about them.\n\n" +
			"This is evidence from the runs the profiles recorded, not proof: code they did not reach\n" +
			"was not seen. More runs, covering more of the workload, make it stronger. See\n" +
			"docs/packages.md.\n\n" + ProfileArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return vexMain(args, &o, cmd.OutOrStdout()) },
	}
	flags := cmd.Flags()
	flags.StringVar(&o.image, "image", "", "compare with `IMAGE` (default: the image the profiles ran)")
	flags.StringVar(&o.scan, "scan", "", "the scanner's JSON report of the image, `REPORT.json`: trivy image -f json IMAGE, or grype -o json IMAGE")
	flags.StringVar(&o.author, "author", vex.DefaultAuthor, "who vouches for the statements (that the profiled runs cover the workload)")
	flags.StringVarP(&o.output, "output", "o", "", "write the VEX document to `FILE` (default: standard output)")
	completeImages(cmd, "image")
	return cmd
}

func vexMain(args []string, o *vexOptions, stdout io.Writer) error {
	if o.scan == "" {
		return errors.New("no scanner report given: name it with --scan REPORT.json (trivy image -f json IMAGE, or grype -o json IMAGE)")
	}
	if strings.TrimSpace(o.author) == "" {
		return errors.New("--author is empty: name who vouches for the statements")
	}
	data, err := os.ReadFile(o.scan)
	if err != nil {
		return fmt.Errorf("reading the scanner report: %w", err)
	}
	scan, err := sbom.ParseScan(data)
	if errors.Is(err, sbom.ErrUnknownScan) {
		return fmt.Errorf("--scan %s is %w: give the output of trivy image -f json IMAGE, or grype -o json IMAGE", report.Printable(o.scan), err)
	}
	if err != nil {
		return fmt.Errorf("--scan %s: %w", report.Printable(o.scan), err)
	}
	paths, err := ProfilePaths(args)
	if err != nil {
		return err
	}
	_, packages, err := loadPackages(paths, o.image, nil)
	if err != nil {
		return err
	}
	if err := scan.CheckImage(packages.Image); err != nil {
		return err
	}
	doc, err := packages.ScanVEX(scan, o.author, time.Now())
	if err != nil {
		return err
	}
	return writeDocument(o.output, "VEX document", stdout, func(w io.Writer) error {
		if err := doc.ToJSON(w); err != nil {
			return fmt.Errorf("writing the VEX document: %w", err)
		}
		return nil
	})
}
