package run

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/pflag"
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

// SplitGlobalFlags splits `podman [global flags] COMMAND ...` into the
// global flags and the rest. Which global flags take a value is asked of
// the installed podman (its --help), so that 4.x and 5.x, each with its
// own flags, are read as they read themselves.
func SplitGlobalFlags(args []string) (global, rest []string, err error) {
	takesValue, err := podmanGlobalFlags()
	if err != nil {
		return nil, nil, err
	}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" || !strings.HasPrefix(arg, "-") || arg == "-" {
			return args[:i], args[i:], nil
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		if takesValue[name] && !hasValue {
			i++ // its value is the next argument
		}
	}
	return args, nil, nil
}

// podmanFlagLine matches a flag line of podman's help: "  -r, --remote",
// "      --root string".
var podmanFlagLine = regexp.MustCompile(`^\s+(?:-(\w), )?--([\w-]+)( \S+)?\s`)

// podmanGlobalFlags maps each global flag name (long and short) to whether
// it takes a value.
func podmanGlobalFlags() (map[string]bool, error) {
	podman, err := findPodman()
	if err != nil {
		return nil, err
	}
	help, err := exec.Command(podman, "--help").Output()
	if err != nil {
		return nil, fmt.Errorf("asking %s for its global flags: %w", podman, err)
	}
	flags := make(map[string]bool)
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

// acceptGlobalFlags lets podman's global flags be written after `run` too,
// as podman takes them (`podman run --runtime X ...`): they are defined on
// run's flags, hidden, and the function returned gives those set, for
// the service. The installed podman is asked which they are only when args
// hold a flag that run does not know.
func acceptGlobalFlags(flags *pflag.FlagSet, args []string) func() []string {
	none := func() []string { return nil }
	if !hasUnknownFlag(flags, args) {
		return none
	}
	global, err := podmanGlobalFlags()
	if err != nil {
		return none // run's parser then says which flag it does not know
	}
	var added []string
	for _, name := range slices.Sorted(maps.Keys(global)) {
		if len(name) == 1 || flags.Lookup(name) != nil {
			continue // short ones would clash with run's (-c is --cpu-shares)
		}
		if global[name] {
			flags.StringArray(name, nil, "")
		} else {
			flags.Bool(name, false, "")
		}
		flags.MarkHidden(name)
		added = append(added, name)
	}
	return func() []string {
		var set []string
		for _, name := range added {
			flag := flags.Lookup(name)
			if !flag.Changed {
				continue
			}
			if values, ok := flag.Value.(pflag.SliceValue); ok {
				for _, v := range values.GetSlice() {
					set = append(set, "--"+name+"="+v)
				}
			} else {
				set = append(set, "--"+name+"="+flag.Value.String())
			}
		}
		return set
	}
}

// hasUnknownFlag says whether a long flag that flags does not define comes
// before the first positional argument of args, read as pflag reads them.
func hasUnknownFlag(flags *pflag.FlagSet, args []string) bool {
	takesValue := func(f *pflag.Flag) bool { return f.NoOptDefVal == "" }
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "--" || arg == "-" || !strings.HasPrefix(arg, "-"):
			return false // the image: what follows is the container's
		case strings.HasPrefix(arg, "--"):
			name, _, hasValue := strings.Cut(arg[2:], "=")
			f := flags.Lookup(name)
			if f == nil {
				return true
			}
			if takesValue(f) && !hasValue {
				i++
			}
		default: // -it, -v X, -vX, -e=X
			for j := 1; j < len(arg); j++ {
				f := flags.ShorthandLookup(arg[j : j+1])
				if f == nil {
					return false // pflag says which
				}
				if takesValue(f) {
					if j == len(arg)-1 {
						i++
					}
					break
				}
			}
		}
	}
	return false
}
