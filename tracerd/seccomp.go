package tracerd

import (
	"fmt"
	"log/syslog"
	"path/filepath"

	podman "go.podman.io/common/pkg/seccomp"

	"github.com/podprof/podprof/bpf"
	"github.com/podprof/podprof/report"
	"github.com/podprof/podprof/seccomp"
)

// SeccompAnnotation asks the tracer to record the container's system calls
// and write a seccomp profile of them to this absolute path when the
// container ends, beside its profile.
const SeccompAnnotation = "io.podprof.seccomp"

// SeccompBaseAnnotation names an existing seccomp profile (absolute path)
// that the written one starts from: it allows what that one allows too.
const SeccompBaseAnnotation = "io.podprof.seccomp-base"

// seccompRequest is what a container's annotations ask of syscall
// recording, checked before the container starts.
type seccompRequest struct {
	path string
	base *podman.Seccomp // nil: start from nothing
}

// checkSeccomp refuses, before the container starts, a seccomp request the
// tracer could not honour when it ends. It returns nil when none is made.
func checkSeccomp(annotations map[string]string) (*seccompRequest, error) {
	path, ok := annotations[SeccompAnnotation]
	basePath, hasBase := annotations[SeccompBaseAnnotation]
	if !ok {
		if hasBase {
			return nil, fmt.Errorf("annotation %s is set without %s: set both", SeccompBaseAnnotation, SeccompAnnotation)
		}
		return nil, nil
	}
	if err := checkWritable(path, SeccompAnnotation, "seccomp profile"); err != nil {
		return nil, err
	}
	req := &seccompRequest{path: path}
	if hasBase {
		var err error
		if req.base, err = ReadSeccompBase(basePath); err != nil {
			return nil, err
		}
	}
	return req, nil
}

// ReadSeccompBase reads the profile a seccomp profile starts from.
func ReadSeccompBase(path string) (*podman.Seccomp, error) {
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("base seccomp profile path %s is not absolute: give an absolute path", report.Printable(path))
	}
	return seccomp.Read(path)
}

// options are the bpf.Watch options of the request.
func (r *seccompRequest) options() []bpf.WatchOption {
	if r == nil {
		return nil
	}
	return []bpf.WatchOption{bpf.RecordSyscalls}
}

// write writes the seccomp profile of the recorded calls; calls libseccomp
// can't name go to the log, as no profile can allow them.
func (r *seccompRequest) write(calls []bpf.Syscall, log *syslog.Writer) error {
	if r == nil {
		return nil
	}
	profile, unnamed := seccomp.FromSyscalls(calls)
	if r.base != nil {
		profile = seccomp.Merge(r.base, profile)
	}
	if len(unnamed) > 0 && log != nil {
		log.Warning(fmt.Sprintf("seccomp profile %s: system calls unknown to libseccomp, not allowed: %v", r.path, unnamed))
	}
	return seccomp.Write(r.path, profile)
}

// CheckSeccomp is checkSeccomp for podprof run, which refuses a bad request
// before it creates the container.
func CheckSeccomp(annotations map[string]string) error {
	_, err := checkSeccomp(annotations)
	return err
}
