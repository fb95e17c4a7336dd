package tracerd

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/podprof/podprof/bpf"
	"github.com/podprof/podprof/report"
	"github.com/podprof/podprof/tracerd/hook"
)

// RunAnnotation holds the report.RunRecord of how podprof run started the
// container, which the profile keeps: see RunAnnotationValue.
const RunAnnotation = "io.podprof.run"

// RunAnnotationValue is RunAnnotation's value for r: its JSON in base64,
// since podman 4's --annotation splits values at commas.
func RunAnnotationValue(r *report.RunRecord) string {
	data, _ := json.Marshal(r) // strings only: cannot fail
	return base64.StdEncoding.EncodeToString(data)
}

// CheckOutputPath refuses what report.WriteProfile would refuse, before the
// container starts: the path comes from whoever starts the container and
// the hook runs as root.
func CheckOutputPath(path string) error {
	return checkWritable(path, hook.ProfileAnnotation, "profile")
}

// checkWritable refuses a path, named by annotation, that a file written
// when the container ends (what) could not go to.
func checkWritable(path, annotation, what string) error {
	if path == "" {
		return fmt.Errorf("annotation %s is empty: set it to an absolute path for the %s", annotation, what)
	}
	if !filepath.IsAbs(path) {
		return fmt.Errorf("%s path %q is not absolute: set %s to an absolute path", what, path, annotation)
	}
	switch st, err := os.Stat(filepath.Dir(path)); {
	case err != nil:
		return fmt.Errorf("the directory of %s path %q does not exist: create it first", what, path)
	case !st.IsDir():
		return fmt.Errorf("the directory of %s path %q is a file: choose another path", what, path)
	}
	if st, err := os.Lstat(path); err == nil && !st.Mode().IsRegular() {
		return fmt.Errorf("%s path %q exists and is not a regular file: choose another path", what, path)
	}
	// The file is written when the container ends: a directory that
	// takes no new file (read-only file system...) must fail the start,
	// not the write, after the workload ran for nothing.
	probe, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		var pathErr *fs.PathError
		if errors.As(err, &pathErr) {
			err = pathErr.Err
		}
		return fmt.Errorf("can't write %s path %q: its directory takes no new file (%v): choose another path", what, path, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	return nil
}

func profileFiles(files []bpf.File) []report.File {
	out := make([]report.File, len(files))
	for i, f := range files {
		out[i] = report.File{
			Path:      f.Path,
			Exec:      f.Flags&bpf.Exec != 0,
			Read:      f.Flags&bpf.Read != 0,
			Write:     f.Flags&bpf.Write != 0,
			PID:       f.PID,
			Comm:      f.Comm,
			Truncated: f.Flags&bpf.Truncated != 0,
		}
	}
	return out
}

// KernelRelease is uname -r.
func KernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}
