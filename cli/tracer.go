package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/podprof/podprof/tracerd"
)

const tracerHelp = `Usage: podprof tracer [--socket PATH] [--group NAME] [--mode OCTAL] [--tracer MODE] [limits]

The tracer service, run by root for good, so that users without root can
profile their rootless podman containers (podprof run, or the OCI hook with
the io.podprof.profile annotation). A user may watch only the containers of
its own rootless podman (their user namespace is the user's, their processes
run as the user or one of its subordinate uids in /etc/subuid); it gets the
records and writes the profile itself. Root's containers need no service.

Under systemd: systemctl enable --now podprof-tracer.socket (make install
puts the units in place). Without systemd, as root:
  podprof tracer >>/var/log/podprof-tracer.log 2>&1 &
It serves until SIGTERM or SIGINT, and logs each refusal on stderr.

`

// Tracer is `podprof tracer`, the tracer service. It returns when the
// service stops: 0, or 125 with a one-line error.
func Tracer(args []string) int {
	return tracerMain(args, os.Stderr)
}

func tracerMain(args []string, stderr io.Writer) int {
	flags := pflag.NewFlagSet("podprof tracer", pflag.ContinueOnError)
	flags.SetOutput(stderr)
	socket := flags.String("socket", tracerd.ServiceSocket(), "serve on `PATH` (clients find it there, or in $"+tracerd.ServiceSocketEnv+")")
	group := flags.String("group", "", "the socket's group: only its members (and root) may connect; mode 0660 unless --mode says otherwise")
	mode := flags.String("mode", "", "the socket's permissions, octal (default 0666, or 0660 with --group)")
	tracerMode := flags.String("tracer", "auto", "tracer mode: auto, lsm, fentry or tracepoint")
	limits := tracerd.DefaultUserLimits
	flags.IntVar(&limits.Connections, "max-connections", limits.Connections, "connections one user may hold open at once")
	flags.IntVar(&limits.Containers, "max-containers", limits.Containers, "containers one user may have traced at once")
	flags.IntVar(&limits.Files, "max-files", limits.Files, "files recorded over one user's traced containers, past which they are traced no further")
	flags.Usage = func() { fmt.Fprint(stderr, tracerHelp+flags.FlagUsages()) }
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "Error: %v\nSee 'podprof tracer --help'\n", err)
		return exitError
	}
	cfg, err := serviceConfig(flags.Args(), *socket, *group, *mode, *tracerMode, limits)
	if err == nil && !tracerd.Privileged() {
		err = errors.New("podprof tracer loads eBPF programs: run it as root (users without root connect to it)")
	}
	if err == nil {
		err = tracerd.Serve(cfg)
	}
	if err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return exitError
	}
	return exitOK
}

func serviceConfig(args []string, socket, group, mode, tracerMode string, limits tracerd.UserLimits) (tracerd.ServiceConfig, error) {
	cfg := tracerd.ServiceConfig{Socket: socket, Group: group, Mode: tracerMode, Limits: limits, SocketMode: 0o666}
	if len(args) > 0 {
		return cfg, fmt.Errorf("podprof tracer takes no arguments, got %q: see podprof tracer --help", args)
	}
	if group != "" {
		cfg.SocketMode = 0o660
	}
	if mode != "" {
		perm, err := strconv.ParseUint(mode, 8, 32)
		if err != nil || perm > 0o777 {
			return cfg, fmt.Errorf("invalid --mode %q: give octal permissions such as 0660", mode)
		}
		cfg.SocketMode = os.FileMode(perm)
	}
	if limits.Connections < 1 || limits.Containers < 1 || limits.Files < 1 {
		return cfg, errors.New("--max-connections, --max-containers and --max-files must be at least 1")
	}
	return cfg, nil
}
