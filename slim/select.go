// Package slim builds the smaller image of `podprof slim`: from an image and
// what profiles of its containers used, one layer holding only the files a
// run needs, with the tar headers they have in the image, under the image's
// own config.
package slim

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/podprof/podprof/report"
)

// Needs are what a container of the image needs beyond what the profiles
// saw it open: the tracer leaves out on purpose what the runtime reads
// before the workload starts, and a run may not have exercised every path.
type Needs struct {
	WorkingDir string   // the image's WORKDIR: the runtime enters it
	Volumes    []string // the image's VOLUMEs: podman copies their contents up
	// Include are paths or path.Match globs the user asks to keep, with
	// everything under the directories they name.
	Include []string
	// Exclude are paths or globs never kept, with everything under them,
	// though the profiles used them.
	Exclude []string
}

// runtimeFiles are read by podman and the OCI runtime, not the workload,
// before the container's first instruction: the tracer does not see them.
// A USER given by name is looked up in them; podman also reads them to
// set HOME and the supplementary groups of any user.
var runtimeFiles = []string{"/etc/passwd", "/etc/group", "/tmp"}

// A Selection is the set of names of the image a slim image keeps.
type Selection struct {
	image *report.Image
	keep  map[*report.Node]bool
	// expanded are the nodes whose whole subtree is kept already: links
	// may lead back into a tree being kept.
	expanded map[*report.Node]bool
}

// Select returns what the slim image of u's image keeps: every used file
// with all its names, every symbolic link a used path goes through, every
// touched directory, what needs names, and the directories above all of
// them.
func Select(u *report.Usage, needs Needs) (*Selection, error) {
	s := &Selection{image: u.Image, keep: make(map[*report.Node]bool), expanded: make(map[*report.Node]bool)}
	u.Image.Root.Walk(func(n *report.Node) bool {
		if n.Parent != nil && u.IsUsed(n) {
			s.keep[n] = true
		}
		return true
	})
	for n := range s.keep {
		for _, stated := range statedByPython(n) {
			s.keep[stated] = true
		}
	}
	for _, p := range runtimeFiles {
		s.keepPath(p, false)
	}
	if needs.WorkingDir != "" {
		s.keepPath(needs.WorkingDir, false)
	}
	for _, v := range needs.Volumes {
		s.keepPath(v, true)
	}
	for _, pattern := range needs.Include {
		matches, err := s.match(pattern)
		if err != nil {
			return nil, fmt.Errorf("--include %s: %w", report.Printable(pattern), err)
		}
		for _, n := range matches {
			s.keepPath(n.Path(), true)
		}
	}
	for _, pattern := range needs.Exclude {
		matches, err := s.match(pattern)
		if err != nil {
			return nil, fmt.Errorf("--exclude %s: %w", report.Printable(pattern), err)
		}
		for _, n := range matches {
			n.Walk(func(below *report.Node) bool {
				delete(s.keep, below)
				return true
			})
		}
	}
	for n := range s.keep {
		for dir := n.Parent; dir != nil && dir.Parent != nil && !s.keep[dir]; dir = dir.Parent {
			s.keep[dir] = true
		}
	}
	return s, nil
}

// statedByPython are the files Python needs beside n, a used name, that
// it only stats, which no tracer sees:
//   - the source of cached bytecode (DIR/__pycache__/NAME.TAG[.opt-N].pyc):
//     Python opens the cached file only, but uses it only beside its
//     source (PEP 3147), and without it the import fails;
//   - the landmarks by which it finds its standard library from a used
//     lib/pythonX.Y: os.py and lib-dynload, which it looks for before
//     importing anything (os itself is frozen into the interpreter).
func statedByPython(n *report.Node) []*report.Node {
	var stated []*report.Node
	keep := func(c *report.Node) {
		if c != nil {
			stated = append(stated, c)
		}
	}
	switch {
	case n.Kind == report.Regular && n.Parent != nil && n.Parent.Name == "__pycache__" && n.Parent.Parent != nil && strings.HasSuffix(n.Name, ".pyc"):
		if module, _, found := strings.Cut(n.Name, "."); found {
			keep(n.Parent.Parent.Child(module + ".py"))
		}
	case n.Kind == report.Dir && n.Parent != nil && n.Parent.Name == "lib" && pythonLibDir.MatchString(n.Name):
		keep(n.Child("os.py"))
		keep(n.Child("lib-dynload"))
	}
	return stated
}

var pythonLibDir = regexp.MustCompile(`^python\d+\.\d+$`)

// keepPath keeps what p names, the links on the way to it, and with
// subtree everything under it. A path the image lacks keeps nothing: the
// original image has no such file either.
func (s *Selection) keepPath(p string, subtree bool) {
	n, links, err := s.image.ResolveLinks(p)
	if exact := s.image.Lookup(path.Clean("/" + p)); exact != nil {
		s.keep[exact] = true // a dangling link is kept as it is
	}
	if err != nil {
		return
	}
	for _, link := range links {
		s.keep[link] = true
	}
	if n.Parent == nil {
		return // the root is not an entry of the layer
	}
	if !subtree {
		s.keep[n] = true
		return
	}
	n.Walk(func(below *report.Node) bool {
		if s.expanded[below] {
			return false
		}
		s.expanded[below] = true
		s.keep[below] = true
		if below.Kind == report.Symlink {
			s.keepPath(below.Path(), true)
		}
		return true
	})
}

// match returns the names of the image that the path or path.Match glob
// pattern matches, and fails when there is none: a pattern that keeps
// nothing is a mistake the user wants to hear of.
func (s *Selection) match(pattern string) ([]*report.Node, error) {
	if !strings.HasPrefix(pattern, "/") {
		return nil, fmt.Errorf("give an absolute path or glob")
	}
	pattern = path.Clean(pattern)
	if _, err := path.Match(pattern, "/"); err != nil {
		return nil, err
	}
	var matches []*report.Node
	s.image.Root.Walk(func(n *report.Node) bool {
		if n.Parent != nil {
			if ok, _ := path.Match(pattern, n.Path()); ok {
				matches = append(matches, n)
			}
		}
		return true
	})
	if len(matches) == 0 {
		return nil, fmt.Errorf("matches nothing in the image")
	}
	return matches, nil
}

// Keeps reports whether the selection keeps n.
func (s *Selection) Keeps(n *report.Node) bool { return s.keep[n] }

// Paths returns the kept names, sorted: a directory comes before what it
// holds.
func (s *Selection) Paths() []string {
	paths := make([]string, 0, len(s.keep))
	for n := range s.keep {
		paths = append(paths, n.Path())
	}
	slices.Sort(paths)
	return paths
}
