// Package archive reads images outside podman's store, through c/image's
// transports (imagestore.ArchiveTransports): a docker-archive or
// oci-archive tar (podman save) or an OCI layout directory. Their layers'
// tar streams give the same report.Layer the store's tar-split metadata
// gives, so report.BuildImage makes the same tree of both.
//
// It links c/image's image, compression and transport packages, which the
// store's reader does without: a binary that reads archives imports it,
// and imagestore.OpenArchive then reads them.
package archive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.podman.io/image/v5/image"
	"go.podman.io/image/v5/pkg/blobinfocache/none"
	"go.podman.io/image/v5/pkg/compression"
	"go.podman.io/image/v5/transports"
	imagetypes "go.podman.io/image/v5/types"

	// The transports of imagestore.ArchiveTransports, registered with
	// c/image's transports by name.
	_ "go.podman.io/image/v5/docker/archive"
	_ "go.podman.io/image/v5/oci/archive"
	_ "go.podman.io/image/v5/oci/layout"

	"github.com/podprof/podprof/imagestore"
	"github.com/podprof/podprof/report"
)

func init() { imagestore.RegisterArchiveReader(Open) }

// Open opens the image name names (imagestore.IsArchive); Close releases
// it (c/image unpacks an oci-archive into a temporary directory until
// then). Of a manifest list, it opens the instance for this machine, the
// one podman would run.
func Open(name string) (*imagestore.ArchiveImage, error) {
	if !imagestore.IsArchive(name) {
		return nil, fmt.Errorf("%s is not an image archive or directory podprof reads: name docker-archive:PATH, oci-archive:PATH or oci:DIR", report.Printable(name))
	}
	transport, within, _ := strings.Cut(name, ":")
	ref, err := transports.Get(transport).ParseReference(within)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", report.Printable(name), safe(err))
	}
	ctx := context.Background()
	sys := &imagetypes.SystemContext{}
	src, err := ref.NewImageSource(ctx, sys)
	if err != nil {
		return nil, fmt.Errorf("opening image %s: %w", report.Printable(name), safe(err))
	}
	img, err := image.FromSource(ctx, sys, src) // closes src when it is closed
	if err != nil {
		src.Close()
		return nil, fmt.Errorf("reading the manifest of image %s: %w", report.Printable(name), safe(err))
	}
	opened, err := layers(ctx, name, img, src)
	if err != nil {
		img.Close()
		return nil, err
	}
	opened.Close = func() error {
		if err := img.Close(); err != nil {
			return fmt.Errorf("closing image %s: %w", report.Printable(name), safe(err))
		}
		return nil
	}
	return opened, nil
}

// layers returns the id and layers of img, whose layers src reads.
func layers(ctx context.Context, name string, img imagetypes.ImageCloser, src imagetypes.ImageSource) (*imagestore.ArchiveImage, error) {
	configBlob, err := img.ConfigBlob(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the config of image %s: %w", report.Printable(name), safe(err))
	}
	config, err := img.OCIConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the config of image %s: %w", report.Printable(name), safe(err))
	}
	blobs := img.LayerInfos()
	createdBy := imagestore.LayerCommandsOfConfig(configBlob, len(blobs))
	opened := &imagestore.ArchiveImage{ID: img.ConfigInfo().Digest.Encoded(), Layers: make([]report.Layer, len(blobs))}
	for i, blob := range blobs {
		// The store shows a layer by its diff id, the digest of its tar.
		id := blob.Digest.String()
		if len(config.RootFS.DiffIDs) == len(blobs) {
			id = config.RootFS.DiffIDs[i].String()
		}
		opened.Layers[i] = report.Layer{
			ID:        id,
			CreatedBy: createdBy[i],
			Open: func() (report.HeaderReader, io.Closer, error) {
				stream, _, err := src.GetBlob(ctx, blob, none.NoCache)
				if err != nil {
					return nil, nil, fmt.Errorf("reading layer %s of image %s: %w", blob.Digest, report.Printable(name), safe(err))
				}
				tarStream, _, err := compression.AutoDecompress(stream)
				if err != nil {
					stream.Close()
					return nil, nil, fmt.Errorf("layer %s of image %s: %w", blob.Digest, report.Printable(name), safe(err))
				}
				return tar.NewReader(tarStream), closer(func() error { return errors.Join(tarStream.Close(), stream.Close()) }), nil
			},
		}
	}
	return opened, nil
}

// safe is err, from c/image, whose messages carry the archive's path as
// given (open PATH: ...), made safe to print as podprof's own errors are:
// a path may hold a newline or an escape sequence.
func safe(err error) error {
	if text := report.PrintableText(err.Error()); text != err.Error() {
		return errors.New(text)
	}
	return err
}

type closer func() error

func (c closer) Close() error { return c() }
