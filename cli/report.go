package cli

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	podmanreport "go.podman.io/common/pkg/report"

	"github.com/podprof/podprof/imagestore"
	"github.com/podprof/podprof/report"
	"github.com/podprof/podprof/sbom"
)

// reportOptions are podprof report's flags.
type reportOptions struct {
	image       string
	format      string
	depth       int
	sort        string
	unusedOnly  bool
	failBytes   string
	failPercent string
	packages    bool
	top         int
	null        bool
}

func reportCommand() *cobra.Command {
	var o reportOptions
	cmd := &cobra.Command{
		Use:   "report [flags] PROFILE...",
		Short: "the summary of saved profiles (merged) against their image, per layer, as a tree, or as a CI gate",
		Long: "The summary of one or more profiles (merged by union) against their image, read from\n" +
			"podman's local store: the bytes and files used and unused, per layer; or the image's\n" +
			"tree with the share used per directory; or per installed package (--packages); or\n" +
			"every unused path, for scripts (--format paths).\n\n" +
			"--format json is described in docs/summary.md; a Go template, such as\n" +
			"--format '{{.UnusedBytes}}', sees the same fields by their Go names (.ImageName,\n" +
			".UsedPercent, .LargestUnusedFiles, .Layers...), as podman's --format does.\n\n" +
			ProfileArgs + "\n\n" +
			"Exit status: 0; 1 when a --fail-unused-* limit is passed (after the report); 125 on error.\n" +
			"See docs/report.md.",
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Flags(), args, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&o.image, "image", "", "compare with `IMAGE` (default: the image the profiles ran)")
	flags.StringVar(&o.format, "format", "text", "text (summary and layers), json, tree, paths (every unused path), or a Go `TEMPLATE` over the summary")
	flags.IntVar(&o.top, "top", report.DefaultTop, "list the `N` largest unused directories and files (text, json, templates)")
	flags.BoolVarP(&o.null, "null", "z", false, "paths: end each path with NUL, not a newline, and write it exactly (for xargs -0)")
	flags.IntVar(&o.depth, "depth", report.DefaultTreeDepth, "tree: list `N` levels below / (0: / alone)")
	flags.StringVar(&o.sort, "sort", "size", "tree: sort each directory by `ORDER`, size or name")
	flags.BoolVar(&o.unusedOnly, "unused-only", false, "tree: list only entries that hold unused files")
	flags.StringVar(&o.failBytes, "fail-unused-bytes", "", "exit 1 if more than `SIZE` bytes are unused (50MB, 1.5GiB, 1000)")
	flags.StringVar(&o.failPercent, "fail-unused-percent", "", "exit 1 if more than `P` percent of the bytes are unused (0 to 100)")
	flags.BoolVar(&o.packages, "packages", false, "per installed package (dpkg, apk, rpm): its files and bytes, and how many were used")
	completeValues(cmd, "format", "text", "json", "tree", "paths", "{{.UnusedBytes}}")
	completeValues(cmd, "sort", "size", "name")
	completeImages(cmd, "image")
	return cmd
}

func (o *reportOptions) run(flags *pflag.FlagSet, args []string, stdout, stderr io.Writer) error {
	gate, listOpts, err := o.check(flags)
	if err != nil {
		return err
	}
	paths, err := ProfilePaths(args)
	if err != nil {
		return err
	}
	var u *report.Usage
	var packages *sbom.Report
	if o.packages {
		u, packages, err = loadPackages(paths, o.image, nil)
	} else {
		u, err = LoadUsage(paths, o.image, nil)
	}
	if err != nil {
		return err
	}
	summary := report.NewSummary(u, strings.Join(paths, " "), o.top)
	switch {
	case o.packages && o.format == "json":
		err = packages.WriteJSON(stdout)
	case o.packages:
		err = packages.WriteText(stdout)
	case o.format == "json" || podmanreport.IsJSON(o.format):
		err = summary.WriteJSON(stdout)
	case o.format == "tree":
		err = u.WriteTree(stdout, report.TreeOptions{Depth: o.depth, ListOptions: listOpts})
	case o.format == "paths":
		err = report.WritePaths(stdout, u.UnusedPaths(), o.null)
	case o.format == "text":
		err = summary.WriteText(stdout)
	default:
		err = summary.WriteTemplate(stdout, o.format)
	}
	if err != nil {
		return err
	}
	if reason := gate.Check(summary); reason != "" {
		fmt.Fprintln(stderr, "podprof: gate failed:", reason)
		return exitStatus(1)
	}
	return nil
}

// check validates the flags and turns them into the gate and the tree's
// list options.
func (o *reportOptions) check(flags *pflag.FlagSet) (report.Gate, report.ListOptions, error) {
	gate := report.NoGate
	template := !slices.Contains([]string{"text", "json", "tree", "paths"}, o.format)
	if template && !strings.Contains(o.format, "{{") {
		return gate, report.ListOptions{}, fmt.Errorf("invalid --format %q: use text, json, tree, paths or a Go template such as '{{.UnusedBytes}}'", o.format)
	}
	if template {
		if err := report.CheckSummaryTemplate(o.format); err != nil {
			return gate, report.ListOptions{}, err
		}
	}
	for _, only := range []struct {
		flags   []string
		allowed bool
		formats string
	}{
		{[]string{"depth", "sort", "unused-only"}, o.format == "tree", "--format tree"},
		{[]string{"null"}, o.format == "paths", "--format paths"},
		{[]string{"top"}, !o.packages && (o.format == "text" || o.format == "json" || template), "the summary: --format text, json or a template"},
		{[]string{"packages"}, o.format == "text" || o.format == "json", "--format text or json"},
	} {
		for _, name := range only.flags {
			if flags.Changed(name) && !only.allowed {
				return gate, report.ListOptions{}, fmt.Errorf("--%s is for %s", name, only.formats)
			}
		}
	}
	if o.top < 0 {
		return gate, report.ListOptions{}, fmt.Errorf("invalid --top %d: give 0 or more entries to list", o.top)
	}
	if o.depth < 0 {
		return gate, report.ListOptions{}, fmt.Errorf("invalid --depth %d: give 0 or more levels", o.depth)
	}
	listOpts, err := listOptions(o.sort, o.unusedOnly)
	if err != nil {
		return gate, listOpts, err
	}
	if flags.Changed("fail-unused-bytes") {
		if gate.MaxUnusedBytes, err = parseSize(o.failBytes); err != nil {
			return gate, listOpts, fmt.Errorf("invalid --fail-unused-bytes: %w", err)
		}
	}
	if flags.Changed("fail-unused-percent") {
		if gate.MaxUnusedPercent, err = parsePercent(o.failPercent); err != nil {
			return gate, listOpts, fmt.Errorf("invalid --fail-unused-percent: %w", err)
		}
	}
	return gate, listOpts, nil
}

func listOptions(sort string, unusedOnly bool) (report.ListOptions, error) {
	opts := report.ListOptions{UnusedOnly: unusedOnly}
	switch sort {
	case "size":
		opts.Order = report.BySize
	case "name":
		opts.Order = report.ByName
	default:
		return opts, fmt.Errorf("invalid --sort %q: use size or name", sort)
	}
	return opts, nil
}

// parseSize reads a number of bytes: a plain number, or one with a decimal
// unit (kB, MB, GB, TB, PB: powers of 1000, as podman shows sizes; the B
// is optional and case does not matter) or a binary one (KiB, MiB, GiB,
// TiB, PiB: powers of 1024).
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	var n int64
	var err error
	if strings.HasSuffix(strings.ToLower(s), "ib") {
		n, err = units.RAMInBytes(s)
	} else {
		n, err = units.FromHumanSize(s)
	}
	if err != nil {
		return 0, fmt.Errorf("%q is not a size such as 50MB, 1.5GiB or 1000", s)
	}
	// go-units converts from float64: past the int64 range the result is
	// negative on amd64 and saturated on arm64.
	if n < 0 || n == math.MaxInt64 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n, nil
}

// parsePercent reads a percentage from 0 to 100, with or without "%".
func parsePercent(s string) (float64, error) {
	p, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "%"), 64)
	if err != nil || math.IsNaN(p) || p < 0 || p > 100 {
		return 0, fmt.Errorf("%q is not a percentage from 0 to 100", s)
	}
	return p, nil
}

// LoadUsage reads the profiles, unites them, and joins the result with
// the image's files from the local image store (as podman's global flags
// name it): the image named, or the one the profiles ran. An image named
// in an archive or OCI layout (docker-archive:, oci-archive:, oci:) is
// read from there.
func LoadUsage(paths []string, image string, globalFlags []string) (*report.Usage, error) {
	if imagestore.IsArchive(image) {
		return loadArchiveUsage(paths, image)
	}
	store, merged, err := loadProfiles(paths, image, globalFlags)
	if err != nil {
		return nil, err
	}
	layers, err := store.Layers(merged.Image.ID)
	if err != nil {
		return nil, err
	}
	img, err := report.BuildImage(layers)
	if err != nil {
		return nil, err
	}
	return report.Join(img, merged), nil
}

// loadArchiveUsage is LoadUsage of the image in an archive or OCI layout
// directory, whose layers are read whole: in podprof-podman, which links
// the archives' reader (ReadsArchive).
func loadArchiveUsage(paths []string, image string) (*report.Usage, error) {
	_, merged, err := readProfiles(paths)
	if err != nil {
		return nil, err
	}
	a, err := imagestore.OpenArchive(image)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	img, err := report.BuildImage(a.Layers)
	if err != nil {
		return nil, fmt.Errorf("reading image %s: %w", report.Printable(image), err)
	}
	merged.Image = report.ImageRef{Name: image, ID: a.ID}
	return report.Join(img, merged), nil
}

// readProfiles reads the profiles, and unites them.
func readProfiles(paths []string) ([]*report.Profile, *report.Profile, error) {
	var profiles []*report.Profile
	for _, path := range paths {
		p, err := report.ReadProfile(path)
		if err != nil {
			return nil, nil, err
		}
		profiles = append(profiles, p)
	}
	return profiles, report.Merge(profiles...), nil
}

// loadProfiles reads the profiles and unites them; the result names the
// image to compare with, in the store podman's global flags name: the
// image named, or the one the profiles ran.
func loadProfiles(paths []string, image string, globalFlags []string) (imagestore.Store, *report.Profile, error) {
	profiles, merged, err := readProfiles(paths)
	if err != nil {
		return imagestore.Store{}, nil, err
	}
	store, err := imagestore.Default(globalFlags)
	if err != nil {
		return imagestore.Store{}, nil, err
	}
	imageID, err := reportImageID(store, image, profiles)
	if err != nil {
		return imagestore.Store{}, nil, err
	}
	if image != "" {
		merged.Image = report.ImageRef{Name: image, ID: imageID}
	}
	return store, merged, nil
}

// reportImageID is the image the profiles are compared with: the one named
// with --image, else the one they all ran.
func reportImageID(store imagestore.Store, image string, profiles []*report.Profile) (string, error) {
	if image != "" {
		return store.ResolveImage(image)
	}
	id := profiles[0].Image.ID
	for _, p := range profiles[1:] {
		if p.Image.ID != id {
			return "", errors.New("the profiles are of different images: name the one to compare with, --image IMAGE")
		}
	}
	if id == "" {
		return "", errors.New("the profile does not name its image (written by a hook outside podman?): name it with --image IMAGE")
	}
	return id, nil
}
