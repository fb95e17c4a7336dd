package podmancmd

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestMain makes the test binary the keeper and the podman it keeps,
// when AcquireService starts them: `run KeepServiceArg DIR PODMAN
// FLAGS...`, then `PODMAN FLAGS... system service --time=0 unix://SOCKET`.
func TestMain(m *testing.M) {
	args := os.Args[1:]
	if len(args) >= 4 && args[0] == "run" && args[1] == KeepServiceArg {
		os.Exit(KeepService(args[2], args[3], args[4:]))
	}
	if i := slices.Index(args, "service"); i > 0 && args[i-1] == "system" {
		fakeService(strings.TrimPrefix(args[len(args)-1], "unix://"))
	}
	os.Exit(m.Run())
}

// fakeService answers on socket, as a podman service does, until
// SIGTERM.
func fakeService(socket string) {
	l, err := net.Listen("unix", socket)
	if err != nil {
		os.Exit(1)
	}
	for {
		conn, err := l.Accept()
		if err != nil {
			os.Exit(1)
		}
		conn.Close()
	}
}

// TestKeptService: a second run with the same flags holds the service the
// first one started, one with other flags gets its own; one idle time
// after the last lease, the keepers, the services and their directories
// are gone, and the next run starts a new one.
func TestKeptService(t *testing.T) {
	const idle = 300 * time.Millisecond
	t.Setenv(IdleEnv, idle.String())
	podman, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	prepare := func(dir string) ([]string, error) {
		hooks := filepath.Join(dir, "hooks.d")
		return []string{"--hooks-dir", hooks}, os.Mkdir(hooks, 0o700)
	}
	acquire := func(flags ...string) *Lease {
		t.Helper()
		l, err := AcquireService(context.Background(), podman, flags, prepare)
		if err != nil {
			t.Fatal(err)
		}
		if l.Lost() != nil {
			t.Errorf("a held service does not answer: %v", l.Lost())
		}
		return l
	}
	first := acquire("--log-level=warn")
	second := acquire("--log-level=warn")
	other := acquire("--log-level=info")
	if first.URI != second.URI || other.URI == first.URI {
		t.Errorf("same flags: %s and %s, want the same service; other flags: %s, want another", first.URI, second.URI, other.URI)
	}
	dirs := []string{filepath.Dir(strings.TrimPrefix(first.URI, "unix://")), filepath.Dir(strings.TrimPrefix(other.URI, "unix://"))}
	first.Close()
	time.Sleep(2 * idle)
	if _, err := os.Stat(dirs[0]); err != nil {
		t.Errorf("a held service's directory is gone: %v", err)
	}
	if again := acquire("--log-level=warn"); again.URI != second.URI {
		t.Errorf("a held service was not reused: %s, want %s", again.URI, second.URI)
	} else {
		again.Close()
	}
	second.Close()
	other.Close()
	waitGone(t, idle, dirs...)
	// Its keeper gone, the same flags start a new service.
	last := acquire("--log-level=warn")
	last.Close()
	waitGone(t, idle, dirs[0])
}

// waitGone waits for dirs to be removed, failing t 5 s past the idle time.
func waitGone(t *testing.T, idle time.Duration, dirs ...string) {
	t.Helper()
	for deadline := time.Now().Add(idle + 5*time.Second); ; time.Sleep(20 * time.Millisecond) {
		if !slices.ContainsFunc(dirs, func(dir string) bool { _, err := os.Stat(dir); return err == nil }) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("kept services' directories %q still there 5s past the idle time", dirs)
		}
	}
}

// TestServiceKey: what configures a service changes its key; what does
// not, leaves it.
func TestServiceKey(t *testing.T) {
	podman, err := os.Executable() // any executable stands for podman
	if err != nil {
		t.Fatal(err)
	}
	key := func(flags ...string) string {
		t.Helper()
		k, err := serviceKey(podman, flags)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	base := key("--log-level=warn")
	if again := key("--log-level=warn"); again != base {
		t.Errorf("the same run: key %s, then %s", base, again)
	}
	t.Setenv("PODPROF_UNRELATED_TEST", "x") // PODPROF_ goes to the hook
	withEnv := key("--log-level=warn")
	for what, k := range map[string]string{
		"another flag value": key("--log-level=info"),
		"--root":             key("--log-level=warn", "--root=/var/lib/other"),
		"PODPROF_ env":       withEnv,
	} {
		if k == base {
			t.Errorf("%s: same key as without it", what)
		}
	}
	t.Setenv("OLDPWD", "/elsewhere")
	if k := key("--log-level=warn"); k != withEnv {
		t.Errorf("OLDPWD changed the key")
	}
	t.Setenv("CONTAINERS_STORAGE_CONF", "/etc/other-storage.conf")
	withStorage := key("--log-level=warn")
	if withStorage == withEnv {
		t.Errorf("CONTAINERS_STORAGE_CONF did not change the key")
	}
	t.Chdir(t.TempDir())
	if k := key("--log-level=warn"); k == withStorage {
		t.Errorf("the working directory did not change the key")
	}
}
