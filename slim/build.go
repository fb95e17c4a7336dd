package slim

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/podprof/podprof/imagestore"
	"github.com/podprof/podprof/report"
)

// A Built slim image: its config and its one layer, written in a
// directory, ready to be archived and loaded.
type Built struct {
	Config []byte
	ID     string
	Layer  WrittenLayer
	Tree   *report.Image // the slim image's files
	layer  string        // the layer tar's path
}

// Build writes the layer of the slim image of u (the join of img's tree
// with the profiles) into dir and makes its config from the image's.
func Build(dir string, img *imagestore.Image, originalConfig []byte, u *report.Usage, needs Needs, createdBy string) (*Built, error) {
	needs, err := withConfigNeeds(needs, originalConfig)
	if err != nil {
		return nil, err
	}
	sel, err := Select(u, needs)
	if err != nil {
		return nil, err
	}
	b := &Built{layer: filepath.Join(dir, "layer.tar")}
	f, err := os.Create(b.layer)
	if err != nil {
		return nil, fmt.Errorf("writing the slim layer: %w", err)
	}
	b.Layer, err = WriteLayer(f, img, sel)
	if closeErr := f.Close(); err == nil && closeErr != nil {
		err = fmt.Errorf("writing the slim layer: %w", closeErr)
	}
	if errors.Is(err, syscall.ENOSPC) {
		return nil, fmt.Errorf("no space left in %s for the slim layer: free some, or set TMPDIR to a roomier place", dir)
	}
	if err != nil {
		return nil, err
	}
	b.Tree, err = report.BuildImage([]report.Layer{{ID: b.Layer.DiffID, Open: b.openHeaders}})
	if err != nil {
		return nil, fmt.Errorf("reading back the slim layer: %w", err)
	}
	comment := fmt.Sprintf("podprof slim: %d of the %d files (%d of %d bytes) of image %s", b.Tree.Files, img.Tree.Files, b.Tree.Bytes, img.Tree.Bytes, img.ID)
	if b.Config, err = Config(originalConfig, img.ID, b.Layer, comment, createdBy); err != nil {
		return nil, err
	}
	b.ID = ImageID(b.Config)
	return b, nil
}

// WriteArchive writes the docker-archive of the slim image, named tag.
func (b *Built) WriteArchive(w io.Writer, tag string) error {
	f, err := os.Open(b.layer)
	if err != nil {
		return err
	}
	defer f.Close()
	return WriteDockerArchive(w, b.Config, f, b.Layer.Size, tag)
}

func (b *Built) openHeaders() (report.HeaderReader, io.Closer, error) {
	f, err := os.Open(b.layer)
	if err != nil {
		return nil, nil, err
	}
	return tar.NewReader(f), f, nil
}

// withConfigNeeds adds to needs what the image's config says a container
// needs: its working directory and volumes.
func withConfigNeeds(needs Needs, config []byte) (Needs, error) {
	var image struct {
		Config struct {
			WorkingDir string
			Volumes    map[string]struct{}
		} `json:"config"`
	}
	if err := json.Unmarshal(config, &image); err != nil {
		return needs, fmt.Errorf("reading the image's config: %w", err)
	}
	needs.WorkingDir = image.Config.WorkingDir
	for v := range image.Config.Volumes {
		needs.Volumes = append(needs.Volumes, v)
	}
	return needs, nil
}
