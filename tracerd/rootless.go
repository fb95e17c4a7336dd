package tracerd

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/syslog"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podprof/podprof/podmancmd"
	"github.com/podprof/podprof/report"
)

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

// StartServiceHint says how root starts the tracer service.
const StartServiceHint = "have root start it: systemctl start podprof-tracer.socket, or podprof tracer & where there is no systemd (see podprof tracer --help)"

// DialService connects to the tracer service (ServiceSocket) and sends
// req; unlike Dial, it never starts a tracer: an unprivileged client
// can't.
func DialService(req Request, timeout time.Duration) (*Client, error) {
	socket := ServiceSocket()
	conn, err := net.DialTimeout("unix", socket, timeout)
	switch {
	case errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED):
		return nil, fmt.Errorf("no podprof tracer service listens on %s, and tracing without root needs it: %s", socket, StartServiceHint)
	case errors.Is(err, syscall.EACCES):
		return nil, fmt.Errorf("you may not connect to the podprof tracer service on %s (permission denied, on the socket or a directory above it): ask root to add you to the socket's group (podprof tracer --group)", socket)
	case err != nil:
		return nil, fmt.Errorf("connecting to the podprof tracer service on %s: %w", socket, err)
	}
	client, err := converse(conn, req, time.Now().Add(timeout))
	if errors.Is(err, errTracerGone) {
		return nil, fmt.Errorf("the podprof tracer service on %s closed the connection: it is stopping, or %s", socket, StartServiceHint)
	}
	return client, err
}

// CollectArg makes `podprof hook` the collector of one rootless
// container's records.
const CollectArg = "--collect"

// hookForUser is the hook under rootless podman: the tracer service
// watches the container, and a collector process, which outlives the hook
// as the container runs, gets its records over the same connection and
// writes its profiles, as the user.
func hookForUser(state *rspec.State) error {
	// Refused now, as the user, rather than when the container ends.
	if err := CheckOutputPath(state.Annotations[ProfileAnnotation]); err != nil {
		return err
	}
	if err := CheckSeccomp(state.Annotations); err != nil {
		return err
	}
	client, err := DialService(Request{Mode: state.Annotations[TracerAnnotation], Watch: state}, ReadyTimeout)
	if err != nil {
		return err
	}
	defer client.Close() // the collector holds its own copy
	if client.reader.Buffered() > 0 {
		return errors.New("the podprof tracer service sent records before the container started")
	}
	return startCollector(client.conn, state)
}

// startCollector starts `podprof hook --collect` in its own session, with
// the state on stdin and the service's connection as fd 3.
func startCollector(conn net.Conn, state *rspec.State) error {
	self, err := podmancmd.Self()
	if err != nil {
		return err
	}
	connFile, err := conn.(*net.UnixConn).File()
	if err != nil {
		return fmt.Errorf("handing the tracer connection over: %w", err)
	}
	defer connFile.Close()
	// In a memfd, not a pipe: the hook exits before the collector reads.
	stateFile, err := memfdWith("podprof-state", state)
	if err != nil {
		return err
	}
	defer stateFile.Close()
	cmd := exec.Command(self, "hook", CollectArg)
	cmd.Stdin = stateFile
	cmd.ExtraFiles = []*os.File{connFile}
	// Its own session: the runtime waits for the hook, not for it, and no
	// terminal signal reaches it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the profile collector: %w", err)
	}
	return cmd.Process.Release()
}

func memfdWith(name string, v any) (*os.File, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("creating a memfd: %w", err)
	}
	f := os.NewFile(uintptr(fd), name)
	if _, err := f.Write(data); err == nil {
		_, err = f.Seek(0, 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("writing the container state to a memfd: %w", err)
	}
	return f, nil
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
