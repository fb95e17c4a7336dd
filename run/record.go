package run

import (
	"strings"

	"github.com/spf13/pflag"

	"github.com/podprof/podprof/report"
)

// notReplayed are the run options a RunRecord leaves out: a second run of
// the container could not, or must not, do them again (a name in use, the
// first run's terminal, descriptors and files it was handed), or they only
// change how podman waits for it.
var notReplayed = map[string]bool{
	"name": true, "replace": true, "rm": true, "detach": true, "detach-keys": true,
	"tty": true, "interactive": true, "attach": true, "sig-proxy": true,
	"cidfile": true, "pidfile": true, "conmon-pidfile": true,
	"preserve-fds": true, "preserve-fd": true, "restart": true,
}

// recordRun is how the user ran the container, from run's parsed flags
// (podprof's own and podman's global flags left out) and its positional
// arguments, IMAGE [COMMAND...].
func recordRun(flags *pflag.FlagSet, positional []string) *report.RunRecord {
	r := &report.RunRecord{Image: positional[0], Options: []string{}, Command: append([]string{}, positional[1:]...)}
	flags.Visit(func(f *pflag.Flag) {
		// Hidden: podman's global flags written after run, which
		// acceptGlobalFlags defines there.
		if f.Hidden || notReplayed[f.Name] || strings.HasPrefix(f.Name, "podprof-") {
			return
		}
		values := []string{f.Value.String()}
		if slice, ok := f.Value.(pflag.SliceValue); ok {
			values = slice.GetSlice()
		}
		for _, v := range values {
			r.Options = append(r.Options, "--"+f.Name+"="+v)
		}
	})
	return r
}
