package run

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"go.podman.io/common/pkg/config"
	hooks "go.podman.io/common/pkg/hooks/1.0.0"

	"github.com/podprof/podprof/podmancmd"
	"github.com/podprof/podprof/tracerd"
)

// startService starts podprof run's private service with podman's global
// flags (those the user gave around `run`) and podprof's hook.
func startService(ctx context.Context, podman string, globalFlags []string) (*podmancmd.Service, error) {
	dir, hooksDirFlags, err := newRunDir(globalFlags)
	if err != nil {
		return nil, err
	}
	return podmancmd.StartService(ctx, podman, dir, append(append([]string{}, globalFlags...), hooksDirFlags...))
}

// newRunDir creates podprof run's private directory (0700), with a hooks
// dir that holds podprof's hook, and returns the --hooks-dir flags that
// make podman read it too.
func newRunDir(globalFlags []string) (dir string, hooksDirFlags []string, err error) {
	dir, err = podmancmd.PrivateDir()
	if err != nil {
		return "", nil, err
	}
	hooksDir := filepath.Join(dir, "hooks.d")
	if err := writeHook(hooksDir); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	// --hooks-dir replaces podman's configured dirs: keep them, unless
	// the user's own --hooks-dir replaces them already.
	var dirs []string
	if _, given := podmancmd.GlobalValue(globalFlags, "hooks-dir"); !given {
		defaults, err := config.Default()
		if err != nil {
			os.RemoveAll(dir)
			return "", nil, fmt.Errorf("reading podman's configuration: %w", err)
		}
		dirs = defaults.Engine.HooksDir.Get()
	}
	for _, d := range append(dirs, hooksDir) {
		hooksDirFlags = append(hooksDirFlags, "--hooks-dir", d)
	}
	return dir, hooksDirFlags, nil
}

// writeHook writes the hook that makes podman run `podprof hook` before
// any container that carries tracerd.ProfileAnnotation starts.
func writeHook(dir string) error {
	self, err := podmancmd.Self()
	if err != nil {
		return err
	}
	hook := hooks.Hook{
		Version: hooks.Version,
		Hook:    rspec.Hook{Path: self, Args: []string{"podprof", "hook"}, Env: hookEnv()},
		When:    hooks.When{Annotations: map[string]string{"^" + regexp.QuoteMeta(tracerd.ProfileAnnotation) + "$": ".+"}},
		Stages:  []string{"prestart"},
	}
	data, err := json.Marshal(hook)
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
// empty: where podprof run was told the tracer service listens.
func hookEnv() []string {
	if socket, ok := os.LookupEnv(tracerd.ServiceSocketEnv); ok {
		return []string{tracerd.ServiceSocketEnv + "=" + socket}
	}
	return nil
}
