package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/podprof/podprof/podmancmd"
)

// Shell completion. Cobra's completion scripts, podprof's and podman's
// alike, ask the program itself: `PROGRAM __complete ARGS... WORD` prints
// one candidate a line, then :DIRECTIVE. Under alias podman=podprof,
// podman's own script asks podprof. So podprof answers for both: its own
// commands from their definitions, podman's from podman, and the command
// names from both.

// IsCompletionRequest says whether the command is a shell's completion
// request.
func IsCompletionRequest(command string) bool {
	return command == cobra.ShellCompRequestCmd || command == cobra.ShellCompNoDescRequestCmd
}

// Complete answers a completion request (args[0] is IsCompletionRequest)
// and returns the exit status.
func Complete(args []string, stdout, stderr io.Writer) int {
	request, words := args[0], args[1:]
	if len(words) == 0 {
		words = []string{""}
	}
	typed, current := words[:len(words)-1], words[len(words)-1]
	command := typed
	if len(typed) > 0 && strings.HasPrefix(typed[0], "-") {
		// podman's global flags first: podprof --root DIR rep<TAB>.
		var err error
		if _, command, err = podmancmd.SplitGlobalFlags(typed); err != nil {
			return passCompletion(podmanCompletion(args), stdout)
		}
	}
	switch {
	case len(command) == 0 && !strings.HasPrefix(current, "-"):
		// The command word: podman's commands and podprof's, podprof's
		// description for those both have (run, version, completion).
		podman := podmanCompletion(args)
		ours := cobraCompletion(Root(), append([]string{request}, current))
		podman.candidates = slices.DeleteFunc(podman.candidates, func(c string) bool {
			return slices.ContainsFunc(ours.candidates, func(o string) bool { return candidateName(o) == candidateName(c) })
		})
		podman.candidates = append(podman.candidates, ours.candidates...)
		slices.SortFunc(podman.candidates, func(a, b string) int { return strings.Compare(candidateName(a), candidateName(b)) })
		return passCompletion(podman, stdout)
	case len(command) > 0 && IsCommand(command[:1]) && command[0] != "version":
		return passCompletion(cobraCompletion(Root(), append(append([]string{request}, command...), current)), stdout)
	}
	return passCompletion(podmanCompletion(args), stdout)
}

// completeAPICommand completes run's and slim's arguments: podprof-podman
// knows their podprof flags (and all of slim's); podman knows run's own.
func completeAPICommand(cmd *cobra.Command, args []string, current string) ([]string, cobra.ShellCompDirective) {
	request := append(append([]string{cobra.ShellCompRequestCmd, cmd.Name()}, args...), current)
	ours := apiCompletion(request)
	if cmd.Name() != "run" {
		return ours.candidates, ours.directive
	}
	podman := podmanCompletion(request)
	if len(ours.candidates) > 0 && len(args) > 0 && strings.HasPrefix(args[len(args)-1], "--podprof-") {
		return ours.candidates, ours.directive // the value of a podprof flag
	}
	return append(podman.candidates, ours.candidates...), podman.directive
}

// completeValues completes a flag's value from a fixed list.
func completeValues(cmd *cobra.Command, flag string, values ...string) {
	must(cmd.RegisterFlagCompletionFunc(flag, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp)))
}

// completeImages completes a flag's value with the local images, as podman
// completes `podman image inspect`.
func completeImages(cmd *cobra.Command, flag string) {
	must(cmd.RegisterFlagCompletionFunc(flag, func(_ *cobra.Command, _ []string, current string) ([]string, cobra.ShellCompDirective) {
		c := podmanCompletion([]string{cobra.ShellCompRequestCmd, "image", "inspect", current})
		return c.candidates, c.directive
	}))
}

// must panics on what only a mistake in podprof's command definitions
// causes.
func must(err error) {
	if err != nil {
		panic(err)
	}
}

// A completion is an answer to a completion request.
type completion struct {
	candidates []string // "NAME" or "NAME\tDESCRIPTION"
	directive  cobra.ShellCompDirective
}

func candidateName(candidate string) string {
	name, _, _ := strings.Cut(candidate, "\t")
	return name
}

// parseCompletion reads a program's answer; nothing (and the shell's file
// completion) when it gave none.
func parseCompletion(out []byte) completion {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	c := completion{directive: cobra.ShellCompDirectiveDefault}
	if last := lines[len(lines)-1]; strings.HasPrefix(last, ":") {
		if d, err := strconv.Atoi(last[1:]); err == nil {
			c.directive = cobra.ShellCompDirective(d)
		}
		lines = lines[:len(lines)-1]
	}
	for _, line := range lines {
		if line != "" {
			// pflag's `NAME` marks in flag descriptions are for --help.
			c.candidates = append(c.candidates, strings.ReplaceAll(line, "`", ""))
		}
	}
	return c
}

func passCompletion(c completion, stdout io.Writer) int {
	var b strings.Builder
	for _, candidate := range c.candidates {
		b.WriteString(candidate + "\n")
	}
	fmt.Fprintf(&b, ":%d\n", c.directive)
	if _, err := io.WriteString(stdout, b.String()); err != nil {
		return exitError
	}
	return exitOK
}

// podmanCompletion is podman's answer to the request; nothing when podman
// is missing or fails.
func podmanCompletion(request []string) completion {
	podman, err := podmancmd.Find()
	if err != nil {
		return completion{directive: cobra.ShellCompDirectiveDefault}
	}
	return programCompletion(podman, request)
}

// apiCompletion is podprof-podman's answer to the request.
func apiCompletion(request []string) completion {
	path, err := podmancmd.APIPath()
	if err != nil {
		return completion{directive: cobra.ShellCompDirectiveDefault}
	}
	return programCompletion(path, request)
}

func programCompletion(path string, request []string) completion {
	out, _ := exec.Command(path, request...).Output()
	return parseCompletion(out)
}

// cobraCompletion is cobra's answer, from podprof's command definitions
// in root.
func cobraCompletion(root *cobra.Command, request []string) completion {
	var out bytes.Buffer
	root.SetArgs(request)
	root.SetOut(&out)
	root.SetErr(io.Discard)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
	}
	return parseCompletion(out.Bytes())
}
