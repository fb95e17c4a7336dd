package run

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// podprof's help goes to stdout, for each of its commands, by --help and
// by `podprof help CMD`; podman's commands keep podman's help.
func TestHelp(t *testing.T) {
	for _, command := range []string{"report", "explore", "slim", "sbom", "vex", "seccomp", "doctor", "hook", "tracer", "completion", "version"} {
		for _, args := range [][]string{{command, "--help"}, {"help", command}} {
			r := podprof(t, args...)
			if r.code != 0 || r.stderr != "" || !strings.Contains(r.stdout, "podprof "+command) {
				t.Errorf("podprof %s: exit %d, stderr %q, stdout:\n%s", strings.Join(args, " "), r.code, r.stderr, r.stdout)
			}
		}
	}
	r := podprof(t, "run", "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "--podprof-output") || !strings.Contains(r.stdout, "--publish") {
		t.Errorf("podprof run --help: exit %d, want podman's and podprof's flags on stdout:\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = podprof(t, "help")
	if r.code != 0 || !strings.Contains(r.stdout, "slim") || !strings.Contains(r.stdout, "Manage pods, containers and images") {
		t.Errorf("podprof help: exit %d, want podprof's commands, then podman's help:\n%s%s", r.code, r.stdout, r.stderr)
	}
	podmanHelp := runCmd(t, "podman", "help", "ps")
	if r := podprof(t, "help", "ps"); r != podmanHelp {
		t.Errorf("podprof help ps differs from podman help ps:\n%+v\n%+v", r, podmanHelp)
	}
	if r := podprof(t, "report", "--no-such-flag"); r.code != 125 || r.stderr != "Error: unknown flag: --no-such-flag\nSee 'podprof report --help'\n" {
		t.Errorf("a bad flag: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := podprof(t, "slim", "--no-such-flag"); r.code != 125 || r.stderr != "Error: unknown flag: --no-such-flag\nSee 'podprof slim --help'\n" {
		t.Errorf("a bad slim flag: exit %d, stderr %q", r.code, r.stderr)
	}
}

// podprof version is podman's version, then podprof's; with a flag, it
// is podman's byte for byte.
func TestVersion(t *testing.T) {
	podman := runCmd(t, "podman", "version")
	r := podprof(t, "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, podman.stdout) || !strings.Contains(r.stdout, "\nPodprof:\nVersion:") {
		t.Errorf("podprof version: exit %d, want podman's, then podprof's:\n%s%s", r.code, r.stdout, r.stderr)
	}
	format := "{{.Client.Version}}"
	if got, want := podprof(t, "version", "--format", format), runCmd(t, "podman", "version", "--format", format); got != want {
		t.Errorf("podprof version --format: %+v, podman's: %+v", got, want)
	}
}

// Completion answers for podprof's commands from their definitions and
// for podman's from podman, whichever program the shell asks.
func TestCompletion(t *testing.T) {
	candidates := func(args ...string) []string {
		t.Helper()
		r := podprof(t, append([]string{"__complete"}, args...)...)
		if r.code != 0 {
			t.Fatalf("podprof __complete %q: exit %d: %s", args, r.code, r.stderr)
		}
		var names []string
		for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
			if !strings.HasPrefix(line, ":") {
				name, _, _ := strings.Cut(line, "\t")
				names = append(names, name)
			}
		}
		return names
	}
	for _, c := range []struct {
		args []string
		want []string // among the candidates
		not  []string
	}{
		{[]string{"re"}, []string{"report", "restart", "rename"}, nil},
		{[]string{"s"}, []string{"sbom", "slim", "seccomp", "start", "stop"}, nil},
		{[]string{"--log-level=error", "ex"}, []string{"explore", "exec", "export"}, nil},
		{[]string{"report", "--f"}, []string{"--format", "--fail-unused-bytes"}, []string{"--filter"}},
		{[]string{"report", "--format", ""}, []string{"text", "json", "tree"}, nil},
		{[]string{"report", "--image", ""}, []string{demoImage}, nil},
		{[]string{"run", "--podprof-t"}, []string{"--podprof-tracer"}, nil},
		{[]string{"run", "--podprof-tracer", ""}, []string{"lsm", "fentry", "tracepoint", "auto"}, []string{demoImage}},
		{[]string{"run", "--pu"}, []string{"--publish", "--pull"}, nil},
		{[]string{"run", "--rm", ""}, []string{demoImage}, nil},
		{[]string{"slim", "--inc"}, []string{"--include", "--include-from"}, nil},
		{[]string{"ps", "--al"}, []string{"--all"}, nil},
		{[]string{"completion", ""}, []string{"bash", "zsh", "fish"}, nil},
	} {
		got := candidates(c.args...)
		for _, want := range c.want {
			if !slices.Contains(got, want) {
				t.Errorf("completing %q: %q missing from %q", c.args, want, got)
			}
		}
		for _, not := range c.not {
			if slices.Contains(got, not) {
				t.Errorf("completing %q: %q must not be among %q", c.args, not, got)
			}
		}
	}
	// podman's own answer passes through unchanged.
	podman := runCmd(t, "podman", "__complete", "image", "inspect", "")
	if r := podprof(t, "__complete", "image", "inspect", ""); r.stdout != podman.stdout {
		t.Errorf("podprof __complete image inspect: %q, podman's: %q", r.stdout, podman.stdout)
	}
}

// A real bash completes with podprof's script, and with podman's own under
// alias podman=podprof.
func TestBashCompletion(t *testing.T) {
	script := filepath.Join(t.TempDir(), "podprof.bash")
	if r := podprof(t, "completion", "-f", script, "bash"); r.code != 0 {
		t.Fatalf("podprof completion bash: exit %d: %s", r.code, r.stderr)
	}
	complete := func(setup, line string) string {
		t.Helper()
		words := strings.Fields(line)
		if strings.HasSuffix(line, " ") {
			words = append(words, "")
		}
		program := "__start_" + words[0]
		shell := `source /usr/share/bash-completion/bash_completion || exit 1
` + setup + `
complete -p ` + words[0] + ` >/dev/null || exit 1
COMP_LINE='` + line + `'; COMP_POINT=${#COMP_LINE}; COMP_WORDS=(` + strings.Join(quoteAll(words), " ") + `); COMP_CWORD=$((${#COMP_WORDS[@]}-1))
` + program + ` ` + words[0] + ` "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"`
		cmd := exec.Command("bash", "--norc", "-i", "-c", shell)
		cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(podprofBin)+":"+os.Getenv("PATH"))
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("bash completing %q: %v\n%s", line, err, out)
		}
		return string(out)
	}
	if got := complete("source "+script, "podprof repo"); strings.TrimSpace(got) != "report" {
		t.Errorf("podprof repo<TAB>: %q, want report", got)
	}
	if got := complete("source "+script, "podprof run --podprof-se"); !strings.Contains(got, "--podprof-seccomp") {
		t.Errorf("podprof run --podprof-se<TAB>: %q, want --podprof-seccomp", got)
	}
	const podmanScript = "/usr/share/bash-completion/completions/podman"
	if got := complete("alias podman=podprof; source "+podmanScript, "podman sb"); strings.TrimSpace(got) != "sbom" {
		t.Errorf("with alias podman=podprof, podman sb<TAB>: %q, want sbom", got)
	}
	if got := complete("source "+podmanScript, "podman sb"); strings.TrimSpace(got) != "" {
		t.Errorf("without the alias, podman sb<TAB>: %q, want nothing", got)
	}
}

func quoteAll(words []string) []string {
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = "'" + w + "'"
	}
	return quoted
}
