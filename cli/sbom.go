package cli

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/pflag"
)

// sbomOptions are podprof sbom's flags.
type sbomOptions struct {
	image  string
	format string
	output string
}

func (o *sbomOptions) define(flags *pflag.FlagSet) {
	flags.StringVar(&o.image, "image", "", "compare with `IMAGE` (default: the image the profiles ran)")
	flags.StringVar(&o.format, "format", "cyclonedx", "cyclonedx (CycloneDX 1.5 JSON) or spdx (SPDX 2.3 JSON)")
	flags.StringVarP(&o.output, "output", "o", "", "write the SBOM to `FILE` (default: standard output)")
}

// Sbom is `podprof sbom PROFILE...`: an SBOM of the image's installed
// packages (dpkg, apk, rpm), each marked with how much of it the
// profiles' runs used. It returns 0, or 125 with a one-line error. See
// docs/packages.md.
func Sbom(args []string, stdout, stderr io.Writer) int {
	flags := pflag.NewFlagSet("podprof sbom", pflag.ContinueOnError)
	flags.SetOutput(stderr)
	var o sbomOptions
	o.define(flags)
	flags.Usage = func() {
		fmt.Fprintf(stderr, "Usage: podprof sbom [--image IMAGE] [--format cyclonedx|spdx] [--output FILE] PROFILE...\n\n"+
			"PROFILE is a profile file, a container's name or id (its newest profile), or nothing (the newest profile).\n\n%s"+
			"\nExit status: 0, 125 on error.\n", flags.FlagUsages())
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "Error: %v\nSee 'podprof sbom --help'\n", err)
		return exitError
	}
	if err := sbomMain(flags.Args(), &o, stdout); err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return exitError
	}
	return exitOK
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
