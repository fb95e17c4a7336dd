// Command podprof-hook is podprof's OCI prestart hook (package hook), the
// executable podman's hooks dir names (contrib/hooks.d, podprof run's
// hooks dir): a container's start waits for it, so it links the hook
// alone. Under rootless podman it hands over to `podprof hook`, which
// checks the container's annotations as the user and starts the collector
// of its profile, for which podprof's profile writer is needed anyway.
package main

import (
	"fmt"
	"os"
	"syscall"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podprof/podprof/tracerd/hook"
)

func main() {
	os.Exit(hook.Main(os.Args[1:], handOver))
}

// handOver replaces this process with `podprof hook`, the state on its
// stdin.
func handOver(state *rspec.State) error {
	self, stateFile, err := hook.PodprofWithState(state)
	if err != nil {
		return err
	}
	defer stateFile.Close()
	if err := unix.Dup2(int(stateFile.Fd()), 0); err != nil {
		return fmt.Errorf("handing the container state over: %w", err)
	}
	err = syscall.Exec(self, []string{"podprof", "hook"}, os.Environ())
	return fmt.Errorf("running %s: %w", self, err)
}
