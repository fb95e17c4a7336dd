package run

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/podprof/podprof/report"
)

// storageRecord is the part of a containers/storage record (images.json,
// containers.json, layers.json) that podprof reads.
type storageRecord struct {
	ID     string   `json:"id"`
	Names  []string `json:"names"`
	Image  string   `json:"image"`  // containers: the image's id
	Layer  string   `json:"layer"`  // images: the top layer; containers: the rw layer
	Parent string   `json:"parent"` // layers: the layer below
}

func readStorageRecords(path string) ([]storageRecord, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var records []storageRecord
	if err := json.Unmarshal(data, &records); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	return records, nil
}

func findRecord(records []storageRecord, id string) *storageRecord {
	for i := range records {
		if records[i].ID == id {
			return &records[i]
		}
	}
	return nil
}

// containerOfBundle names a podman container and its image from the
// containers/storage files beside its OCI bundle, which podman keeps at
// GRAPHROOT/DRIVER-containers/ID/userdata. Other layouts (CRI-O keeps the
// bundle under the run root) give empty names: the report then needs the
// image named on its command line.
func containerOfBundle(bundle, id string) (report.ContainerRef, report.ImageRef) {
	ctr := report.ContainerRef{ID: id}
	containersDir := filepath.Dir(filepath.Dir(bundle))
	if filepath.Base(filepath.Dir(bundle)) != id || !strings.HasSuffix(containersDir, "-containers") {
		return ctr, report.ImageRef{}
	}
	records, err := readStorageRecords(filepath.Join(containersDir, "containers.json"))
	if err != nil {
		return ctr, report.ImageRef{}
	}
	rec := findRecord(records, id)
	if rec == nil {
		return ctr, report.ImageRef{}
	}
	if len(rec.Names) > 0 {
		ctr.Name = rec.Names[0]
	}
	img := report.ImageRef{ID: rec.Image}
	imagesDir := strings.TrimSuffix(containersDir, "-containers") + "-images"
	if images, err := readStorageRecords(filepath.Join(imagesDir, "images.json")); err == nil {
		if im := findRecord(images, rec.Image); im != nil && len(im.Names) > 0 {
			img.Name = im.Names[0]
		}
	}
	return ctr, img
}
