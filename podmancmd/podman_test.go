package podmancmd

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// help is the part of podman 4.3.1's --help these tests need.
const help = `Options:
  -c, --connection string           Connection to use for remote Podman service
      --log-level string            Log messages above specified level (default "warn")
      --noout                       do not output to stdout
  -r, --remote                      Access remote Podman service
      --root string                 Path to the root directory in which data, including images, is stored
      --runtime string              Path to the OCI-compatible binary used to run containers. (default "runc")
      --hooks-dir strings           Set the OCI hooks directory path (may be set multiple times)
  -v, --version                     version for podman
`

func TestSplitGlobalFlags(t *testing.T) {
	known := helpGlobalFlags(help)
	for _, c := range []struct {
		args, global, rest []string
	}{
		{[]string{"run", "img"}, nil, []string{"run", "img"}},
		{[]string{"--log-level", "debug", "--root=/r", "-r", "run", "-it"}, []string{"--log-level=debug", "--root=/r", "--remote"}, []string{"run", "-it"}},
		{[]string{"-c", "run", "run"}, []string{"--connection=run"}, []string{"run"}}, // -c's value, then the command
		{[]string{"--max-workers", "4", "--trace", "-D", "--cpu-profile=/p", "slim"}, []string{"--max-workers=4", "--trace", "--debug", "--cpu-profile=/p"}, []string{"slim"}},
		{[]string{"--noout=false", "--", "run"}, []string{"--noout=false"}, []string{"--", "run"}},
		{[]string{"--root"}, []string{"--root"}, nil}, // no value: podman says so
	} {
		global, rest, err := splitGlobalFlags(c.args, known)
		if err != nil || !slices.Equal(global, c.global) || !slices.Equal(rest, c.rest) {
			t.Errorf("splitGlobalFlags(%q) = %q, %q, %v; want %q, %q", c.args, global, rest, err, c.global, c.rest)
		}
	}
	if _, _, err := splitGlobalFlags([]string{"--log-level=info", "--no-such", "3", "run"}, known); err == nil || err.Error() != "unknown flag: --no-such" {
		t.Errorf("an unknown flag: %v", err)
	}
}

func TestGlobalValue(t *testing.T) {
	global := []string{"--root=/a", "--hooks-dir=/h1", "--trace", "--root=/b", "--hooks-dir=/h2"}
	for _, c := range []struct {
		name, value string
		given       bool
	}{{"root", "/b", true}, {"trace", "", true}, {"runroot", "", false}, {"hooks-dir", "/h2", true}, {"roo", "", false}} {
		if value, given := GlobalValue(global, c.name); value != c.value || given != c.given {
			t.Errorf("GlobalValue(%s) = %q, %v; want %q, %v", c.name, value, given, c.value, c.given)
		}
	}
}

func TestIdleTime(t *testing.T) {
	for value, want := range map[string]time.Duration{"": DefaultIdle, "2": 2 * time.Second, "1.5": 1500 * time.Millisecond, "2s": 2 * time.Second, "250ms": 250 * time.Millisecond, "0": 0} {
		t.Setenv(IdleEnv, value)
		if got, err := IdleTime(); err != nil || got != want {
			t.Errorf("%s=%q: got %v, %v; want %v", IdleEnv, value, got, err, want)
		}
	}
	for _, value := range []string{"-1", "soon", "-2s"} {
		t.Setenv(IdleEnv, value)
		if _, err := IdleTime(); err == nil || !strings.Contains(err.Error(), IdleEnv) {
			t.Errorf("%s=%q: want an error naming it, got %v", IdleEnv, value, err)
		}
	}
}
