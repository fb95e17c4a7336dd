package tracerd

import (
	"encoding/json"
	"fmt"
	"log/syslog"
	"net"
	"os"
	"os/exec"
	"syscall"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/podprof/podprof/report"
	"github.com/podprof/podprof/tracerd/hook"
)

// CollectArg makes `podprof hook` the collector of one rootless
// container's records.
const CollectArg = "--collect"

// HookForUser is the hook under rootless podman (hook.Run's forUser): the
// tracer service watches the container, and a collector process, which
// outlives the hook as the container runs, gets its records over the same
// connection and writes its profiles, as the user.
func HookForUser(state *rspec.State) error {
	// Refused now, as the user, rather than when the container ends.
	if err := CheckOutputPath(state.Annotations[hook.ProfileAnnotation]); err != nil {
		return err
	}
	if err := CheckSeccomp(state.Annotations); err != nil {
		return err
	}
	client, err := hook.DialService(hook.Request{Mode: state.Annotations[hook.TracerAnnotation], Watch: state}, hook.ReadyTimeout)
	if err != nil {
		return err
	}
	defer client.Close() // the collector holds its own copy
	conn, err := client.File()
	if err != nil {
		return err
	}
	defer conn.Close()
	return startCollector(conn, state)
}

// startCollector starts `podprof hook --collect` in its own session, with
// the state on stdin and the service's connection as fd 3.
func startCollector(conn *os.File, state *rspec.State) error {
	self, stateFile, err := hook.PodprofWithState(state)
	if err != nil {
		return err
	}
	defer stateFile.Close()
	cmd := exec.Command(self, "hook", CollectArg)
	cmd.Stdin = stateFile
	cmd.ExtraFiles = []*os.File{conn}
	// Its own session: the runtime waits for the hook, not for it, and no
	// terminal signal reaches it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the profile collector: %w", err)
	}
	return cmd.Process.Release()
}

// Collect is `podprof hook --collect`: it waits for the records of the
// container whose state is on stdin, on the tracer service's connection
// (fd 3), and writes its profiles. Its failures go to the system log,
// since nobody waits for it.
func Collect() int {
	logger, _ := syslog.New(syslog.LOG_USER|syslog.LOG_WARNING, "podprof")
	if err := collect(logger); err != nil {
		if logger != nil {
			logger.Err(err.Error())
		}
		return 1
	}
	return 0
}

func collect(logger *syslog.Writer) error {
	var state rspec.State
	if err := json.NewDecoder(os.Stdin).Decode(&state); err != nil {
		return fmt.Errorf("the collector's container state: %w", err)
	}
	container := report.Printable(state.ID) // for the log: the runtime's word, not checked yet
	conn, err := net.FileConn(os.NewFile(3, "tracer"))
	if err != nil {
		return fmt.Errorf("container %s: the collector's tracer connection: %w", container, err)
	}
	// Closed once the profile is written: the service then answers the
	// Await of podprof run.
	defer conn.Close()
	var msg recordsMessage
	if err := json.NewDecoder(conn).Decode(&msg); err != nil {
		return fmt.Errorf("container %s: reading its records from the podprof tracer service: %w", container, err)
	}
	if msg.Error != "" || msg.Records == nil {
		return fmt.Errorf("container %s: the podprof tracer service sent no records: %s", container, report.Printable(msg.Error))
	}
	syscalls, err := checkSeccomp(state.Annotations)
	if err == nil {
		err = writeProfiles(&state, msg.Records, syscalls, logger)
	}
	if err != nil {
		return fmt.Errorf("container %s: %w", container, err)
	}
	return nil
}
