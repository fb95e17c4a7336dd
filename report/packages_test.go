package report

import (
	"slices"
	"testing"
)

// TestPackagesAddUp joins usageImage's files with packages that list
// them the ways package databases do, and checks each package's share and
// that packages and unowned files add up to the image's used and unused
// bytes exactly.
func TestPackagesAddUp(t *testing.T) {
	u := Join(usageImage(t), usageProfile())
	pkgs := []PackageFiles{
		// dash through the /bin link, as dpkg lists merged-/usr files;
		// its own link sh; the directory /usr/bin weighs nothing.
		{Name: "dash", Paths: []string{"/.", "/usr", "/usr/bin", "/bin/dash", "/usr/bin/sh"}},
		// libc.so, a link to it, and a file a later layer deleted.
		{Name: "libc", Paths: []string{"/usr/lib/libc.so", "/usr/lib/libc.so.6", "/usr/lib/gone.so"}},
		// documentation nobody read, and dash again: counted for dash.
		{Name: "doc", Paths: []string{"/usr/share/doc", "/usr/share/doc/a", "/usr/share/doc/b", "/usr/bin/dash"}},
		// both names of one hard-linked file: one file.
		{Name: "hard", Paths: []string{"/etc/hard1", "/opt/hard2"}},
		// a package whose files are all gone.
		{Name: "removed", Paths: []string{"/usr/share/removed/x", "/usr/share/removed"}},
	}
	pu := u.Packages(pkgs)
	want := []PackageUsage{
		{Total: Counts{Bytes: 100, Files: 2}, Used: Counts{Bytes: 100, Files: 2}, UsedPaths: []string{"/usr/bin/dash", "/usr/bin/sh"}},
		{Total: Counts{Bytes: 1000, Files: 2}, Used: Counts{Bytes: 1000, Files: 2}, Missing: 1, UsedPaths: []string{"/usr/lib/libc.so", "/usr/lib/libc.so.6"}},
		{Total: Counts{Bytes: 800, Files: 2}},
		{Total: Counts{Bytes: 50, Files: 1}, Used: Counts{Bytes: 50, Files: 1}, UsedPaths: []string{"/etc/hard1"}},
		{Missing: 2},
	}
	for i := range want {
		got := pu.Packages[i]
		if got.Total != want[i].Total || got.Used != want[i].Used || got.Missing != want[i].Missing || !slices.Equal(got.UsedPaths, want[i].UsedPaths) {
			t.Errorf("package %s: %+v, want %+v", pkgs[i].Name, got, want[i])
		}
	}
	// The rest: man/m, var/cache/x, srv/big and the links stale, dangling,
	// bin, lib64, a/l, b, srv/link (the last five used).
	if want := (Counts{Bytes: 2210, Files: 10}); pu.Unowned != want {
		t.Errorf("unowned %+v, want %+v", pu.Unowned, want)
	}
	if want := (Counts{Files: 5}); pu.UnownedUsed != want {
		t.Errorf("unowned used %+v, want %+v", pu.UnownedUsed, want)
	}
	total, used := pu.Unowned, pu.UnownedUsed
	for _, p := range pu.Packages {
		total.Bytes += p.Total.Bytes
		total.Files += p.Total.Files
		used.Bytes += p.Used.Bytes
		used.Files += p.Used.Files
	}
	if total != u.Total() || used != u.Used {
		t.Errorf("packages and unowned add up to %+v total, %+v used; the image has %+v, %+v", total, used, u.Total(), u.Used)
	}
}

// TestPackagesNone: an image without packages is all unowned.
func TestPackagesNone(t *testing.T) {
	u := Join(usageImage(t), usageProfile())
	pu := u.Packages(nil)
	if pu.Unowned != u.Total() || pu.UnownedUsed != u.Used || len(pu.Packages) != 0 {
		t.Errorf("no packages: %+v", pu)
	}
}
