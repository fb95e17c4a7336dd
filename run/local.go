package run

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"syscall"

	"github.com/spf13/cobra"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/transports/alltransports"
	"golang.org/x/sys/unix"
)

// A podman API service can't do everything `podman run` does on its own
// machine: it can't be handed the caller's file descriptors, it pulls only
// from registries, and it has neither the caller's environment nor its
// decryption keys. For those runs podprof runs the installed podman itself,
// with podprof's hooks dir: the container is traced the same way, and
// podman is podman, byte for byte.

// needsLocalPodman says whether this run asks for what no API service can
// do.
func needsLocalPodman(cmd *cobra.Command, image string) bool {
	flags := cmd.Flags()
	for _, name := range []string{"preserve-fds", "preserve-fd", "env-host", "decryption-key"} {
		if flags.Changed(name) {
			return true
		}
	}
	if rootfs, _ := flags.GetBool("rootfs"); rootfs {
		return false
	}
	// As podman's service decides: a name with no transport is a
	// registry's.
	ref, err := alltransports.ParseImageName(image)
	return err == nil && ref.Transport().Name() != docker.Transport.Name()
}

// runLocalPodman runs `podman GLOBAL run ARGS` with podprof's hook and
// returns podman's exit code. fds are the file descriptors that podman
// must find at 3, 4...: those it is to preserve into the container.
func runLocalPodman(podman string, globalFlags, args []string, fds []*os.File) (int, error) {
	dir, hooksDirFlags, err := newRunDir(globalFlags)
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	argv := slices.Concat(globalFlags, hooksDirFlags, []string{"run"}, args)
	cmd := exec.Command(podman, argv...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = fds

	// podman proxies the signals it gets to the container (--sig-proxy):
	// pass on those sent to podprof. podman shares podprof's process
	// group, so what a terminal sends (Ctrl-C, Ctrl-\) has reached it
	// already when podprof is in the terminal's foreground.
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, proxiedSignals...)
	defer signal.Stop(signals)
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("running %s: %w", podman, err)
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case sig := <-signals:
				if !(terminalSignal(sig) && inTerminalForeground()) {
					cmd.Process.Signal(sig)
				}
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if status := exit.Sys().(syscall.WaitStatus); status.Signaled() {
			return 128 + int(status.Signal()), nil // as a shell says it
		}
		return exit.ExitCode(), nil
	}
	if err != nil {
		return 0, fmt.Errorf("running %s: %w", podman, err)
	}
	return 0, nil
}

// proxiedSignals are those podprof passes on to podman: all that ask a
// process to end or to act, not those of job control, which stop and
// continue podprof and podman alike.
var proxiedSignals = []os.Signal{
	unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM, unix.SIGUSR1,
	unix.SIGUSR2, unix.SIGALRM, unix.SIGPWR, unix.SIGXCPU, unix.SIGXFSZ,
}

func terminalSignal(sig os.Signal) bool {
	return sig == unix.SIGINT || sig == unix.SIGQUIT
}

// inTerminalForeground says whether podprof's process group is its
// terminal's foreground group, which a terminal's signals go to.
func inTerminalForeground() bool {
	tty, err := os.Open("/dev/tty")
	if err != nil {
		return false
	}
	defer tty.Close()
	pgrp, err := unix.IoctlGetInt(int(tty.Fd()), unix.TIOCGPGRP)
	return err == nil && pgrp == unix.Getpgrp()
}

// preservedFiles are the descriptors --preserve-fds=N and --preserve-fd
// pass into the container, at the numbers podman must find them: each
// must have been inherited by podprof, as podman requires.
func preservedFiles(cmd *cobra.Command) ([]*os.File, error) {
	wanted := make(map[int]string) // fd: the flag that asks for it
	if n, _ := cmd.Flags().GetUint("preserve-fds"); n > 0 {
		for fd := 3; fd < 3+int(n); fd++ {
			wanted[fd] = "preserve-fds"
		}
	}
	list, _ := cmd.Flags().GetUintSlice("preserve-fd")
	for _, fd := range list {
		wanted[int(fd)] = "preserve-fd"
	}
	var files []*os.File
	for _, fd := range slices.Sorted(maps.Keys(wanted)) {
		if fd < 3 {
			continue // podman's own stdio, always there
		}
		if !inherited(fd) {
			return nil, fmt.Errorf("file descriptor %d is not available - the %s option requires that file descriptors must be passed", fd, wanted[fd])
		}
		for len(files) <= fd-3 {
			files = append(files, nil)
		}
		files[fd-3] = os.NewFile(uintptr(fd), "preserved-"+strconv.Itoa(fd))
	}
	return files, nil
}

// inherited says whether podprof was started with the descriptor fd
// open. Those that podprof opens itself, Go's runtime too, are all
// close-on-exec; those inherited through an exec can't be.
func inherited(fd int) bool {
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil && flags&unix.FD_CLOEXEC == 0
}
