package run

import (
	"os"
	"testing"

	"github.com/spf13/pflag"
)

func TestNeedsLocalPodman(t *testing.T) {
	cmd := podmanRunCommand() // podman's one run command: reset between cases
	cmd.Flags().Bool("env-host", false, "")
	for _, tc := range []struct {
		args  []string
		local bool
	}{
		{[]string{"img"}, false},
		{[]string{"docker://quay.io/x:1"}, false},
		{[]string{"localhost/x:latest"}, false},
		{[]string{"docker-archive:/tmp/a.tar"}, true},
		{[]string{"oci-archive:/tmp/a.tar"}, true},
		{[]string{"dir:/tmp/d"}, true},
		{[]string{"--preserve-fds=1", "img"}, true},
		{[]string{"--preserve-fd=5", "img"}, true},
		{[]string{"--env-host", "img"}, true},
		{[]string{"--decryption-key=/k.pem", "img"}, true},
		{[]string{"--rootfs", "/some/dir:O"}, false}, // last: --rootfs stays set
	} {
		if err := cmd.Flags().Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		if got := needsLocalPodman(cmd, cmd.Flags().Arg(0)); got != tc.local {
			t.Errorf("%q: needs local podman %v, want %v", tc.args, got, tc.local)
		}
		cmd.Flags().VisitAll(func(f *pflag.Flag) { f.Changed = false })
	}
}

func TestInherited(t *testing.T) {
	r, w, err := os.Pipe() // podprof's own: close-on-exec
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if inherited(int(r.Fd())) {
		t.Error("a descriptor podprof opened counts as inherited")
	}
	if inherited(1 << 20) {
		t.Error("a closed descriptor counts as inherited")
	}
}

func TestHasUnknownFlag(t *testing.T) {
	flags := podmanRunCommand().Flags()
	for _, tc := range []struct {
		args    []string
		unknown bool
	}{
		{[]string{"--rm", "-it", "img", "sh", "--bogus"}, false}, // the container's
		{[]string{"--runtime", "runc", "img"}, true},
		{[]string{"--rm", "--runtime=runc", "img"}, true},
		{[]string{"--name", "--runtime", "img"}, false}, // --name's value
		{[]string{"-e", "--runtime", "img"}, false},     // -e's value
		{[]string{"-eX=1", "--runtime", "img"}, true},
		{[]string{"-it", "--runtime", "img"}, true},
		{[]string{"--", "--runtime"}, false},
		{[]string{"--net", "host", "--hooks-dir", "/d", "img"}, true}, // --net: an alias of run's
	} {
		if got := hasUnknownFlag(flags, tc.args); got != tc.unknown {
			t.Errorf("%q: unknown flag %v, want %v", tc.args, got, tc.unknown)
		}
	}
}
