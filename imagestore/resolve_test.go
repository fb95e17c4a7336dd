package imagestore

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/podprof/podprof/internal/e2e"
	imagetypes "go.podman.io/image/v5/types"
	storagetypes "go.podman.io/storage/types"
)

// testID is a full image id made of one repeated hex digit pair, after
// a distinct prefix.
func testID(prefix string) string {
	return prefix + strings.Repeat("0", 64-len(prefix))
}

func testDigest(c string) digest.Digest {
	return digest.Digest("sha256:" + strings.Repeat(c, 64))
}

// testLookup is a lookup over images with its own registries.conf (one
// unqualified-search registry, quay.io, and an alias) and no user aliases.
func testLookup(t *testing.T, images []storageImage, manifests map[string]string) lookup {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "registries.conf")
	err := os.WriteFile(conf, []byte(`unqualified-search-registries = ["quay.io"]
[aliases]
"aliased" = "example.com/real/thing"
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	sys := &imagetypes.SystemContext{
		SystemRegistriesConfPath:    conf,
		SystemRegistriesConfDirPath: filepath.Join(dir, "registries.conf.d"), // none
		UserShortNameAliasConfPath:  filepath.Join(dir, "shortnames.conf"),   // none
	}
	store := Store{GraphRoot: "/var/lib/containers/storage", Driver: "overlay"}
	return lookup{where: store, images: images, sys: sys, manifest: func(id string) ([]byte, error) {
		if m, ok := manifests[id]; ok {
			return []byte(m), nil
		}
		return nil, fmt.Errorf("manifest of %s: %w", id, os.ErrNotExist)
	}}
}

func TestLookupImage(t *testing.T) {
	var (
		app      = testID("a1")
		appQuay  = testID("a2")
		other    = testID("b1")
		thing    = testID("c1")
		lib      = testID("d1")
		deep     = testID("e1")
		named    = testID("f1")
		abPrefix = testID("ab")
	)
	images := []storageImage{
		{ID: app, Names: []string{"localhost/app:latest", "localhost/app:2"}, Digest: testDigest("1")},
		{ID: appQuay, Names: []string{"quay.io/app:latest"}},
		{ID: other, Names: []string{"quay.io/other:latest", "quay.io/other@" + testDigest("2").String()}},
		{ID: thing, Names: []string{"example.com/real/thing:latest"}},
		{ID: lib, Names: []string{"docker.io/library/lib:latest"}},
		{ID: deep, Names: []string{"registry.example.com/team/ns/deep:v1"},
			BigDataDigests: map[string]digest.Digest{"manifest-" + testDigest("3").String(): testDigest("3"), "sha256:x": testDigest("4")}},
		// An image named like the start of another's id.
		{ID: named, Names: []string{"localhost/ab:latest"}},
		{ID: abPrefix},
	}
	l := testLookup(t, images, nil)
	for _, c := range []struct {
		name, want, err string
	}{
		{name: "localhost/app:latest", want: app},
		{name: "localhost/app", want: app},               // :latest
		{name: "app", want: app},                         // localhost/ before the search registries
		{name: "app:2", want: app},                       // a tag
		{name: "quay.io/app", want: appQuay},             // a full name
		{name: "other", want: other},                     // unqualified-search-registries
		{name: "aliased", want: thing},                   // a short-name alias
		{name: "lib", want: lib},                         // docker.io, last
		{name: "library/lib", want: lib},                 // the same
		{name: "ns/deep:v1", want: deep},                 // a repository's end, by tag
		{name: "deep:v1", want: deep},                    // the same
		{name: "eep:v1", err: "eep:v1: image not known"}, // at a "/" only
		{name: "deep", err: "deep: image not known"},     // :latest
		{name: "other@" + testDigest("2").String(), want: other},
		{name: "other:1@" + testDigest("2").String(), want: other}, // the tag ignored
		// podman 4.3.1 matches a digest whatever the repository, and any
		// manifest digest of the image, not only its own.
		{name: "nosuch@" + testDigest("1").String(), want: app},
		{name: "nosuch@" + testDigest("3").String(), want: deep},
		{name: "nosuch@" + testDigest("4").String(), err: "nosuch@" + testDigest("4").String() + ": image not known"},
		{name: app, want: app},
		{name: "sha256:" + app, want: app},
		{name: "sha256:a1", err: "sha256:a1: invalid format: no 64-byte hexadecimal value"},
		{name: "sha256:" + testID("99"), err: "sha256:" + testID("99") + ": image not known"},
		{name: "b1", want: other},                  // a unique id prefix
		{name: "a", err: "a: image not known"},     // the prefix of several ids
		{name: "ab", want: named},                  // a name before an id prefix
		{name: "abc", err: "abc: image not known"}, // no image
		{name: "nosuch", err: "nosuch: image not known"},
		{name: "Bad/Name", err: "repository name must be lowercase"},
		// The storage transport: names normalized as docker does, ids of 3
		// or more, the store's own specifier.
		{name: "containers-storage:localhost/app", want: app},
		{name: "containers-storage:docker.io/library/lib", want: lib},
		{name: "containers-storage:lib", want: lib},
		{name: "containers-storage:app", err: "image not known"},
		{name: "containers-storage:@" + app, want: app},
		{name: "containers-storage:a10", want: app},
		{name: "containers-storage:a1", err: "image not known"}, // docker.io/library/a1:latest
		{name: "containers-storage:localhost/app@a10", want: app},
		{name: "containers-storage:quay.io/app@a10", want: appQuay},             // the name first
		{name: "containers-storage:quay.io/nosuch@a10", err: "image not known"}, // not of that repository
		{name: "containers-storage:registry.example.com/team/ns/deep@" + testDigest("3").String(), want: deep},
		{name: "containers-storage:quay.io/other@" + testDigest("3").String(), err: "image not known"},
		{name: "containers-storage:[overlay@/var/lib/containers/storage+/run/containers/storage:opt=1]localhost/app", want: app},
		{name: "containers-storage:[/var/lib/containers/storage]localhost/app", want: app},
		{name: "containers-storage:[vfs@/var/lib/containers/storage]localhost/app", err: "containers-storage:[vfs@/var/lib/containers/storage] is not the store podprof reads (overlay@/var/lib/containers/storage): name that store with podman's global flags --root and --storage-driver"},
		{name: "containers-storage:", err: "invalid reference format"},
		{name: "docker://busybox", err: `unsupported transport "docker" for looking up local images`},
		{name: "oci:/tmp/x", err: `unsupported transport "oci" for looking up local images`},
		{name: "", err: "repository name must have at least one component"},
	} {
		got, err := l.image(c.name)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("lookup %q = %q, %v; want error %q", c.name, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("lookup %q = %q, %v; want %q", c.name, got, err, c.want)
		}
	}
	if _, err := l.image("nosuch"); !errors.Is(err, storagetypes.ErrImageUnknown) {
		t.Errorf("an unknown image's error %v is not storage's ErrImageUnknown", err)
	}
}

func TestLookupManifestList(t *testing.T) {
	list, mine, notMine := testID("11"), testID("22"), testID("33")
	mineDigest, notMineDigest := testDigest("5"), testDigest("6")
	other := "arm64"
	if runtime.GOARCH == other {
		other = "s390x"
	}
	manifestList := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%q,"size":1,"platform":{"os":"linux","architecture":%q}},
{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%q,"size":1,"platform":{"os":"linux","architecture":%q}}]}`,
		notMineDigest, other, mineDigest, runtime.GOARCH)
	images := []storageImage{
		{ID: list, Names: []string{"localhost/multi:latest"}},
		{ID: notMine, Digest: notMineDigest},
		{ID: mine, Digest: mineDigest},
	}
	l := testLookup(t, images, map[string]string{list: manifestList, mine: `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}`})
	for _, name := range []string{"multi", list, "11"} {
		if got, err := l.image(name); err != nil || got != mine {
			t.Errorf("lookup %q = %q, %v; want this platform's instance %q", name, got, err, mine)
		}
	}
	l.images = images[:2]
	want := fmt.Sprintf("could not find image instance %s of manifest list %s in local containers storage: image not known", mineDigest, list)
	if _, err := l.image("multi"); err == nil || err.Error() != want {
		t.Errorf("a list without this platform's instance in the store: %v; want %q", err, want)
	}
}

func TestBigDataPath(t *testing.T) {
	for key, want := range map[string]string{
		"manifest":             "/i/ID/manifest",
		"manifest-sha256:abcd": "/i/ID/=bWFuaWZlc3Qtc2hhMjU2OmFiY2Q=",
		"sha256:ab":            "/i/ID/=c2hhMjU2OmFi",
		"v1.2":                 "/i/ID/v1.2",
	} {
		if got := bigDataPath("/i", "ID", key); got != want {
			t.Errorf("bigDataPath(%q) = %q, want %q", key, got, want)
		}
	}
}

// TestResolveImageAsPodman resolves each form of name on the images
// contrib/setup.sh builds, and extra names given here with podman tag,
// and compares with what podman image inspect finds, or its error.
func TestResolveImageAsPodman(t *testing.T) {
	e2e.Require(t, true, "it compares with podman image inspect on podman's store")
	busybox := e2e.Podman(t, "image", "inspect", "--format", "{{.Id}}", "localhost/podprof-test/busybox:latest")
	demo := e2e.Podman(t, "image", "inspect", "--format", "{{.Id}}", "localhost/podprof-demo/debian:bookworm")
	busyboxDigest := e2e.Podman(t, "image", "inspect", "--format", "{{.Digest}}", busybox)

	// localhost/ before docker.io, a name before an id prefix.
	tag := fmt.Sprintf("podprof-resolvetest-%d", time.Now().UnixNano())
	idLike := demo[:6]
	extra := []string{"localhost/" + tag + ":latest", "docker.io/library/" + tag + ":latest", "localhost/" + tag + ":v2"}
	e2e.Podman(t, "tag", demo, extra[0])
	e2e.Podman(t, "tag", busybox, extra[1], extra[2], "localhost/"+idLike)
	t.Cleanup(func() {
		exec.Command("podman", "untag", busybox, extra[1], extra[2], "localhost/"+idLike).Run()
		exec.Command("podman", "untag", demo, extra[0]).Run()
	})

	var ids []string
	for _, id := range strings.Fields(e2e.Podman(t, "images", "--all", "--quiet", "--no-trunc")) {
		ids = append(ids, strings.TrimPrefix(id, "sha256:"))
	}
	ambiguous, unique := ambiguousAndUniquePrefixes(t, ids, busybox)

	store, err := Default(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		"localhost/podprof-demo/debian:bookworm", // full
		"podprof-demo/debian:bookworm",           // short, localhost/
		"podprof-demo/debian",                    // short, :latest, which it lacks
		"podprof-test/busybox",                   // short, :latest
		"localhost/podprof-test/busybox",         // localhost/, :latest
		"busybox",                                // the end of a repository
		tag, tag + ":v2", "docker.io/library/" + tag, "docker.io/" + tag,
		"localhost/podprof-test/busybox@" + busyboxDigest, // digest
		"podprof-test/busybox:latest@" + busyboxDigest,    // tag and digest
		"nosuch@" + busyboxDigest,
		busybox, "sha256:" + busybox, // full ids
		busybox[:12], unique, // id prefixes
		"sha256:" + busybox[:12],
		ambiguous,
		idLike,
		"podprof-nosuch-image", "podprof-nosuch-image:1", "localhost/podprof-nosuch-image",
		"Bad/Name", "a:b:c",
		// Transports: not of the store, or not linked.
		"docker://busybox", "dir:latest", "docker:latest", "oci:latest", "docker-archive:/tmp/x.tar", "atomic:x",
		"containers-storage:localhost/podprof-test/busybox", "containers-storage:podprof-test/busybox",
		"containers-storage:@" + busybox, "containers-storage:" + busybox[:5], "containers-storage:localhost/podprof-test/busybox@" + busybox[:5],
		"containers-storage:localhost/" + tag + "@" + busybox[:5], "containers-storage:[" + store.GraphRoot + "]localhost/podprof-test/busybox",
	} {
		cmd := exec.Command("podman", "image", "inspect", "--format", "{{.Id}}", name)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, podmanErr := cmd.Output()
		want := strings.TrimSpace(string(out))
		if podmanErr != nil {
			want = "error: " + strings.TrimPrefix(strings.TrimSpace(stderr.String()), "Error: inspecting object: ")
		}
		got, err := store.ResolveImage(name)
		if err != nil {
			got = "error: " + err.Error()
		}
		if got != want {
			t.Errorf("%q: podprof resolves %q, podman %q", name, got, want)
		} else {
			t.Logf("%q: %s", name, got)
		}
	}
}

// ambiguousAndUniquePrefixes returns the shortest prefix that several
// ids start with, and the shortest that only id starts with.
func ambiguousAndUniquePrefixes(t *testing.T, ids []string, id string) (ambiguous, unique string) {
	t.Helper()
	ids = slices.Compact(slices.Sorted(slices.Values(ids))) // an image with several names is listed once each
	count := func(prefix string) int {
		n := 0
		for _, other := range ids {
			if strings.HasPrefix(other, prefix) {
				n++
			}
		}
		return n
	}
	for _, other := range ids {
		for n := 1; n < len(other) && (ambiguous == "" || n < len(ambiguous)); n++ {
			if count(other[:n]) > 1 {
				ambiguous = other[:n]
				break
			}
		}
	}
	for n := 1; n <= len(id); n++ {
		if count(id[:n]) == 1 {
			unique = id[:n]
			break
		}
	}
	if ambiguous == "" {
		t.Skip("no two images' ids start alike: no ambiguous prefix to try")
	}
	return ambiguous, unique
}
