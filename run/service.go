package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"go.podman.io/common/pkg/config"
	hooks "go.podman.io/common/pkg/hooks/1.0.0"

	"github.com/podprof/podprof/podmancmd"
	"github.com/podprof/podprof/tracerd/hook"
)

// Service choices (--podprof-service): the system's Podman API socket
// where podprof's hook is installed in its hooks dirs, podprof's own kept
// service, or the first where it can.
const (
	serviceAuto    = "auto"
	servicePrivate = "private"
	serviceSystem  = "system"
)

// systemSocket is the system's Podman API socket (podman.socket).
const systemSocket = "/run/podman/podman.sock"

// acquireService returns the URI of the service podprof run uses, and
// what lets it go: the system's, if choice allows and it can serve, or
// podprof's own, kept, with podman's global flags (those the user gave
// around `run`) and podprof's hook.
func acquireService(ctx context.Context, choice, podman string, globalFlags []string) (uri string, lost func() error, release func(), err error) {
	if choice != servicePrivate {
		err := systemServiceUsable(globalFlags)
		if err == nil {
			return "unix://" + systemSocket, systemLost, func() {}, nil
		}
		if choice == serviceSystem {
			return "", nil, nil, err
		}
	}
	lease, err := podmancmd.AcquireService(ctx, podman, globalFlags, func(dir string) ([]string, error) {
		hooksDir := filepath.Join(dir, "hooks.d")
		if err := writeHook(hooksDir); err != nil {
			return nil, err
		}
		return hooksDirFlags(globalFlags, hooksDir)
	})
	if err != nil {
		return "", nil, nil, err
	}
	return lease.URI, lease.Lost, func() { lease.Close() }, nil
}

// systemServiceUsable says why podprof run can't use the system's
// service, or nil: it must answer on systemSocket, run as root (whose
// containers root's podprof traces), take podman's defaults (a global
// flag configures a service, not a request) and run podprof's own hook,
// installed in its hooks dirs (make install): a hook of another podprof
// build talks to another tracer, which writes no profile podprof run
// waits for.
func systemServiceUsable(globalFlags []string) error {
	if os.Geteuid() != 0 {
		return errors.New("--podprof-service=system: the system's podman service is root's: run podprof as root, or use --podprof-service=private")
	}
	if len(globalFlags) > 0 {
		return fmt.Errorf("--podprof-service=system: podman's global flags (%s) configure a service: drop them, or use --podprof-service=private", strings.Join(globalFlags, " "))
	}
	conn, err := net.Dial("unix", systemSocket)
	if err != nil {
		return fmt.Errorf("--podprof-service=system: no podman service answers on %s: start it (systemctl start podman.socket), or use --podprof-service=private", systemSocket)
	}
	conn.Close()
	dirs, err := configuredHooksDirs()
	if err != nil {
		return err
	}
	self, err := podmancmd.Self()
	if err != nil {
		return err
	}
	for _, dir := range dirs {
		if hookInstalled(dir, self) {
			return nil
		}
	}
	return fmt.Errorf("--podprof-service=system: podprof's hook (%s) is not in podman's hooks dirs %s: make install puts it there, or use --podprof-service=private", filepath.Join(filepath.Dir(self), podmancmd.HookExecutable), strings.Join(dirs, ", "))
}

// hookInstalled says whether a hook in dir runs this podprof's hook
// (self's) before the containers with the profile annotation.
func hookInstalled(dir, self string) bool {
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	ours, err := ownHooks(self)
	if err != nil {
		return false
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		var installed hooks.Hook
		if json.Unmarshal(data, &installed) != nil || !slices.Contains(installed.Stages, "prestart") {
			continue
		}
		st, err := os.Stat(installed.Hook.Path)
		if err != nil || !slices.ContainsFunc(ours, func(h ownHook) bool {
			return os.SameFile(st, h.file) && slices.Equal(installed.Hook.Args, h.args)
		}) {
			continue
		}
		for pattern := range installed.When.Annotations {
			if re, err := regexp.Compile(pattern); err == nil && re.MatchString(hook.ProfileAnnotation) {
				return true
			}
		}
	}
	return false
}

// ownHook is an executable and arguments that run podprof's hook.
type ownHook struct {
	file fs.FileInfo
	args []string
}

// ownHooks are the ways to run self's hook: podprof-hook beside it, which
// writeHook and make install write, or `podprof hook`, the same hook, as
// a hooks dir may name it.
func ownHooks(self string) ([]ownHook, error) {
	podprof, err := os.Stat(self)
	if err != nil {
		return nil, err
	}
	hooks := []ownHook{{podprof, []string{"podprof", "hook"}}}
	if lean, err := os.Stat(filepath.Join(filepath.Dir(self), podmancmd.HookExecutable)); err == nil {
		hooks = append(hooks, ownHook{lean, hookArgs})
	}
	return hooks, nil
}

// hookArgs are podprof-hook's arguments in a hook: its name only.
var hookArgs = []string{podmancmd.HookExecutable}

// systemLost says why the system's service no longer answers, or nil.
func systemLost() error {
	conn, err := net.Dial("unix", systemSocket)
	if err != nil {
		return fmt.Errorf("the system's podman service on %s stopped answering during the run (%v)", systemSocket, err)
	}
	conn.Close()
	return nil
}

// configuredHooksDirs are the hooks dirs podman's configuration names.
func configuredHooksDirs() ([]string, error) {
	defaults, err := config.Default()
	if err != nil {
		return nil, fmt.Errorf("reading podman's configuration: %w", err)
	}
	return defaults.Engine.HooksDir.Get(), nil
}

// hooksDirFlags are the --hooks-dir flags that make a service read
// podprof's hooksDir too: --hooks-dir replaces podman's configured dirs,
// so they are kept, unless the user's own --hooks-dir replaces them
// already.
func hooksDirFlags(globalFlags []string, hooksDir string) ([]string, error) {
	var dirs []string
	if _, given := podmancmd.GlobalValue(globalFlags, "hooks-dir"); !given {
		var err error
		if dirs, err = configuredHooksDirs(); err != nil {
			return nil, err
		}
	}
	var flags []string
	for _, d := range append(dirs, hooksDir) {
		flags = append(flags, "--hooks-dir", d)
	}
	return flags, nil
}

// newRunDir creates podprof run's private directory (0700), with a hooks
// dir that holds podprof's hook, and returns the --hooks-dir flags that
// make podman read it too.
func newRunDir(globalFlags []string) (dir string, flags []string, err error) {
	dir, err = podmancmd.PrivateDir()
	if err != nil {
		return "", nil, err
	}
	hooksDir := filepath.Join(dir, "hooks.d")
	if err = writeHook(hooksDir); err == nil {
		flags, err = hooksDirFlags(globalFlags, hooksDir)
	}
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return dir, flags, nil
}

// writeHook writes the hook that makes podman run podprof-hook before any
// container that carries hook.ProfileAnnotation starts.
func writeHook(dir string) error {
	path, err := podmancmd.HookPath()
	if err != nil {
		return err
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("podprof's OCI hook: %w: podprof run needs it beside podprof (make install puts it there)", err)
	}
	data, err := json.Marshal(hooks.Hook{
		Version: hooks.Version,
		Hook:    rspec.Hook{Path: path, Args: hookArgs, Env: hookEnv()},
		When:    hooks.When{Annotations: map[string]string{"^" + regexp.QuoteMeta(hook.ProfileAnnotation) + "$": ".+"}},
		Stages:  []string{"prestart"},
	})
	if err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("creating the hooks dir: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "podprof.json"), data, 0o600); err != nil {
		return fmt.Errorf("writing the hook: %w", err)
	}
	return nil
}

// hookEnv is the hook's environment, which the runtime otherwise leaves
// empty: where podprof run was told the tracer service listens, and the
// idle time of a tracer the hook starts.
func hookEnv() []string {
	var env []string
	for _, name := range []string{hook.ServiceSocketEnv, podmancmd.IdleEnv} {
		if value, ok := os.LookupEnv(name); ok {
			env = append(env, name+"="+value)
		}
	}
	return env
}
