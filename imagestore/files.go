package imagestore

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/podprof/podprof/report"
)

// An Image is an image of the store opened for its files: the tree its
// layers' headers make, and where the graph driver keeps each layer's
// contents.
type Image struct {
	ID     string
	Tree   *report.Image
	Layers []report.Layer // bottom first, as Store.Layers
	dirs   []string       // ContentDirs, bottom first
}

// OpenImage reads the tree of image imageID and finds its layers' contents.
func (s Store) OpenImage(imageID string) (*Image, error) {
	imageID = strings.TrimPrefix(imageID, "sha256:")
	layers, err := s.Layers(imageID)
	if err != nil {
		return nil, err
	}
	tree, err := report.BuildImage(layers)
	if err != nil {
		return nil, err
	}
	dirs, err := s.ContentDirs(imageID)
	if err != nil {
		return nil, err
	}
	return &Image{ID: imageID, Tree: tree, Layers: layers, dirs: dirs}, nil
}

// OpenLayerFile opens the contents of the regular file at the clean
// absolute path p as layer i holds it. Nothing on the way may be a
// symbolic link, and the path may not leave the layer's directory: the
// names come from the image, and a link in an unpacked layer could point
// anywhere on the host.
func (img *Image) OpenLayerFile(i int, p string) (*os.File, error) {
	if i < 0 || i >= len(img.dirs) {
		return nil, fmt.Errorf("image %s has no layer %d", img.ID, i)
	}
	dir, err := os.Open(img.dirs[i])
	if err != nil {
		return nil, fmt.Errorf("opening the contents of layer %d of image %s: %w", i, img.ID, err)
	}
	defer dir.Close()
	fd, err := unix.Openat2(int(dir.Fd()), "."+p, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOFOLLOW,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: img.dirs[i] + p, Err: err}
	}
	f := os.NewFile(uintptr(fd), img.dirs[i]+p)
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s in layer %d of image %s is not a regular file", report.Printable(p), i, img.ID)
	}
	return f, nil
}

// ReadFile returns the contents of the file the absolute path p names in a
// container of the image, following symbolic links as the kernel would:
// the topmost layer that has the resolved path holds them.
func (img *Image) ReadFile(p string) ([]byte, error) {
	n, err := img.Tree.Resolve(p)
	if err != nil {
		return nil, err
	}
	if n.Kind != report.Regular {
		return nil, fmt.Errorf("%s in image %s is a %s, not a file", report.Printable(p), img.ID, n.Kind)
	}
	resolved := n.Path()
	for i := len(img.dirs) - 1; i >= 0; i-- {
		f, err := img.OpenLayerFile(i, resolved)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
			continue // not in this layer, or under a link this layer made
		}
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return io.ReadAll(f)
	}
	return nil, fmt.Errorf("the contents of %s are in no layer of image %s: is the store damaged?", report.Printable(resolved), img.ID)
}
