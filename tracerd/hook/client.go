package hook

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/podprof/podprof/podmancmd"
)

// TracerDir holds the tracers' sockets and locks; root only.
const TracerDir = "/run/podprof"

// Each podprof executable has a tracer of its own: a client must never
// talk to a tracer of another build (an upgrade while containers are
// traced, two installs), whose protocol or BPF programs may differ.
var tracerSocket, tracerLock = tracerPaths()

func tracerPaths() (socket, lock string) {
	self, _ := podmancmd.Self() // "" if unknown: a build of its own
	return TracerFiles(self)
}

// TracerFiles are the socket and the lock file of the tracer of the
// podprof executable at path.
func TracerFiles(path string) (socket, lock string) {
	id := "unknown"
	if build, err := podmancmd.BuildID(path); err == nil {
		id = build
	}
	return filepath.Join(TracerDir, "tracer-"+id+".sock"), filepath.Join(TracerDir, "tracer-"+id+".lock")
}

// OwnTracerFiles are TracerFiles of this podprof.
func OwnTracerFiles() (socket, lock string) { return tracerSocket, tracerLock }

// DaemonArg makes `podprof hook` the tracer process.
const DaemonArg = "--daemon"

// Request is one line a client sends. Watch starts tracing a
// container; Hold keeps the tracer loaded while the connection is open,
// so that `podprof run` pays the load before the container starts; Await
// is answered once no traced container's profile goes to that path any
// more: its profile is written, or will never be.
type Request struct {
	Mode  string       `json:"mode,omitempty"` // the mode the client needs; "" any
	Watch *rspec.State `json:"watch,omitempty"`
	Hold  bool         `json:"hold,omitempty"`
	Await string       `json:"await,omitempty"`
}

// Reply is the line the tracer answers a Request with.
type Reply struct {
	Mode  string `json:"mode,omitempty"`
	Error string `json:"error,omitempty"`
}

// Client is a connection to the tracer process or service, answered.
type Client struct {
	conn   net.Conn
	reader *bufio.Reader // what the tracer sent after its reply
}

// Dial connects to the tracer process, starting it if none runs, and
// sends req. It returns once the tracer answered, or fails within timeout.
func Dial(req Request, timeout time.Duration) (*Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	for delay := time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		conn, err := net.Dial("unix", tracerSocket)
		if err == nil {
			c, err := converse(conn, req, deadline)
			if err == nil || !errors.Is(err, errTracerGone) {
				return c, err
			}
		} else {
			// No tracer, or one shutting down: start one. Several may
			// race; the lock lets exactly one serve.
			err := spawnTracer(ctx, req.Mode)
			if errors.Is(err, context.DeadlineExceeded) {
				return nil, fmt.Errorf("the podprof tracer did not start within %s", timeout)
			}
			if err != nil {
				return nil, err
			}
			continue
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the podprof tracer did not answer within %s", timeout)
		}
		time.Sleep(delay)
	}
}

// errTracerGone means the tracer closed the connection without a word: it
// was exiting when we connected.
var errTracerGone = errors.New("the tracer closed the connection")

func converse(conn net.Conn, req Request, deadline time.Time) (*Client, error) {
	conn.SetDeadline(deadline)
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		conn.Close()
		return nil, errTracerGone
	}
	reader := bufio.NewReader(conn)
	line, err := reader.ReadBytes('\n')
	if err != nil {
		conn.Close()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, errors.New("the podprof tracer did not answer in time")
		}
		return nil, errTracerGone
	}
	var reply Reply
	if err := json.Unmarshal(line, &reply); err != nil {
		conn.Close()
		return nil, fmt.Errorf("unexpected answer from the podprof tracer: %q", line)
	}
	if reply.Error != "" {
		conn.Close()
		return nil, errors.New(reply.Error)
	}
	conn.SetDeadline(time.Time{})
	return &Client{conn: conn, reader: reader}, nil
}

func (c *Client) Close() error { return c.conn.Close() }

// File is the connection as a file, for a process of its own that reads
// what the tracer sends after its reply; the client still holds it until
// Close.
func (c *Client) File() (*os.File, error) {
	if c.reader.Buffered() > 0 {
		return nil, errors.New("the podprof tracer sent more than its answer before the container started")
	}
	f, err := c.conn.(*net.UnixConn).File()
	if err != nil {
		return nil, fmt.Errorf("handing the tracer connection over: %w", err)
	}
	return f, nil
}

// spawnTracer starts the tracer process in its own session and returns
// once it serves, or with the reason it can't (BPF not loadable...). A
// tracer that finds another one serving exits without a word.
func spawnTracer(ctx context.Context, mode string) error {
	self, err := podmancmd.Self()
	if err != nil {
		return err
	}
	// It outlives whoever started it (a hook, which the runtime waits for;
	// podprof run).
	line, err := podmancmd.StartDetached(ctx, exec.Command(self, "hook", DaemonArg, mode))
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return err
	case err != nil:
		return fmt.Errorf("starting the podprof tracer: %w", err)
	case line == "" || line == "ok":
		return nil // serving, or another tracer is
	}
	return errors.New(line)
}

// ServiceSocketEnv names the environment variable that points clients and
// the service at another socket than DefaultServiceSocket.
const ServiceSocketEnv = "PODPROF_TRACER_SOCKET"

// DefaultServiceSocket is the tracer service's socket (contrib/systemd's
// podprof-tracer.socket).
const DefaultServiceSocket = "/run/podprof-tracer.sock"

// ServiceSocket is the socket clients look for the tracer service on.
func ServiceSocket() string {
	if path := os.Getenv(ServiceSocketEnv); path != "" {
		return path
	}
	return DefaultServiceSocket
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
