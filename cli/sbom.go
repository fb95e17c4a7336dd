package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
)

// sbomOptions are podprof sbom's flags.
type sbomOptions struct {
	image  string
	format string
	output string
}

func sbomCommand() *cobra.Command {
	var o sbomOptions
	cmd := &cobra.Command{
		Use:   "sbom [flags] PROFILE...",
		Short: "a CycloneDX or SPDX SBOM of the image's packages (dpkg, apk, rpm), each marked used or not by the profiles' runs",
		Long: "An SBOM of the image's installed packages (dpkg, apk, rpm), each marked with how much\n" +
			"of it the profiles' runs used (property podprof:used). See docs/packages.md.\n\n" + ProfileArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return sbomMain(args, &o, cmd.OutOrStdout()) },
	}
	flags := cmd.Flags()
	flags.StringVar(&o.image, "image", "", "compare with `IMAGE` (default: the image the profiles ran)")
	flags.StringVar(&o.format, "format", "cyclonedx", "cyclonedx (CycloneDX 1.5 JSON) or spdx (SPDX 2.3 JSON)")
	flags.StringVarP(&o.output, "output", "o", "", "write the SBOM to `FILE` (default: standard output)")
	completeValues(cmd, "format", "cyclonedx", "spdx")
	completeImages(cmd, "image")
	return cmd
}

func sbomMain(args []string, o *sbomOptions, stdout io.Writer) error {
	if o.format != "cyclonedx" && o.format != "spdx" {
		return fmt.Errorf("invalid --format %q: use cyclonedx or spdx", o.format)
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
	if o.format == "spdx" {
		return writeDocument(o.output, "SPDX SBOM", stdout, func(w io.Writer) error { return packages.WriteSPDX(w, now) })
	}
	return writeDocument(o.output, "CycloneDX SBOM", stdout, func(w io.Writer) error { return packages.WriteCycloneDX(w, now) })
}
