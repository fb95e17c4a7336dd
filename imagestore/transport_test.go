package imagestore

import (
	"strings"
	"testing"
)

func TestTransportOf(t *testing.T) {
	for name, want := range map[string]string{
		"docker-archive:/tmp/x.tar":           "docker-archive",
		"docker-archive:/tmp/x.tar:app:1":     "docker-archive",
		"oci-archive:/tmp/x.tar":              "oci-archive",
		"oci:/tmp/dir:ref":                    "oci",
		"oci:latest":                          "oci", // an oci layout in ./latest, as c/image parses it
		"dir:latest":                          "dir",
		"docker://busybox":                    "docker",
		"containers-storage:[overlay@/x]name": "containers-storage",
		"docker:latest":                       "", // the image docker:latest
		"busybox":                             "",
		"localhost:5000/app":                  "",
		"app:1":                               "",
		"sha256:" + strings.Repeat("a", 64):   "",
	} {
		if got := transportOf(name); got != want {
			t.Errorf("transportOf(%q) = %q, want %q", name, got, want)
		}
	}
	for name, want := range map[string]bool{"oci:/x": true, "docker-archive:x.tar": true, "docker://busybox": false, "dir:/x": false, "busybox": false} {
		if got := IsArchive(name); got != want {
			t.Errorf("IsArchive(%q) = %v, want %v", name, got, want)
		}
	}
}
