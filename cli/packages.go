package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/podprof/podprof/imagestore"
	"github.com/podprof/podprof/pkgdb"
	"github.com/podprof/podprof/report"
	"github.com/podprof/podprof/sbom"
)

// loadPackages is LoadUsage joined with the image's package databases,
// for podprof report --packages, sbom and vex: the image's files are read
// from the store for the databases' contents.
func loadPackages(paths []string, image string, globalFlags []string) (*report.Usage, *sbom.Report, error) {
	if imagestore.IsArchive(image) {
		return nil, nil, fmt.Errorf("package databases are read from images of the local store, not %s: podman load it, then name the loaded image", report.Printable(image))
	}
	store, merged, err := loadProfiles(paths, image, globalFlags)
	if err != nil {
		return nil, nil, err
	}
	img, err := store.OpenImage(merged.Image.ID)
	if err != nil {
		return nil, nil, err
	}
	u := report.Join(img.Tree, merged)
	inv, err := pkgdb.Read(img.Tree, img.ReadFile)
	if errors.Is(err, pkgdb.ErrNoDatabase) {
		return nil, nil, fmt.Errorf("image %s has %w that podprof reads: its files are in podprof report", report.Printable(imageLabel(merged.Image)), err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading the package databases of image %s: %w", report.Printable(imageLabel(merged.Image)), err)
	}
	return u, sbom.New(u, inv, paths), nil
}

func imageLabel(image report.ImageRef) string {
	if image.Name != "" {
		return image.Name
	}
	return image.ID
}

// writeDocument writes what encode produces to output, or to stdout when
// output is "": whole or not at all, so that a failure leaves no half
// document in a file or a pipe.
func writeDocument(output, what string, stdout io.Writer, encode func(io.Writer) error) error {
	if output != "" {
		abs, err := filepath.Abs(output)
		if err != nil {
			return fmt.Errorf("%s path %s: %w", what, report.Printable(output), err)
		}
		return report.WriteFileAtomic(abs, what, encode)
	}
	var buf bytes.Buffer
	if err := encode(&buf); err != nil {
		return err
	}
	if _, err := stdout.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("writing the %s: %w", what, err)
	}
	return nil
}
