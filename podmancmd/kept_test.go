package podmancmd

import (
	"os"
	"testing"
)

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
