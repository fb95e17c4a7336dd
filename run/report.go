package run

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
	"go.podman.io/storage/types"

	"github.com/podprof/podprof/report"
)

// ReportMain is `podprof report PROFILE...`: the summary of one or more
// profiles (merged by union) against their image, read from the local
// image store. It returns 0, or 125 with a one-line error.
func ReportMain(args []string, stdout io.Writer) int {
	flags := pflag.NewFlagSet("podprof report", pflag.ContinueOnError)
	image := flags.String("image", "", "the image to compare with (default: the profiles' own)")
	format := flags.String("format", "text", "text or json")
	flags.Usage = func() {
		fmt.Fprintf(os.Stderr, "Usage: podprof report [--image IMAGE] [--format text|json] PROFILE...\n\n%s", flags.FlagUsages())
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(os.Stderr, "Error: %v\nSee 'podprof report --help'\n", err)
		return 125
	}
	if err := reportProfiles(flags.Args(), *image, *format, stdout); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		return 125
	}
	return 0
}

func reportProfiles(paths []string, image, format string, w io.Writer) error {
	if len(paths) == 0 {
		return errors.New("no profile given: podprof report PROFILE... (podprof run prints where it saved one)")
	}
	if format != "text" && format != "json" {
		return fmt.Errorf("invalid --format %q: use text or json", format)
	}
	var profiles []*report.Profile
	for _, path := range paths {
		p, err := report.ReadProfile(path)
		if err != nil {
			return err
		}
		profiles = append(profiles, p)
	}
	merged := report.Merge(profiles...)

	store, err := types.DefaultStoreOptions()
	if err != nil {
		return fmt.Errorf("reading podman's storage configuration: %w", err)
	}
	driver := store.GraphDriverName
	if driver == "" {
		driver = "overlay"
	}
	imageID, err := reportImageID(store.GraphRoot, driver, image, profiles)
	if err != nil {
		return err
	}
	if image != "" {
		merged.Image = report.ImageRef{Name: image, ID: imageID}
	}
	layers, err := StorageLayers(store.GraphRoot, driver, imageID)
	if err != nil {
		return err
	}
	img, err := report.BuildImage(layers)
	if err != nil {
		return err
	}
	summary := report.NewSummary(report.Join(img, merged), strings.Join(paths, " "), 5)
	if format == "json" {
		return summary.WriteJSON(w)
	}
	return summary.WriteText(w)
}

// reportImageID is the image the profiles are compared with: the one named
// with --image, else the one they all ran.
func reportImageID(graphRoot, driver, image string, profiles []*report.Profile) (string, error) {
	if image != "" {
		var images []storageImage
		if err := readJSON(filepath.Join(graphRoot, driver+"-images", "images.json"), &images); err != nil {
			return "", err
		}
		for _, im := range images {
			if im.ID == strings.TrimPrefix(image, "sha256:") || strings.HasPrefix(im.ID, image) {
				return im.ID, nil
			}
			for _, name := range im.Names {
				if name == image || name == "localhost/"+image || strings.TrimSuffix(name, ":latest") == image {
					return im.ID, nil
				}
			}
		}
		return "", fmt.Errorf("image %s is not in the local store: pull or build it, or name another with --image", image)
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
