package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ContainersConf is a containers.conf for CONTAINERS_CONF, which podman
// reads instead of the system's files: this machine's drop-ins
// (/etc/containers/containers.conf.d, its runtime and ulimits) with
// hooksDir as the only hooks dir, as if podprof's hook were installed
// there (make install) for a podman service started with it.
func ContainersConf(hooksDir string) ([]byte, error) {
	var conf strings.Builder
	dropins, _ := filepath.Glob("/etc/containers/containers.conf.d/*.conf")
	for _, dropin := range dropins {
		data, err := os.ReadFile(dropin)
		if err != nil {
			return nil, err
		}
		conf.Write(data)
		conf.WriteString("\n")
	}
	hooks := fmt.Sprintf("hooks_dir = [%q]\n", hooksDir)
	if text := conf.String(); strings.Contains(text, "[engine]\n") {
		return []byte(strings.Replace(text, "[engine]\n", "[engine]\n"+hooks, 1)), nil
	}
	return []byte(conf.String() + "[engine]\n" + hooks), nil
}
