package podmancmd

import (
	"fmt"
	"os"
	"path/filepath"
)

// APIExecutable is the name of the executable that does podprof's
// commands that drive podman through its API, `podprof run` and `podprof
// slim`, installed beside podprof. It links podman's client and its run
// command, whose packages take tens of milliseconds to start and tens of
// megabytes of memory; podprof itself, which the OCI hook and the tracer
// process run, and which every other command goes through, does not.
const APIExecutable = "podprof-podman"

// Self is podprof's own executable, the one users run and the hook
// names, also when the caller is podprof-podman: the tracer process a
// container's hook talks to is the one podprof run holds.
func Self() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding podprof's own executable: %w", err)
	}
	if filepath.Base(exe) == APIExecutable {
		return filepath.Join(filepath.Dir(exe), "podprof"), nil
	}
	return exe, nil
}

// APIPath is podprof-podman, beside podprof.
func APIPath() (string, error) {
	self, err := Self()
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(self), APIExecutable), nil
}

// ExecAPI replaces podprof with podprof-podman, given podprof's arguments
// as they were. It returns only on failure, with podman's error exit code.
func ExecAPI(args []string) int {
	path, err := APIPath()
	return replaceWith(path, err, append([]string{"podprof"}, args...), ": podprof run and slim need it beside podprof (make install puts it there)")
}
