package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	hooks "go.podman.io/common/pkg/hooks/1.0.0"

	"github.com/podprof/podprof/podmancmd"
)

// InstalledHook is the path of the hook make install installs,
// contrib/hooks.d/podprof.json, relative to the repository's root.
const InstalledHook = "contrib/hooks.d/podprof.json"

// WriteInstalledHook writes the hook make install installs (at repo's
// InstalledHook) into dir, created if need be, pointed at the podprof-hook
// beside podprof and with env added.
func WriteInstalledHook(repo, dir, podprof string, env ...string) error {
	data, err := os.ReadFile(filepath.Join(repo, InstalledHook))
	if err != nil {
		return err
	}
	var hook hooks.Hook
	if err := json.Unmarshal(data, &hook); err != nil {
		return fmt.Errorf("%s: %w", InstalledHook, err)
	}
	hook.Hook.Path = filepath.Join(filepath.Dir(podprof), podmancmd.HookExecutable)
	hook.Hook.Env = append(hook.Hook.Env, env...)
	if data, err = json.Marshal(hook); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "podprof.json"), data, 0o644)
}
