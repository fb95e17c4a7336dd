package imagestore

import (
	"path/filepath"
	"slices"
	"strings"

	"github.com/podprof/podprof/report"
)

// storageContainer is the part of a containers.json record podprof reads.
type storageContainer struct {
	ID    string   `json:"id"`
	Names []string `json:"names"`
	Image string   `json:"image"` // the image's id
}

// ContainerOfBundle names a podman container and its image from the
// containers/storage files beside its OCI bundle, which podman keeps at
// GRAPHROOT/DRIVER-containers/ID/userdata. Other layouts (CRI-O keeps the
// bundle under the run root) give empty names: the report then needs the
// image named on its command line.
func ContainerOfBundle(bundle, id string) (report.ContainerRef, report.ImageRef) {
	ctr := report.ContainerRef{ID: id}
	containersDir := filepath.Dir(filepath.Dir(bundle))
	if filepath.Base(filepath.Dir(bundle)) != id || !strings.HasSuffix(containersDir, "-containers") {
		return ctr, report.ImageRef{}
	}
	// containers/storage since podman 4.4 keeps --rm containers apart, in
	// volatile-containers.json.
	var containers []storageContainer
	for _, name := range []string{"containers.json", "volatile-containers.json"} {
		var some []storageContainer
		if readJSON(filepath.Join(containersDir, name), &some) == nil {
			containers = append(containers, some...)
		}
	}
	i := slices.IndexFunc(containers, func(c storageContainer) bool { return c.ID == id })
	if i < 0 {
		return ctr, report.ImageRef{}
	}
	if names := containers[i].Names; len(names) > 0 {
		ctr.Name = names[0]
	}
	img := report.ImageRef{ID: containers[i].Image}
	var images []storageImage
	if readJSON(filepath.Join(strings.TrimSuffix(containersDir, "-containers")+"-images", "images.json"), &images) == nil {
		if j := slices.IndexFunc(images, func(im storageImage) bool { return im.ID == img.ID }); j >= 0 && len(images[j].Names) > 0 {
			img.Name = images[j].Names[0]
		}
	}
	return ctr, img
}
