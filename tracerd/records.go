package tracerd

import (
	"log/syslog"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/podprof/podprof/bpf"
	"github.com/podprof/podprof/imagestore"
	"github.com/podprof/podprof/report"
	"github.com/podprof/podprof/tracerd/hook"
)

// records are what the tracer recorded of one container: what its
// profile is made of. The root tracer writes them itself; the tracer
// service sends them to its client, which writes them as itself.
type records struct {
	Tracer     string        `json:"tracer"`
	Kernel     string        `json:"kernel"`
	Started    time.Time     `json:"started"`
	Ended      time.Time     `json:"ended"`
	LostEvents uint64        `json:"lost_events"`
	Files      []report.File `json:"files"`
	Syscalls   []bpf.Syscall `json:"syscalls,omitempty"`
}

func newRecords(mode bpf.Mode, res bpf.Result, started time.Time) *records {
	return &records{
		Tracer:     string(mode),
		Kernel:     KernelRelease(),
		Started:    started,
		Ended:      time.Now(),
		LostEvents: res.Lost,
		Files:      profileFiles(res.Files),
		Syscalls:   res.Syscalls,
	}
}

// writeProfiles writes the container's profile, and its seccomp profile if
// asked, from what was recorded; nothing if the container's command never
// ran.
func writeProfiles(state *rspec.State, r *records, syscalls *seccompRequest, log *syslog.Writer) error {
	if len(r.Files) == 0 && r.LostEvents == 0 {
		// Even a program that opens nothing is recorded when it is
		// exec'd: the init exited before running the container's command
		// (not found, not executable), which podman reports. A profile
		// would only claim that a workload ran and used nothing.
		return nil
	}
	if err := syscalls.write(r.Syscalls, log); err != nil {
		return err
	}
	container, image := imagestore.ContainerOfBundle(state.Bundle, state.ID)
	return report.WriteProfile(state.Annotations[hook.ProfileAnnotation], &report.Profile{
		Version:    report.ProfileVersion,
		Image:      image,
		Container:  container,
		Tracer:     r.Tracer,
		Kernel:     r.Kernel,
		Started:    r.Started,
		Ended:      r.Ended,
		LostEvents: r.LostEvents,
		Files:      r.Files,
		Run:        runRecord(state.Annotations[RunAnnotation]),
	})
}
