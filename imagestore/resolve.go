package imagestore

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/pkg/shortnames"
	imagetypes "go.podman.io/image/v5/types"
	storagetypes "go.podman.io/storage/types"
)

// errNoHexValue is libimage's error for a "sha256:" name that is not a
// full id; podman prints its text.
var errNoHexValue = errors.New("invalid format: no 64-byte hexadecimal value")

// manifestBigDataPrefix starts the names of an image's big data items that
// hold a manifest (containers/storage's
// ImageDigestManifestBigDataNamePrefix, in a package podprof does not link:
// it opens stores); "manifest" itself is the image's own manifest.
const manifestBigDataPrefix = "manifest"

// ResolveImage returns the full id of the local image that name names, as
// podman finds it (c/common's libimage LookupImage, as podman 4.3.1 has
// it, for the images of this store): a full id, with or without
// "sha256:"; a name, completed as registries.conf says (short-name
// aliases, localhost/, then the unqualified-search registries, then
// docker.io) and with :latest when it has no tag or digest; a unique id
// prefix; a short name matched at the end of an image's repository; a
// digest of one of an image's manifests; containers-storage:REF, as that
// transport reads it. A manifest list resolves to its instance for this
// machine. A name that is unknown, or an id prefix of several images,
// gives podman's "NAME: image not known" (storage.ErrImageUnknown); a name
// of another transport, "unsupported transport".
func (s Store) ResolveImage(name string) (string, error) {
	images, err := s.images()
	if err != nil {
		return "", err
	}
	return s.lookup(images, &imagetypes.SystemContext{}).image(name)
}

// images returns the records of the store's images.json.
func (s Store) images() ([]storageImage, error) {
	var images []storageImage
	err := readJSON(filepath.Join(s.imagesDir(), "images.json"), &images)
	return images, err
}

// lookup is one LookupImage over a list of images, those of the store
// where: sys says where registries.conf and the short-name aliases are
// (the system's when empty), and manifest reads an image's manifest, for
// manifest lists.
type lookup struct {
	where    Store
	images   []storageImage
	sys      *imagetypes.SystemContext
	manifest func(imageID string) ([]byte, error)
}

func (s Store) lookup(images []storageImage, sys *imagetypes.SystemContext) lookup {
	return lookup{where: s, images: images, sys: sys, manifest: func(id string) ([]byte, error) {
		return os.ReadFile(bigDataPath(s.imagesDir(), id, manifestBigDataPrefix))
	}}
}

// image is libimage's LookupImage, step by step; the comments name its
// steps, whose order decides which image a name means.
func (l lookup) image(name string) (string, error) {
	// A transport's name: containers-storage's is looked up as that
	// transport does, unless it does not parse; others are not local.
	if t := transportOf(name); t == "containers-storage" {
		if id, ok, err := l.storageReference(strings.TrimPrefix(name, t+":")); ok {
			return id, err
		}
	} else if t != "" {
		return "", fmt.Errorf("unsupported transport %q for looking up local images", t)
	}
	// Docker compatibility: NAME:TAG@DIGEST is NAME@DIGEST.
	normalized, err := stripTagOfDigested(name)
	if err != nil {
		return "", err
	}
	name = normalized

	original := name
	byDigest := strings.HasPrefix(name, "sha256:")
	name = strings.TrimPrefix(name, "sha256:")
	byFullID := reference.IsFullIdentifier(name)
	if byDigest && !byFullID {
		return "", fmt.Errorf("%s: %w", original, errNoHexValue)
	}
	if byFullID || byDigest {
		return l.found(l.store(name), original)
	}

	// Short names as registries.conf resolves them (localhost/ first),
	// then docker.io for names that would only be found there before.
	candidates, err := shortnames.ResolveLocally(l.sys, name)
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, storagetypes.ErrImageUnknown)
	}
	if dockerNamed, err := reference.ParseDockerRef(name); err == nil {
		candidates = append(candidates, dockerNamed)
	}
	for _, candidate := range candidates {
		if im := l.store(candidate.String()); im != nil {
			return l.instance(im)
		}
	}

	// Only then an id prefix: a name wins over an id that starts like it.
	if im := l.store(name); im != nil {
		return l.instance(im)
	}
	return l.inDigestsAndRepoTags(name)
}

// found is the image im, looked up by id, or podman's error for name.
func (l lookup) found(im *storageImage, name string) (string, error) {
	if im == nil {
		return "", fmt.Errorf("%s: %w", name, storagetypes.ErrImageUnknown)
	}
	return l.instance(im)
}

// inDigestsAndRepoTags is libimage's last resort: a digested name is any
// image with a manifest of that digest, whatever its repository (as in
// podman 4.3.1; later versions also match the repository); a short name
// with a tag (:latest if none) is an image with that tag whose repository
// ends in /NAME.
func (l lookup) inDigestsAndRepoTags(name string) (string, error) {
	ref, err := reference.Parse(name) // not normalized: "busybox" stays short
	if err != nil {
		return "", err
	}
	named, isNamed := ref.(reference.Named)
	if !isNamed {
		return "", fmt.Errorf("%s: %w", name, storagetypes.ErrImageUnknown)
	}
	if digested, ok := named.(reference.Digested); ok {
		for i := range l.images {
			if hasDigest(&l.images[i], digested.Digest()) {
				return l.instance(&l.images[i])
			}
		}
		return "", fmt.Errorf("%s: %w", name, storagetypes.ErrImageUnknown)
	}
	if !shortnames.IsShortName(name) {
		return "", fmt.Errorf("%s: %w", name, storagetypes.ErrImageUnknown)
	}
	tagged, ok := reference.TagNameOnly(named).(reference.NamedTagged)
	if !ok { // TagNameOnly tags every name that has no digest
		return "", fmt.Errorf("%s: %w", name, storagetypes.ErrImageUnknown)
	}
	for i := range l.images {
		if repoTag, err := inRepoTags(l.images[i].Names, tagged); err != nil {
			return "", err
		} else if repoTag != "" {
			if im := l.store(repoTag); im != nil {
				return l.instance(im)
			}
		}
	}
	return "", fmt.Errorf("%s: %w", name, storagetypes.ErrImageUnknown)
}

// inRepoTags returns the name of names whose tag is tagged's and whose
// repository is tagged's, or ends in "/" and tagged's; or "".
func inRepoTags(names []string, tagged reference.NamedTagged) (string, error) {
	for _, n := range names {
		parsed, err := reference.Parse(n)
		if err != nil {
			return "", fmt.Errorf("image name %q in the store: %w", n, err)
		}
		repoTag, ok := parsed.(reference.NamedTagged)
		if !ok || repoTag.Tag() != tagged.Tag() {
			continue
		}
		repo, want := repoTag.Name(), tagged.Name()
		if repo == want || strings.HasSuffix(repo, "/"+want) {
			return n, nil
		}
	}
	return "", nil
}

// store is containers/storage's Image(key): the image with that id, else
// with that name, else the only image whose id starts with key (none when
// several do); or nil.
func (l lookup) store(key string) *storageImage {
	for i := range l.images {
		if l.images[i].ID == key {
			return &l.images[i]
		}
	}
	for i := range l.images {
		for _, n := range l.images[i].Names {
			if n == key {
				return &l.images[i]
			}
		}
	}
	var match *storageImage
	for i := range l.images {
		if key != "" && strings.HasPrefix(l.images[i].ID, key) {
			if match != nil {
				return nil // ambiguous
			}
			match = &l.images[i]
		}
	}
	return match
}

// instance returns im's id or, when im is a manifest list, the id of the
// image of the list's instance for this machine's platform. An image
// whose manifest cannot be read is taken as it is, as podman does with
// images it calls corrupted.
func (l lookup) instance(im *storageImage) (string, error) {
	blob, err := l.manifest(im.ID)
	if errors.Is(err, os.ErrNotExist) {
		return im.ID, nil
	}
	if err != nil {
		return "", fmt.Errorf("reading the manifest of image %s: %w", im.ID, err)
	}
	mimeType := manifest.GuessMIMEType(blob)
	if !manifest.MIMETypeIsMultiImage(mimeType) {
		return im.ID, nil
	}
	list, err := manifest.ListFromBlob(blob, mimeType)
	if err != nil {
		return "", fmt.Errorf("reading the manifest list of image %s: %w", im.ID, err)
	}
	want, err := list.ChooseInstance(l.sys)
	if err != nil {
		return "", fmt.Errorf("%v: %w", err, storagetypes.ErrImageUnknown)
	}
	for i := range l.images {
		if hasDigest(&l.images[i], want) {
			return l.images[i].ID, nil
		}
	}
	return "", fmt.Errorf("could not find image instance %s of manifest list %s in local containers storage: %w", want, im.ID, storagetypes.ErrImageUnknown)
}

// hasDigest reports whether d is the digest of one of im's manifests
// (libimage's Image.Digests(): the image's digest and those of its
// "manifest*" big data items).
func hasDigest(im *storageImage, d digest.Digest) bool {
	if im.Digest == d {
		return true
	}
	for key, bd := range im.BigDataDigests {
		if strings.HasPrefix(key, manifestBigDataPrefix) && bd == d {
			return true
		}
	}
	return false
}

// stripTagOfDigested is libimage's normalizeTaggedDigestedString: NAME:TAG@DIGEST
// becomes NAME@DIGEST, the tag ignored as Docker does; other names are
// left as they are, and names that are no reference give the parser's
// error, which podman prints as it is.
func stripTagOfDigested(name string) (string, error) {
	ref, err := reference.Parse(name)
	if err != nil {
		return "", err
	}
	named, ok := ref.(reference.Named)
	if !ok {
		return name, nil
	}
	_, tagged := named.(reference.NamedTagged)
	digested, isDigested := named.(reference.Digested)
	if !tagged || !isDigested {
		return named.String(), nil
	}
	stripped, err := reference.WithDigest(reference.TrimNamed(named), digested.Digest())
	if err != nil {
		return "", err
	}
	return stripped.String(), nil
}

// bigDataPath is where containers/storage keeps an image's big data item
// key: in a file of that name when it is made of [.0-9a-z], else "=" and
// the key in base64 (storage's makeBigDataBaseName).
func bigDataPath(imagesDir, imageID, key string) string {
	base := key
	if strings.ContainsFunc(key, func(r rune) bool { return r != '.' && (r < '0' || r > '9') && (r < 'a' || r > 'z') }) {
		base = "=" + base64.StdEncoding.EncodeToString([]byte(key))
	}
	return filepath.Join(imagesDir, imageID, base)
}
