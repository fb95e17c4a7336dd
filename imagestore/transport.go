package imagestore

import (
	"errors"
	"slices"
	"strings"

	"github.com/podprof/podprof/report"
)

// imageTransports are the transports of c/image's alltransports, which
// podman parses a name with before it looks it up in its store (but
// atomic:, whose references podman 4.3.1 refuses, so that they are
// looked up as names). They are named here, not linked: each brings its own clients and libraries, and
// this package is in every podprof process, the OCI hook's included.
var imageTransports = []string{
	"containers-storage", "dir", "docker", "docker-archive", "docker-daemon",
	"oci", "oci-archive", "ostree", "sif", "tarball",
}

// ArchiveTransports are the transports of images outside the store that
// package imagestore/archive reads.
var ArchiveTransports = []string{"docker-archive", "oci-archive", "oci"}

// transportOf returns the c/image transport of name ("TRANSPORT:REFERENCE"),
// or "" when name is an image of the store. Every transport takes any
// reference but docker, whose references start with "//": "docker:latest"
// is the image docker:latest, as with podman.
func transportOf(name string) string {
	prefix, rest, found := strings.Cut(name, ":")
	if !found || !slices.Contains(imageTransports, prefix) {
		return ""
	}
	if prefix == "docker" && !strings.HasPrefix(rest, "//") {
		return ""
	}
	return prefix
}

// IsArchive reports whether name is an image outside the store, of one of
// ArchiveTransports: docker-archive:PATH[:REF], oci-archive:PATH[:REF] or
// oci:DIR[:REF].
func IsArchive(name string) bool {
	return slices.Contains(ArchiveTransports, transportOf(name))
}

// An ArchiveImage is an image outside the store (IsArchive): its id (its
// config's digest, as podman load would give it) and its layers, bottom
// first. Close releases it.
type ArchiveImage struct {
	ID     string
	Layers []report.Layer
	Close  func() error
}

// openArchive is the archive reader of package imagestore/archive, when
// the binary links it.
var openArchive func(name string) (*ArchiveImage, error)

// RegisterArchiveReader is how package imagestore/archive, which links
// c/image's transports, makes OpenArchive read images outside the store.
// Only the binaries that import it read them: podprof-podman does, not
// podprof, whose every process (the OCI hook's too) would carry 5 MB more.
func RegisterArchiveReader(open func(name string) (*ArchiveImage, error)) {
	openArchive = open
}

// OpenArchive opens the image outside the store that name names
// (IsArchive).
func OpenArchive(name string) (*ArchiveImage, error) {
	if openArchive == nil {
		return nil, errors.New("this program does not read image archives: podprof-podman does, and podprof runs it for them")
	}
	return openArchive(name)
}
