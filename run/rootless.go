package run

import (
	"bufio"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/podprof/podprof/tracerd/hook"
)

// dialTracer is how podprof run reaches a tracer: root's starts one on
// demand (hook.Dial); a user without root, whose rootless podman runs
// the container, talks to the tracer service root runs (hook.DialService),
// once its podman is set up for rootless containers.
func dialTracer() (func(hook.Request, time.Duration) (*hook.Client, error), error) {
	if hook.Privileged() {
		return hook.Dial, nil
	}
	if err := checkRootlessPodman(); err != nil {
		return nil, err
	}
	return hook.DialService, nil
}

// checkRootlessPodman refuses a user that rootless podman has no
// subordinate ids for: podman would map one uid only and fail in the
// middle of pulls and runs of most images.
func checkRootlessPodman() error {
	me, err := user.Current()
	if err != nil {
		return fmt.Errorf("who runs podprof: %w", err)
	}
	for _, file := range []string{"/etc/subuid", "/etc/subgid"} {
		if !hasSubordinateIDs(file, me) {
			return fmt.Errorf("rootless podman needs subordinate ids for user %s in %s: have root run usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s (a range no other user has), then podman system migrate",
				me.Username, file, me.Username)
		}
	}
	return nil
}

// hasSubordinateIDs says whether file (/etc/subuid, /etc/subgid) gives
// the user a range, by name or uid.
func hasSubordinateIDs(file string, u *user.User) bool {
	f, err := os.Open(file)
	if err != nil {
		return false
	}
	defer f.Close()
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		fields := strings.Split(strings.TrimSpace(lines.Text()), ":")
		if len(fields) != 3 || (fields[0] != u.Username && fields[0] != u.Uid) {
			continue
		}
		if count, err := strconv.ParseUint(fields[2], 10, 32); err == nil && count > 0 {
			return true
		}
	}
	return false
}
