package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/podprof/podprof/bpf"
	"github.com/podprof/podprof/podmancmd"
	"github.com/podprof/podprof/tracerd"
)

func doctorCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "which tracer mode this machine supports, and why not others",
		Long: "Whether this machine can trace, in which mode, and why not in the better ones.\n\n" +
			"Exit status: 0 when some mode works, 1 when none does.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !doctor(cmd.OutOrStdout()) {
				return exitStatus(1)
			}
			return nil
		},
	}
}

// doctor says whether this machine can trace, in which mode, and why not
// in the better ones; true when some mode works.
func doctor(w io.Writer) bool {
	fmt.Fprintf(w, "kernel:   %s\n", tracerd.KernelRelease())
	fmt.Fprintf(w, "BTF:      %s\n", present("/sys/kernel/btf/vmlinux"))
	if lsm, err := os.ReadFile("/sys/kernel/security/lsm"); err == nil {
		fmt.Fprintf(w, "LSMs:     %s\n", strings.TrimSpace(string(lsm)))
	} else {
		fmt.Fprintf(w, "LSMs:     unknown (securityfs is not mounted: mount -t securityfs securityfs /sys/kernel/security)\n")
	}
	fmt.Fprintf(w, "user:     %s\n", privileges())
	if podman, err := podmancmd.Find(); err == nil {
		fmt.Fprintf(w, "podman:   %s\n", podman)
	} else {
		fmt.Fprintf(w, "podman:   %v\n", err)
	}
	works := false
	for _, st := range bpf.Probe() {
		switch {
		case st.Chosen:
			fmt.Fprintf(w, "%-11s active; %s\n", st.Mode+":", syscallRecording(st.Syscalls))
			works = true
		case st.Err == nil:
			fmt.Fprintf(w, "%-11s available; %s\n", st.Mode+":", syscallRecording(st.Syscalls))
		default:
			fmt.Fprintf(w, "%-11s unavailable: %v\n", st.Mode+":", st.Err)
		}
	}
	return works
}

func present(path string) string {
	if _, err := os.Stat(path); err != nil {
		return "missing (" + path + ")"
	}
	return "present"
}

// privileges says whether podprof may load BPF programs: root, or the
// capabilities that stand for it.
func privileges() string {
	if os.Geteuid() == 0 {
		return "root"
	}
	return fmt.Sprintf("uid %d, not root: tracing needs root (CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE at least); rootless podman's containers are traced by the tracer service root runs (podprof tracer)", os.Geteuid())
}

// syscallRecording says whether --podprof-seccomp works in a mode.
func syscallRecording(err error) string {
	if err != nil {
		return "system calls (--podprof-seccomp): unavailable: " + err.Error()
	}
	return "system calls (--podprof-seccomp): recorded"
}
