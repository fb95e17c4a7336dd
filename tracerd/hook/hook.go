// Package hook is podprof's OCI prestart hook and the client side of the
// tracer process's protocol. A container's start waits for the hook, so
// this package links little: the standard library, x/sys, the runtime
// spec and podmancmd; never the tracer itself (package tracerd, which
// imports this one) nor podprof's image and profile readers, whose
// package initialisation alone took twice the time the hook may. The
// podprof-hook executable is built of it.
package hook

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podprof/podprof/podmancmd"
)

// ProfileAnnotation names where a container's profile is written. Any
// container that carries it is traced by the hook.
const ProfileAnnotation = "io.podprof.profile"

// TracerAnnotation forces a tracer mode for one container.
const TracerAnnotation = "io.podprof.tracer"

// ReadyTimeout bounds how long a container start waits for tracing to be
// live: past it the start fails rather than run untraced.
const ReadyTimeout = 20 * time.Second

// Main is the hook's command, podprof-hook and `podprof hook`, given its
// arguments: none, the state on stdin. Its errors are the runtime's to
// log: one line, exit status 1.
func Main(args []string, forUser func(*rspec.State) error) int {
	err := fmt.Errorf("unexpected arguments %q: the hook reads the OCI state on stdin and takes no arguments", args)
	if len(args) == 0 {
		err = Run(os.Stdin, forUser)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "podprof hook:", err)
		return 1
	}
	return 0
}

// Run is the OCI prestart hook. The runtime gives it the container's
// state on stdin, with no PATH in the environment. It returns once the
// tracer process watches the container and will write its profile when
// the container's init exits, or the reason it can't, which fails the
// container's start. Under rootless podman (not Privileged) it leaves the
// container to forUser.
func Run(stdin io.Reader, forUser func(*rspec.State) error) error {
	var state rspec.State
	if err := json.NewDecoder(stdin).Decode(&state); err != nil {
		return fmt.Errorf("the container state on stdin is not OCI state JSON: %w", err)
	}
	if !Privileged() {
		return forUser(&state)
	}
	client, err := Dial(Request{Mode: state.Annotations[TracerAnnotation], Watch: &state}, ReadyTimeout)
	if err != nil {
		return err
	}
	return client.Close()
}

// Privileged says whether this process can load the tracer itself: root
// in the host's user namespace. Rootless podman runs its hooks as "root"
// of the user's namespace, which is not.
func Privileged() bool {
	if os.Geteuid() != 0 {
		return false
	}
	data, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	return strings.Join(strings.Fields(string(data)), " ") == "0 0 4294967295"
}

// PodprofWithState is podprof's executable (podmancmd.Self), and the
// state in a memfd, at its start, for the stdin of a podprof process that
// reads it once this one has exited, which a pipe would not outlive.
func PodprofWithState(state *rspec.State) (podprof string, stateFile *os.File, err error) {
	if podprof, err = podmancmd.Self(); err != nil {
		return "", nil, err
	}
	data, err := json.Marshal(state)
	if err != nil {
		return "", nil, err
	}
	fd, err := unix.MemfdCreate("podprof-state", unix.MFD_CLOEXEC)
	if err != nil {
		return "", nil, fmt.Errorf("creating a memfd: %w", err)
	}
	f := os.NewFile(uintptr(fd), "podprof-state")
	if _, err := f.Write(data); err == nil {
		_, err = f.Seek(0, 0)
	}
	if err != nil {
		f.Close()
		return "", nil, fmt.Errorf("writing the container state to a memfd: %w", err)
	}
	return podprof, f, nil
}
