package run

import (
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/podprof/podprof/tracerd"
)

// seccompOptions ask the tracer for a seccomp profile of the container's
// system calls.
type seccompOptions struct {
	path string // where to write it; "" none
	base string // an existing profile it starts from
}

func (o *seccompOptions) define(flags *pflag.FlagSet) {
	flags.StringVar(&o.path, "podprof-seccomp", os.Getenv("PODPROF_SECCOMP"),
		"also record the container's system calls and write a seccomp profile of them to `PATH` (for --security-opt seccomp=PATH)")
	flags.StringVar(&o.base, "podprof-seccomp-base", os.Getenv("PODPROF_SECCOMP_BASE"),
		"the seccomp profile written starts from this one (`FILE`): it allows what FILE allows too")
}

// annotations are the hook's annotations for the request, refused here,
// before the container is created, if the tracer would refuse them.
func (o *seccompOptions) annotations() ([]string, error) {
	if o.path == "" && o.base == "" {
		return nil, nil
	}
	byName := map[string]string{}
	var err error
	if o.path != "" {
		if byName[tracerd.SeccompAnnotation], err = filepath.Abs(o.path); err != nil {
			return nil, err
		}
	}
	if o.base != "" {
		if byName[tracerd.SeccompBaseAnnotation], err = filepath.Abs(o.base); err != nil {
			return nil, err
		}
	}
	if err := tracerd.CheckSeccomp(byName); err != nil {
		return nil, err
	}
	var list []string
	for _, name := range []string{tracerd.SeccompAnnotation, tracerd.SeccompBaseAnnotation} {
		if value, ok := byName[name]; ok {
			list = append(list, name+"="+value)
		}
	}
	return list, nil
}
