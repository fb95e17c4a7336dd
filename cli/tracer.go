package cli

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/podprof/podprof/tracerd"
	"github.com/podprof/podprof/tracerd/hook"
)

const tracerHelp = `The tracer service, run by root for good, so that users without root can
profile their rootless podman containers (podprof run, or the OCI hook with
the io.podprof.profile annotation). A user may watch only the containers of
its own rootless podman (their user namespace is the user's, their processes
run as the user or one of its subordinate uids in /etc/subuid); it gets the
records and writes the profile itself. Root's containers need no service.

Under systemd: systemctl enable --now podprof-tracer.socket (make install
puts the units in place). Without systemd, as root:
  podprof tracer >>/var/log/podprof-tracer.log 2>&1 &
It serves until SIGTERM or SIGINT, and logs each refusal on stderr.`

func tracerCommand() *cobra.Command {
	var socket, group, mode, tracerMode string
	limits := tracerd.DefaultUserLimits
	cmd := &cobra.Command{
		Use:   "tracer [flags]",
		Short: "the tracer service (root) that rootless podman's containers are traced by",
		Long:  tracerHelp,
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			cfg, err := serviceConfig(socket, group, mode, tracerMode, limits)
			if err != nil {
				return err
			}
			if !hook.Privileged() {
				return errors.New("podprof tracer loads eBPF programs: run it as root (users without root connect to it)")
			}
			return tracerd.Serve(cfg)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&socket, "socket", hook.ServiceSocket(), "serve on `PATH` (clients find it there, or in $"+hook.ServiceSocketEnv+")")
	flags.StringVar(&group, "group", "", "the socket's group: only its members (and root) may connect; mode 0660 unless --mode says otherwise")
	flags.StringVar(&mode, "mode", "", "the socket's permissions, octal (default 0666, or 0660 with --group)")
	flags.StringVar(&tracerMode, "tracer", "auto", "tracer mode: auto, lsm, fentry or tracepoint")
	flags.IntVar(&limits.Connections, "max-connections", limits.Connections, "connections one user may hold open at once")
	flags.IntVar(&limits.Containers, "max-containers", limits.Containers, "containers one user may have traced at once")
	flags.IntVar(&limits.Files, "max-files", limits.Files, "files recorded over one user's traced containers, past which they are traced no further")
	completeValues(cmd, "tracer", "auto", "lsm", "fentry", "tracepoint")
	return cmd
}

func serviceConfig(socket, group, mode, tracerMode string, limits tracerd.UserLimits) (tracerd.ServiceConfig, error) {
	cfg := tracerd.ServiceConfig{Socket: socket, Group: group, Mode: tracerMode, Limits: limits, SocketMode: 0o666}
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
