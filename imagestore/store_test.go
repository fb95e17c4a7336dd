package imagestore

import (
	"cmp"
	"testing"

	"go.podman.io/storage/types"
)

func TestDefault(t *testing.T) {
	// containers/storage reads storage.conf once a process, so the
	// defaults are whatever this machine has.
	defaults, err := types.DefaultStoreOptions()
	if err != nil {
		t.Fatal(err)
	}
	defaultDriver := cmp.Or(defaults.GraphDriverName, "overlay")
	for _, c := range []struct {
		flags        []string
		root, driver string
	}{
		{nil, defaults.GraphRoot, defaultDriver},
		{[]string{"--log-level=debug", "--root=/a", "--storage-driver=vfs"}, "/a", "vfs"},
		{[]string{"--root=/b", "--storage-driver=btrfs", "--root=/c"}, "/c", "btrfs"},
		{[]string{"--runroot=/run/x"}, defaults.GraphRoot, defaultDriver},
	} {
		s, err := Default(c.flags)
		if err != nil || s.GraphRoot != c.root || s.Driver != c.driver {
			t.Errorf("Default(%q) = %+v, %v; want %q, %q", c.flags, s, err, c.root, c.driver)
		}
	}
}
