package run

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// findPodman finds the real podman on PATH, skipping podprof itself: podprof
// may be installed as `podman`, and must never run itself in a loop.
func findPodman() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding podprof's own executable: %w", err)
	}
	selfInfo, err := os.Stat(self)
	if err != nil {
		return "", err
	}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if dir == "" {
			dir = "."
		}
		candidate := filepath.Join(dir, "podman")
		st, err := os.Stat(candidate)
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 || os.SameFile(st, selfInfo) {
			continue
		}
		return candidate, nil
	}
	return "", errors.New("podman is not installed (no podman on PATH other than podprof): install podman, e.g. apt-get install podman")
}

// Podman replaces podprof with the real podman, for every command podprof
// does not add to: stdin, the terminal, signals and the exit code are then
// podman's own. It returns only on failure, with podman's error exit code.
func Podman(args []string) int {
	podman, err := findPodman()
	if err == nil {
		err = syscall.Exec(podman, append([]string{"podman"}, args...), os.Environ())
		err = fmt.Errorf("running %s: %w", podman, err)
	}
	fmt.Fprintln(os.Stderr, "Error:", err)
	return 125
}
