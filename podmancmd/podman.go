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
	"sync"
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
	return replaceWith(podman, err, append([]string{"podman"}, args...), "")
}

// replaceWith execs the program at path, found unless err, with argv. It
// returns only on failure, with podman's error exit code, after saying
// why and, if there is one, what to do.
func replaceWith(path string, err error, argv []string, hint string) int {
	if err == nil {
		err = fmt.Errorf("running %s: %w%s", path, syscall.Exec(path, argv, os.Environ()), hint)
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
//
// The global flags come back one an element, --LONG-NAME or
// --LONG-NAME=VALUE, as every reader of them (GlobalValue) and podman take
// them.
func SplitGlobalFlags(args []string) (global, rest []string, err error) {
	known, err := GlobalFlags()
	if err != nil {
		return nil, nil, err
	}
	return splitGlobalFlags(args, known)
}

func splitGlobalFlags(args []string, known map[string]GlobalFlag) (global, rest []string, err error) {
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" || !strings.HasPrefix(arg, "-") || arg == "-" {
			return global, args[i:], nil
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		flag, ok := known[name]
		if !ok {
			return nil, nil, fmt.Errorf("unknown flag: %s", arg)
		}
		if flag.takesValue && !hasValue && i+1 < len(args) {
			i++ // its value is the next argument
			value, hasValue = args[i], true
		}
		if hasValue {
			global = append(global, "--"+flag.name+"="+value)
		} else {
			global = append(global, "--"+flag.name)
		}
	}
	return global, nil, nil
}

// GlobalValue is the value of the global flag name (long, without dashes)
// in global flags as SplitGlobalFlags gives them: the last one given, "" for
// one given without a value.
func GlobalValue(global []string, name string) (value string, given bool) {
	for _, arg := range global {
		if n, v, _ := strings.Cut(arg, "="); n == "--"+name {
			value, given = v, true
		}
	}
	return value, given
}

// podmanFlagLine matches a flag line of podman's help: "  -r, --remote",
// "      --root string". Compiled on first use: podprof-hook, which a
// container's start waits for, links this package and reads no help.
var podmanFlagLine = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^\s+(?:-(\w), )?--([\w-]+)( \S+)?\s`)
})

// A GlobalFlag is one of podman's global flags.
type GlobalFlag struct {
	name       string // long
	takesValue bool
}

// hiddenGlobalFlags are the global flags podman 4 and 5 take but hide from
// --help (cmd/podman/root.go), by long and short name. A version that
// lacks one refuses it itself.
var hiddenGlobalFlags = func() map[string]GlobalFlag {
	flags := make(map[string]GlobalFlag)
	for name, takesValue := range map[string]bool{
		"config": true, "context": true, "cpu-profile": true, "db-backend": true,
		"default-mounts-file": true, "host": true, "max-workers": true,
		"memory-profile": true, "network-backend": true, "pull-option": true,
		"registries-conf": true,
		"debug":           false, "noout": false, "trace": false,
	} {
		flags[name] = GlobalFlag{name, takesValue}
	}
	flags["H"], flags["D"] = flags["host"], flags["debug"]
	return flags
}()

// GlobalFlags are the installed podman's global flags, by long and short
// name.
func GlobalFlags() (map[string]GlobalFlag, error) {
	podman, err := Find()
	if err != nil {
		return nil, err
	}
	help, err := exec.Command(podman, "--help").Output()
	if err != nil {
		return nil, fmt.Errorf("asking %s for its global flags: %w", podman, err)
	}
	return helpGlobalFlags(string(help)), nil
}

// helpGlobalFlags are the flags podman's --help lists, and the hidden ones.
func helpGlobalFlags(help string) map[string]GlobalFlag {
	flags := maps.Clone(hiddenGlobalFlags)
	for _, line := range strings.Split(help, "\n") {
		m := podmanFlagLine().FindStringSubmatch(line + " ")
		if m == nil {
			continue
		}
		flag := GlobalFlag{name: m[2], takesValue: m[3] != ""}
		flags[flag.name] = flag
		if m[1] != "" {
			flags[m[1]] = flag
		}
	}
	return flags
}

// TakesValue says whether the flag takes a value.
func (f GlobalFlag) TakesValue() bool { return f.takesValue }
