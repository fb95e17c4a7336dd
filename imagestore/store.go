// Package imagestore reads podman's local image store (containers/storage)
// from its files: images, their layers' tar headers and contents, their
// configs, and the containers made from them. It never asks podman, whose
// service costs a third of a second to answer, and never writes.
package imagestore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.podman.io/storage/types"

	"github.com/podprof/podprof/podmancmd"
	"github.com/podprof/podprof/report"
)

// A Store is one containers/storage graph root and its graph driver.
type Store struct {
	GraphRoot string
	Driver    string // overlay, vfs, ...
}

// Default is where podman keeps its images: the graph root and driver of
// storage.conf (as containers/storage finds it: CONTAINERS_STORAGE_CONF,
// /etc/containers/storage.conf, ...), unless podman's global flags --root
// or --storage-driver (as podmancmd.SplitGlobalFlags gives them) say
// otherwise.
func Default(globalFlags []string) (Store, error) {
	opts, err := types.DefaultStoreOptions()
	if err != nil {
		return Store{}, fmt.Errorf("reading podman's storage configuration: %w", err)
	}
	s := Store{GraphRoot: opts.GraphRoot, Driver: opts.GraphDriverName}
	if root, _ := podmancmd.GlobalValue(globalFlags, "root"); root != "" {
		s.GraphRoot = root
	}
	if driver, _ := podmancmd.GlobalValue(globalFlags, "storage-driver"); driver != "" {
		s.Driver = driver
	}
	if s.Driver == "" {
		s.Driver = "overlay"
	}
	return s, nil
}

func (s Store) imagesDir() string { return filepath.Join(s.GraphRoot, s.Driver+"-images") }
func (s Store) layersDir() string { return filepath.Join(s.GraphRoot, s.Driver+"-layers") }

// image returns the images.json record of the image with full id imageID.
func (s Store) image(imageID string) (storageImage, error) {
	var images []storageImage
	if err := readJSON(filepath.Join(s.imagesDir(), "images.json"), &images); err != nil {
		return storageImage{}, err
	}
	i := slices.IndexFunc(images, func(image storageImage) bool { return image.ID == imageID })
	if i < 0 {
		// The id comes from a profile, which anyone may have written.
		return storageImage{}, fmt.Errorf("image %s is not in %s: was it removed?", report.Printable(imageID), filepath.Join(s.imagesDir(), "images.json"))
	}
	return images[i], nil
}

// Named returns the id of the image that has exactly the name name
// (registry/repository:tag, as podman stores names), or "".
func (s Store) Named(name string) (string, error) {
	var images []storageImage
	if err := readJSON(filepath.Join(s.imagesDir(), "images.json"), &images); err != nil {
		return "", err
	}
	for _, im := range images {
		if slices.Contains(im.Names, name) {
			return im.ID, nil
		}
	}
	return "", nil
}

// Config returns the image's config JSON (the OCI or docker image config
// its manifest points at), as pulled.
func (s Store) Config(imageID string) ([]byte, error) {
	imageID = strings.TrimPrefix(imageID, "sha256:")
	if _, err := s.image(imageID); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(configPath(s.imagesDir(), imageID))
	if err != nil {
		return nil, fmt.Errorf("reading the config of image %s: %w", imageID, err)
	}
	return data, nil
}

// ContentDirs returns, bottom layer first, the directory holding each
// layer's files as the graph driver unpacked them: a regular file at path
// P of layer i, in its tar, has its contents at ContentDirs[i]/P.
func (s Store) ContentDirs(imageID string) ([]string, error) {
	chain, err := s.layerChain(imageID)
	if err != nil {
		return nil, err
	}
	dirs := make([]string, len(chain))
	for i, l := range chain {
		switch s.Driver {
		case "overlay":
			dirs[i] = filepath.Join(s.GraphRoot, "overlay", l.ID, "diff")
		case "vfs":
			dirs[i] = filepath.Join(s.GraphRoot, "vfs", "dir", l.ID)
		default:
			return nil, errors.New("podprof reads layer contents of the overlay and vfs graph drivers only, not " + s.Driver)
		}
	}
	return dirs, nil
}
