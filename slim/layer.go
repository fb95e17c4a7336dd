package slim

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/podprof/podprof/imagestore"
	"github.com/podprof/podprof/report"
)

// A WrittenLayer is the digest and size of a layer tar WriteLayer wrote.
type WrittenLayer struct {
	DiffID string // sha256:HEX of the layer tar
	Size   int64  // bytes of the layer tar
}

// entry is a name's tar header in the layer that last wrote it.
type entry struct {
	hdr   *tar.Header
	layer int
}

// WriteLayer writes the selection of img as one uncompressed layer tar:
// each kept name with the header it has in the image (mode, owners, times,
// xattrs such as security.capability, device numbers) and, for a regular
// file, its contents as the layer that wrote it holds them. Entries are in
// path order and nothing depends on the time or the machine, so the same
// selection always gives the same bytes.
func WriteLayer(w io.Writer, img *imagestore.Image, sel *Selection) (WrittenLayer, error) {
	entries, err := keptEntries(img, sel)
	if err != nil {
		return WrittenLayer{}, err
	}
	digest := sha256.New()
	counter := &countingWriter{w: io.MultiWriter(w, digest)}
	tw := tar.NewWriter(counter)
	// The first kept name of a hard-link group carries the contents; the
	// others link to it, wherever the image's tar had them.
	carriers := make(map[*report.Inode]string)
	for _, p := range sel.Paths() {
		n := img.Tree.Lookup(p)
		hdr, source, err := outputHeader(p, n, entries)
		if err != nil {
			return WrittenLayer{}, err
		}
		if n.Kind == report.Regular {
			if carrier, seen := carriers[n.Inode]; seen {
				hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, strings.TrimPrefix(carrier, "/"), 0
			} else {
				carriers[n.Inode] = p
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return WrittenLayer{}, fmt.Errorf("writing the slim layer's entry %s: %w", report.Printable(p), err)
		}
		if hdr.Typeflag == tar.TypeReg {
			if err := copyContents(tw, img, source, hdr.Size); err != nil {
				return WrittenLayer{}, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return WrittenLayer{}, fmt.Errorf("writing the slim layer: %w", err)
	}
	return WrittenLayer{DiffID: "sha256:" + hex.EncodeToString(digest.Sum(nil)), Size: counter.n}, nil
}

// keptEntries reads the layers' headers, bottom first, and keeps for each
// kept name, and each name of a kept file's hard-link group, the header of
// the last layer that wrote it.
func keptEntries(img *imagestore.Image, sel *Selection) (map[string]entry, error) {
	keptInodes := make(map[*report.Inode]bool)
	for _, p := range sel.Paths() {
		if n := img.Tree.Lookup(p); n.Kind == report.Regular {
			keptInodes[n.Inode] = true
		}
	}
	entries := make(map[string]entry)
	for i, layer := range img.Layers {
		headers, closer, err := layer.Open()
		if err != nil {
			return nil, err
		}
		for {
			hdr, err := headers.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				closer.Close()
				return nil, fmt.Errorf("reading layer %s: %w", layer.ID, err)
			}
			name := path.Clean("/" + hdr.Name)
			n := img.Tree.Lookup(name)
			if n != nil && (sel.Keeps(n) || keptInodes[n.Inode]) {
				entries[name] = entry{hdr: hdr, layer: i}
			}
		}
		closer.Close()
	}
	return entries, nil
}

// contentSource is where a regular file's contents are: a name in one
// layer's directory.
type contentSource struct {
	layer int
	path  string
}

// paxKept are the PAX records a header keeps: extended attributes. The
// others stand for header fields, which the writer sets from the fields.
const paxKept = "SCHILY.xattr."

// outputHeader is the header of kept name p in the slim layer, and for a
// regular file where its contents are.
func outputHeader(p string, n *report.Node, entries map[string]entry) (*tar.Header, contentSource, error) {
	e, found := entries[p]
	if !found || (n.Kind == report.Dir) != (e.hdr.Typeflag == tar.TypeDir) {
		if n.Kind != report.Dir {
			return nil, contentSource{}, fmt.Errorf("no layer has an entry for %s: is the image store damaged?", report.Printable(p))
		}
		// A directory no layer has an entry for: made by an entry under
		// it, as containers/storage makes it when it unpacks the layer.
		return &tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(p, "/") + "/", Mode: 0o755, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}, contentSource{}, nil
	}
	hdr := *e.hdr
	source := contentSource{layer: e.layer, path: p}
	if hdr.Typeflag == tar.TypeLink {
		// Another name of a file the same layer wrote: its contents are
		// under that name too, and its header is the file's.
		source.path = path.Clean("/" + hdr.Linkname)
		hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeReg, "", n.Size
	}
	if hdr.Typeflag == tar.TypeRegA || hdr.Typeflag == tar.TypeCont || hdr.Typeflag == tar.TypeGNUSparse {
		hdr.Typeflag = tar.TypeReg
	}
	hdr.Name = strings.TrimPrefix(p, "/")
	if hdr.Typeflag == tar.TypeDir {
		hdr.Name += "/"
	}
	hdr.Format = tar.FormatPAX
	hdr.Xattrs = nil //nolint:staticcheck // the reader fills both; PAXRecords is the one to keep
	var records map[string]string
	for k, v := range e.hdr.PAXRecords {
		if strings.HasPrefix(k, paxKept) {
			if records == nil {
				records = make(map[string]string)
			}
			records[k] = v
		}
	}
	hdr.PAXRecords = records
	return &hdr, source, nil
}

// copyContents copies a regular file's contents from its layer, and fails
// unless they are exactly as long as the image's header says.
func copyContents(w io.Writer, img *imagestore.Image, source contentSource, size int64) error {
	f, err := img.OpenLayerFile(source.layer, source.path)
	if err != nil {
		return fmt.Errorf("reading the contents of %s: %w", report.Printable(source.path), err)
	}
	defer f.Close()
	n, err := io.Copy(w, io.LimitReader(f, size+1))
	switch {
	case errors.Is(err, tar.ErrWriteTooLong) || (err == nil && n != size):
		return fmt.Errorf("%s holds other contents than the image's header says (%d bytes, not %d): is the image store damaged?", report.Printable(source.path), n, size)
	case err != nil:
		return fmt.Errorf("copying %s into the slim layer: %w", report.Printable(source.path), err)
	}
	return nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
