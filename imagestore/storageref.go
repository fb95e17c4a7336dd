package imagestore

import (
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/docker/reference"
	storagetypes "go.podman.io/storage/types"

	"github.com/podprof/podprof/report"
)

// minimumTruncatedIDLength is the shortest id prefix the storage
// transport takes for an id (c/image's storage transport's constant).
const minimumTruncatedIDLength = 3

// storageReference looks up containers-storage:REF as podman 4.3.1 does,
// with c/image's storage transport (ParseReference, then GetStoreImage):
// REF is [STORE]NAME, NAME@ID, @ID or an id prefix of 3 or more, where
// NAME is normalized as docker does (docker.io/, :latest). ok is false
// when REF does not parse: podman then looks the whole name up as an
// image name. STORE may only name the store podprof reads (podman would
// open another).
func (l lookup) storageReference(ref string) (id string, ok bool, err error) {
	if strings.HasPrefix(ref, "[") {
		spec, rest, found := strings.Cut(ref[1:], "]")
		if !found || spec == "" {
			return "", false, nil
		}
		if err := l.sameStore(spec); err != nil {
			return "", true, err
		}
		ref = rest
	}
	if ref == "" {
		return "", false, nil
	}
	// An id may end the reference, after "@", where a digest may too.
	if at := strings.LastIndex(ref, "@"); at >= 0 {
		possibleID := ref[at+1:]
		if possibleID == "" {
			return "", false, nil
		}
		if _, err := digest.Parse(possibleID); err != nil {
			if reference.IsFullIdentifier(possibleID) {
				id = possibleID
			} else if im := l.store(possibleID); im != nil && len(possibleID) >= minimumTruncatedIDLength && strings.HasPrefix(im.ID, possibleID) {
				id = im.ID
			} else {
				return "", false, nil
			}
			ref = ref[:at]
		}
	}
	if id == "" && len(ref) >= minimumTruncatedIDLength && !strings.ContainsAny(ref, "@:") {
		if im := l.store(ref); im != nil && strings.HasPrefix(im.ID, ref) {
			id, ref = im.ID, ""
		}
	}
	var named reference.Named
	if ref != "" {
		n, err := reference.ParseNormalizedNamed(ref)
		if err != nil {
			return "", false, nil
		}
		named = reference.TagNameOnly(n)
	}
	if named == nil && id == "" {
		return "", false, nil
	}

	// GetStoreImage: the image of that exact name, else the reference's
	// image (resolveImage): by name, or by digest in the same repository,
	// or by id, of the named repository if named.
	unknown := storagetypes.ErrImageUnknown // podman says only "image not known"
	if named != nil {
		if im := l.store(named.String()); im != nil {
			return im.ID, true, nil
		}
	}
	if id == "" {
		if digested, isDigested := named.(reference.Digested); isDigested {
			for i := range l.images {
				if hasDigest(&l.images[i], digested.Digest()) && matchesRepo(&l.images[i], named) {
					id = l.images[i].ID
					break
				}
			}
		}
	}
	if id == "" {
		return "", true, unknown
	}
	im := l.store(id)
	if im == nil || (named != nil && !matchesRepo(im, named)) {
		return "", true, unknown
	}
	return im.ID, true, nil
}

// matchesRepo reports whether one of im's names is in named's repository
// (the storage transport's imageMatchesRepo).
func matchesRepo(im *storageImage, named reference.Named) bool {
	for _, name := range im.Names {
		if n, err := reference.ParseNormalizedNamed(name); err == nil && n.Name() == named.Name() {
			return true
		}
	}
	return false
}

// sameStore checks that a store specifier, [DRIVER@]GRAPHROOT[+RUNROOT][:OPTIONS],
// names the store podprof reads.
func (l lookup) sameStore(spec string) error {
	driver, root, hasDriver := strings.Cut(spec, "@")
	if !hasDriver {
		driver, root = "", spec
	}
	root, _, _ = strings.Cut(root, ":")
	root, _, _ = strings.Cut(root, "+")
	if (root != "" && root != l.where.GraphRoot) || (driver != "" && driver != l.where.Driver) {
		return fmt.Errorf("containers-storage:[%s] is not the store podprof reads (%s@%s): name that store with podman's global flags --root and --storage-driver", report.Printable(spec), l.where.Driver, l.where.GraphRoot)
	}
	return nil
}
