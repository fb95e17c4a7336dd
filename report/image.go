package report

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
)

// A HeaderReader yields the tar headers of one layer, then io.EOF.
// *tar.Reader satisfies it; file contents are never asked for.
type HeaderReader interface {
	Next() (*tar.Header, error)
}

// A Layer is one layer of an image, as its diff tar.
type Layer struct {
	ID        string // diff or storage id; only shown to the user
	CreatedBy string // the image history's command for this layer; may be ""
	// Open starts a pass over the layer's headers. BuildImage closes the
	// returned Closer when it is done with the layer, error or not.
	Open func() (HeaderReader, io.Closer, error)
}

// LayerInfo says what one layer contributes to the final filesystem: files
// a later layer replaced or deleted count for that later layer or not at all.
type LayerInfo struct {
	ID        string
	CreatedBy string
	Bytes     int64
	Files     int64
}

// An Image is the filesystem a container of the image starts with.
type Image struct {
	Root   *Node
	Layers []LayerInfo // bottom layer first
	Bytes  int64       // see docs/accounting.md
	Files  int64
}

// The OCI whiteout names: ".wh.NAME" deletes NAME of lower layers, and the
// opaque marker in a directory hides all that lower layers had in it. Other
// ".wh..wh." names, and whatever is in a top-level directory so named, are
// AUFS bookkeeping, not files.
const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
	aufsMetaPrefix = ".wh..wh."
)

// BuildImage applies layers bottom first to an empty tree, from their tar
// headers alone, as overlayfs would present them to a container.
func BuildImage(layers []Layer) (*Image, error) {
	img := &Image{
		Root:   &Node{Inode: &Inode{Kind: Dir, Layer: -1}},
		Layers: make([]LayerInfo, len(layers)),
	}
	for i, layer := range layers {
		img.Layers[i] = LayerInfo{ID: layer.ID, CreatedBy: layer.CreatedBy}
		if err := img.applyLayer(i, layer); err != nil {
			return nil, fmt.Errorf("layer %d of %d (%s): %w", i+1, len(layers), Printable(layer.ID), err)
		}
	}
	img.count()
	return img, nil
}

func (img *Image) applyLayer(index int, layer Layer) error {
	headers, closer, err := layer.Open()
	if err != nil {
		return err
	}
	defer closer.Close()
	applier := layerApplier{img: img, layer: index}
	for {
		hdr, err := headers.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading tar headers: %w", err)
		}
		if err := applier.apply(hdr); err != nil {
			return fmt.Errorf("entry %s: %w", Printable(hdr.Name), err)
		}
	}
}

// layerApplier applies the entries of one layer to the image tree.
type layerApplier struct {
	img   *Image
	layer int
}

func (a *layerApplier) apply(hdr *tar.Header) error {
	name := cleanEntryPath(hdr.Name)
	dir, base := path.Split(name)
	switch {
	case base == opaqueMarker:
		if d := a.img.Lookup(dir); d != nil && d.Kind == Dir {
			a.touch(d)
			for _, c := range slices.Clone(d.Children) {
				a.hideLower(c)
			}
		}
		return nil
	case strings.HasPrefix(base, aufsMetaPrefix), strings.HasPrefix(name, "/"+aufsMetaPrefix):
		return nil // AUFS bookkeeping such as /.wh..wh.plnk/, never shown to a container
	case strings.HasPrefix(base, whiteoutPrefix):
		// A bare ".wh." names nothing; a lookup of "" would find dir itself.
		if hiddenName := strings.TrimPrefix(base, whiteoutPrefix); hiddenName != "" {
			if d := a.img.Lookup(dir); d != nil && d.Kind == Dir {
				if hidden := d.Child(hiddenName); hidden != nil {
					a.hideLower(hidden)
				}
			}
		}
		return nil
	}

	var inode *Inode
	switch hdr.Typeflag {
	case tar.TypeDir:
		inode = &Inode{Kind: Dir, Layer: a.layer}
	case tar.TypeReg, tar.TypeCont, tar.TypeGNUSparse: // *tar.Reader reports the old TypeRegA as TypeReg
		inode = &Inode{Kind: Regular, Size: hdr.Size, Layer: a.layer}
	case tar.TypeSymlink:
		inode = &Inode{Kind: Symlink, Target: hdr.Linkname, Layer: a.layer}
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		inode = &Inode{Kind: Other, Layer: a.layer}
	case tar.TypeLink:
		// A hard link is another name for a file this layer or a lower one
		// already has: share its inode rather than count it again.
		target := a.img.Lookup(cleanEntryPath(hdr.Linkname))
		if target == nil || target.Parent == nil {
			return fmt.Errorf("hard link to %s, which no layer up to this one has", Printable(hdr.Linkname))
		}
		if target.Kind == Dir {
			return fmt.Errorf("hard link to directory %s", Printable(hdr.Linkname))
		}
		inode = target.Inode
	case tar.TypeXGlobalHeader:
		return nil // pax defaults for later entries, not a file
	default:
		return fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag)
	}

	if name == "/" {
		if inode.Kind != Dir {
			return errors.New("a layer cannot replace the root directory with a non-directory")
		}
		a.img.Root.Layer = a.layer
		a.touch(a.img.Root)
		return nil
	}
	a.place(a.parentDir(dir), base, inode)
	return nil
}

// cleanEntryPath turns a tar entry name ("./a", "a", "a/", "/a//b") into a
// clean absolute path. ".." cannot climb above the root.
func cleanEntryPath(name string) string {
	return path.Clean("/" + name)
}

// parentDir returns the directory node for the absolute path dir, creating
// the directories missing on the way. Tar streams need not list parents
// before children, and overlayfs shows a directory of an upper layer in
// place of a lower layer's non-directory of the same name.
func (a *layerApplier) parentDir(dir string) *Node {
	current := a.img.Root
	for _, name := range strings.Split(dir, "/") {
		if name == "" {
			continue
		}
		next := current.Child(name)
		if next == nil || next.Kind != Dir {
			next = a.place(current, name, &Inode{Kind: Dir, Layer: a.layer})
		}
		current = next
	}
	return current
}

// place puts inode in parent under name, and returns its node. A directory
// over a directory merges with it, as overlayfs does; anything else
// replaces what was there, subtree included.
func (a *layerApplier) place(parent *Node, name string, inode *Inode) *Node {
	i, found := parent.childIndex(name)
	if found {
		existing := parent.Children[i]
		if existing.Kind == Dir && inode.Kind == Dir {
			existing.Layer = a.layer
			a.touch(existing)
			return existing
		}
		existing.Parent = nil
		parent.Children[i] = &Node{Name: name, Parent: parent, Inode: inode}
	} else {
		parent.Children = slices.Insert(parent.Children, i, &Node{Name: name, Parent: parent, Inode: inode})
	}
	node := parent.Children[i]
	a.touch(node)
	return node
}

// touch records that this layer wrote at or below n, up to the root.
func (a *layerApplier) touch(n *Node) {
	for ; n != nil && n.touchedBy != a.layer+1; n = n.Parent {
		n.touchedBy = a.layer + 1
	}
}

// hideLower removes from n's subtree whatever lower layers made, keeping
// what this layer already wrote there: a whiteout only applies to lower
// layers, whatever its position in the layer's tar.
func (a *layerApplier) hideLower(n *Node) {
	if n.touchedBy != a.layer+1 {
		a.remove(n)
		return
	}
	if n.Kind == Dir {
		for _, c := range slices.Clone(n.Children) {
			a.hideLower(c)
		}
	}
}

func (a *layerApplier) remove(n *Node) {
	parent := n.Parent
	if i, found := parent.childIndex(n.Name); found {
		parent.Children = slices.Delete(parent.Children, i, i+1)
	}
	n.Parent = nil
}

// count totals the final tree and credits each inode to the layer that
// made it. Directories are neither files nor bytes; an inode with several
// names is counted once.
func (img *Image) count() {
	seen := make(map[*Inode]bool)
	img.Root.Walk(func(n *Node) bool {
		if n.Kind == Dir || seen[n.Inode] {
			return true
		}
		seen[n.Inode] = true
		img.Files++
		img.Bytes += n.Size
		layer := &img.Layers[n.Layer]
		layer.Files++
		layer.Bytes += n.Size
		return true
	})
}
