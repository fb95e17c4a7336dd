package hook

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// TestLinksLittle: podprof-hook, which every traced container's start
// waits for, links none of the packages whose initialisation made
// `podprof hook` take 20 ms: podprof's tracer, profile and image readers,
// cilium/ebpf, c/image, podman's client.
func TestLinksLittle(t *testing.T) {
	goCmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(goCmd, "list", "-deps", "github.com/podprof/podprof/tracerd/podprof-hook").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps podprof-hook: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, heavy := range []string{
			"github.com/podprof/podprof/report", "github.com/podprof/podprof/bpf", "github.com/podprof/podprof/tracerd",
			"github.com/podprof/podprof/imagestore", "github.com/podprof/podprof/seccomp", "github.com/podprof/podprof/cli",
			"github.com/cilium/", "go.podman.io/", "github.com/containers/", "github.com/spf13/",
		} {
			if dep == heavy || (strings.HasSuffix(heavy, "/") && strings.HasPrefix(dep, heavy)) {
				t.Errorf("podprof-hook links %s", dep)
			}
		}
	}
}

// TestMainRefusesArguments: the hook takes its state on stdin only; an
// argument is refused in one line, exit status 1, before stdin is read.
func TestMainRefusesArguments(t *testing.T) {
	stderr := captureStderr(t, func() {
		if code := Main([]string{"--help"}, nil); code != 1 {
			t.Errorf("Main(--help) = %d, want 1", code)
		}
	})
	if !strings.HasPrefix(stderr, "podprof hook: unexpected arguments") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("stderr %q: want one line saying the arguments are unexpected", stderr)
	}
}

// TestRunRefusesBadState: what is not OCI state JSON fails the start.
func TestRunRefusesBadState(t *testing.T) {
	err := Run(strings.NewReader("not json"), func(*rspec.State) error {
		t.Fatal("forUser called with no state")
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "not OCI state JSON") {
		t.Errorf("Run(not json) = %v, want the state refused", err)
	}
}

// TestPodprofWithState: the state reads back whole from the start of its
// file.
func TestPodprofWithState(t *testing.T) {
	state := &rspec.State{Version: rspec.Version, ID: "c1", Status: "created", Pid: 42, Bundle: "/b",
		Annotations: map[string]string{ProfileAnnotation: "/p.json"}}
	_, f, err := PodprofWithState(state)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got rspec.State
	if err := json.NewDecoder(f).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, state) {
		t.Errorf("read back %+v, want %+v", got, *state)
	}
}

func captureStderr(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = w
	f()
	os.Stderr = saved
	w.Close()
	data, _ := io.ReadAll(r)
	return string(data)
}
