package run

import (
	"maps"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/podprof/podprof/podmancmd"
)

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
	global, err := podmancmd.GlobalFlags()
	if err != nil {
		return none // run's parser then says which flag it does not know
	}
	var added []string
	for _, name := range slices.Sorted(maps.Keys(global)) {
		if len(name) == 1 || flags.Lookup(name) != nil {
			continue // short ones would clash with run's (-c is --cpu-shares)
		}
		if global[name].TakesValue() {
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
