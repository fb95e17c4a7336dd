package main

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/podprof/podprof/imagestore"
	"github.com/podprof/podprof/pkgdb"
	"github.com/podprof/podprof/report"
	"github.com/podprof/podprof/sbom"
)

// ---- 8. packages --------------------------------------------------------------

// PackagesResult is podprof report --packages of one image from one
// profile: what loadPackages and the text table do, phase by phase.
type PackagesResult struct {
	Image        string      `json:"image"`
	ImageID      string      `json:"image_id"`
	Files        int64       `json:"image_files"`
	Bytes        int64       `json:"image_bytes"`
	Packages     int         `json:"packages"`
	PackagePaths int         `json:"package_paths"` // the paths the databases list
	ProfileFiles int         `json:"profile_files"`
	ProfileFrom  string      `json:"profile_from"`
	Phases       []Component `json:"phases"`
	Total        Stats       `json:"total_s"`
	Goal         float64     `json:"goal_s"`
}

// bigPackagesImage is the 1 GiB image's files on the demo image, a dpkg
// database listing them as bigPackages packages more: a package report of
// its size, with a database to join.
const (
	bigPackagesImage = "localhost/podprof-bench/big-debian:1g"
	bigPackages      = bigFiles / bigFilesPerDir // one a directory
)

func (b *bench) benchPackages(ctx context.Context) error {
	graphRoot, driver, err := podmanStore()
	if err != nil {
		return err
	}
	store := imagestore.Store{GraphRoot: graphRoot, Driver: driver}

	// The demo image's profile is a real run's, as the report phase's.
	demoProfile := filepath.Join(b.tmp, "packages-demo.json")
	demoCmd := "cat /etc/os-release; ls -lR /usr/share/doc; dpkg -l; apt-get --version; grep -r root /etc"
	prog, args := b.containerCmd(true, b.name(), demoProfile, nil, demoImage, "/bin/sh", "-c", demoCmd+" >/dev/null 2>&1; true")
	if _, _, err := runTimed(ctx, prog, args...); err != nil {
		return err
	}
	p, err := b.readProfile(demoProfile)
	if err != nil {
		return err
	}
	r, err := b.packagesOne(store, demoImage, demoProfile, "podprof run of: sh -c '"+demoCmd+"'", len(p.Files), 0.5)
	if err != nil {
		return err
	}
	b.res.Packages = append(b.res.Packages, r)

	if !b.cfg.bigImage {
		return nil
	}
	if err := b.ensureBig(ctx, bigPackagesImage, demoImage, func(dir string) ([]string, error) {
		return []string{"dpkg.tar"}, b.writeBigDpkg(store, filepath.Join(dir, "dpkg.tar"))
	}); err != nil {
		return err
	}
	bigProfile, files, err := b.syntheticProfile(graphRoot, driver, bigPackagesImage)
	if err != nil {
		return err
	}
	r, err = b.packagesOne(store, bigPackagesImage, bigProfile, "made up: every 10th regular file of the image", files, 1.5)
	if err != nil {
		return err
	}
	b.res.Packages = append(b.res.Packages, r)
	return nil
}

// writeBigDpkg writes the layer of bigPackagesImage's dpkg database: the
// demo image's status with a package more for each directory of the big
// files, and its info/NAME.list.
func (b *bench) writeBigDpkg(store imagestore.Store, path string) (err error) {
	id, err := imageID(demoImage)
	if err != nil {
		return err
	}
	demo, err := store.OpenImage(id)
	if err != nil {
		return err
	}
	status, err := demo.ReadFile("/var/lib/dpkg/status")
	if err != nil {
		return fmt.Errorf("the dpkg status of %s: %w", demoImage, err)
	}
	var extra strings.Builder
	lists := make(map[string]string, bigPackages)
	for i := 0; i < bigFiles; i += bigFilesPerDir {
		name := fmt.Sprintf("podprof-bench-d%04d", i/bigFilesPerDir)
		fmt.Fprintf(&extra, "\nPackage: %s\nStatus: install ok installed\nArchitecture: all\nVersion: 1.0-1\nDescription: bench files\n", name)
		dir, _ := bigPath(i)
		list := "/" + dir + "\n"
		for j := i; j < i+bigFilesPerDir && j < bigFiles; j++ {
			_, file := bigPath(j)
			list += "/" + file + "\n"
		}
		lists["var/lib/dpkg/info/"+name+".list"] = list
	}
	files := map[string]string{"var/lib/dpkg/status": strings.TrimRight(string(status), "\n") + "\n" + extra.String()}
	for name, list := range lists {
		files[name] = list
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	tw := tar.NewWriter(f)
	mtime := time.Unix(1700000000, 0)
	for name, contents := range files {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(contents)), ModTime: mtime}); err != nil {
			return err
		}
		if _, err := io.WriteString(tw, contents); err != nil {
			return err
		}
	}
	return tw.Close()
}

// packagesOne times podprof report --packages of the profile, as
// cli.loadPackages and the text table do it.
func (b *bench) packagesOne(store imagestore.Store, image, profilePath, from string, profileFiles int, goal float64) (*PackagesResult, error) {
	id, err := imageID(image)
	if err != nil {
		return nil, err
	}
	r := &PackagesResult{Image: image, ImageID: id, ProfileFiles: profileFiles, ProfileFrom: from, Goal: goal}
	b.logf("packages %s: %d x the packages report of a %d-file profile", image, b.cfg.reportReps, profileFiles)
	phases := []string{"ReadProfile", "OpenImage", "Join", "pkgdb.Read", "sbom.New", "WriteText"}
	r.Phases, r.Total, err = timePhases(b.cfg.reportReps, phases, func(mark func()) error {
		profile, err := report.ReadProfile(profilePath)
		if err != nil {
			return err
		}
		mark()
		img, err := store.OpenImage(id)
		if err != nil {
			return err
		}
		mark()
		usage := report.Join(img.Tree, profile)
		mark()
		inv, err := pkgdb.Read(img.Tree, img.ReadFile)
		if err != nil {
			return fmt.Errorf("the package databases of %s: %w", image, err)
		}
		mark()
		packages := sbom.New(usage, inv, []string{profilePath})
		mark()
		if err := packages.WriteText(io.Discard); err != nil {
			return err
		}
		r.Files, r.Bytes, r.Packages, r.PackagePaths = img.Tree.Files, img.Tree.Bytes, len(inv.Packages), 0
		for _, p := range inv.Packages {
			r.PackagePaths += len(p.Files)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	b.logf("packages %s: %s (%d packages listing %d paths; %d files, %s)", image, fmtStat(r.Total, secs), r.Packages, r.PackagePaths, r.Files, report.HumanBytes(r.Bytes))
	return r, nil
}
