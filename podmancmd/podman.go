// Package podmancmd is the installed podman command: where it is, which
// global flags it takes, and handing a command line over to it.
package podmancmd

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
)

// Find finds the real podman on PATH, skipping podprof itself: podprof
// may be installed as `podman`, and must never run itself in a loop.
func Find() (string, error) {
	self, err := Self()
	if err != nil {
		return "", err
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

// Exec replaces podprof with the real podman, for every command podprof
// does not add to: stdin, the terminal, signals and the exit code are then
// podman's own. It returns only on failure, with podman's error exit code.
func Exec(args []string) int {
	podman, err := Find()
	if err == nil {
		err = syscall.Exec(podman, append([]string{"podman"}, args...), os.Environ())
		err = fmt.Errorf("running %s: %w", podman, err)
	}
	fmt.Fprintln(os.Stderr, "Error:", err)
	return 125
}

// SplitGlobalFlags splits `podman [global flags] COMMAND ...` into the
// global flags and the rest. Which global flags take a value is asked of
// the installed podman (its --help), so that 4.x and 5.x, each with its
// own flags, are read as they read themselves; and taken from
// hiddenGlobalFlags for those its --help hides. A flag neither knows is an
// error: what follows it could be its value or the command.
func SplitGlobalFlags(args []string) (global, rest []string, err error) {
	takesValue, err := GlobalFlags()
	if err != nil {
		return nil, nil, err
	}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" || !strings.HasPrefix(arg, "-") || arg == "-" {
			return args[:i], args[i:], nil
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		valued, known := takesValue[name]
		if !known {
			return nil, nil, fmt.Errorf("unknown flag: %s", arg)
		}
		if valued && !hasValue {
			i++ // its value is the next argument
		}
	}
	return args, nil, nil
}

// podmanFlagLine matches a flag line of podman's help: "  -r, --remote",
// "      --root string".
var podmanFlagLine = regexp.MustCompile(`^\s+(?:-(\w), )?--([\w-]+)( \S+)?\s`)

// hiddenGlobalFlags are the global flags podman 4 and 5 take but hide from
// --help (cmd/podman/root.go), and whether each takes a value. A version
// that lacks one refuses it itself.
var hiddenGlobalFlags = map[string]bool{
	"config": true, "context": true, "cpu-profile": true, "db-backend": true,
	"default-mounts-file": true, "host": true, "H": true, "max-workers": true,
	"memory-profile": true, "network-backend": true, "pull-option": true,
	"registries-conf": true,
	"debug":           false, "D": false, "noout": false, "trace": false,
}

// GlobalFlags maps each global flag name (long and short) of the installed
// podman to whether it takes a value.
func GlobalFlags() (map[string]bool, error) {
	podman, err := Find()
	if err != nil {
		return nil, err
	}
	help, err := exec.Command(podman, "--help").Output()
	if err != nil {
		return nil, fmt.Errorf("asking %s for its global flags: %w", podman, err)
	}
	flags := maps.Clone(hiddenGlobalFlags)
	for _, line := range strings.Split(string(help), "\n") {
		m := podmanFlagLine.FindStringSubmatch(line + " ")
		if m == nil {
			continue
		}
		flags[m[2]] = m[3] != ""
		if m[1] != "" {
			flags[m[1]] = m[3] != ""
		}
	}
	return flags, nil
}
