package report

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
)

// Kind is what sort of file an inode is. Only regular files have content;
// every other kind weighs zero bytes in the accounting.
type Kind uint8

const (
	Dir Kind = iota
	Regular
	Symlink
	Other // character and block devices, named pipes
)

func (k Kind) String() string {
	switch k {
	case Dir:
		return "dir"
	case Regular:
		return "file"
	case Symlink:
		return "symlink"
	default:
		return "other"
	}
}

// An Inode is one file of the image. Hard links give a file several names,
// that is several Nodes sharing one Inode; sizes and use belong to the
// Inode, so such a file is counted once however many names it has.
type Inode struct {
	Kind   Kind
	Size   int64  // content bytes of a regular file; 0 for every other kind
	Target string // a symbolic link's target as stored, unresolved
	// Layer indexes Image.Layers: the layer whose entry made this inode (for
	// a directory, the last layer with an entry for it). -1 only for the
	// root, which every image has.
	Layer int
}

// A Node is one name in the image's final filesystem tree.
type Node struct {
	Name     string // raw bytes of the last path component; "" for the root
	Parent   *Node  // nil for the root
	Children []*Node
	*Inode

	// touchedBy is 1 + the index of the last layer that had an entry at or
	// below this node. Whiteouts hide only what lower layers made, so they
	// need to know what the layer being applied already wrote.
	touchedBy int
}

// Path returns the node's absolute path, "/" for the root.
func (n *Node) Path() string {
	if n.Parent == nil {
		return "/"
	}
	var names []string
	for ; n.Parent != nil; n = n.Parent {
		names = append(names, n.Name)
	}
	slices.Reverse(names)
	return "/" + strings.Join(names, "/")
}

// Child returns the child called name, or nil.
func (n *Node) Child(name string) *Node {
	i, found := n.childIndex(name)
	if !found {
		return nil
	}
	return n.Children[i]
}

func (n *Node) childIndex(name string) (int, bool) {
	return slices.BinarySearchFunc(n.Children, name, func(c *Node, name string) int {
		return strings.Compare(c.Name, name)
	})
}

// Walk calls visit for n and every node below it, parents before children
// and children in name order. When visit returns false for a directory, its
// children are skipped.
func (n *Node) Walk(visit func(*Node) bool) {
	if !visit(n) {
		return
	}
	for _, c := range n.Children {
		c.Walk(visit)
	}
}

// maxSymlinkHops is how many symbolic links one resolution may follow
// before it is declared a loop; Linux gives up after 40 as well.
const maxSymlinkHops = 40

// ErrSymlinkLoop is returned when resolving a path follows more than 40
// symbolic links, as the kernel's ELOOP.
var ErrSymlinkLoop = errors.New("too many levels of symbolic links")

// ErrNotDir is returned when a path goes through something that is not a
// directory, as the kernel's ENOTDIR.
var ErrNotDir = errors.New("not a directory")

// Lookup returns the node at the absolute path p without following any
// symbolic link, or nil. Empty, "." and ".." components are not
// interpreted: p is expected to be clean, as the kernel reports paths.
func (img *Image) Lookup(p string) *Node {
	n := img.Root
	for _, name := range strings.Split(p, "/") {
		if name == "" {
			continue
		}
		if n = n.Child(name); n == nil {
			return nil
		}
	}
	return n
}

// Resolve returns what the absolute path p names in the container, as the
// kernel would find it: symbolic links are followed wherever they are in
// the path, including the last component; absolute targets start again at
// the image root, relative ones at the link's directory; ".." never leaves
// the root. Errors wrap fs.ErrNotExist, ErrNotDir or ErrSymlinkLoop.
func (img *Image) Resolve(p string) (*Node, error) {
	return img.resolve(p, nil)
}

// ResolveLinks is Resolve that also returns the symbolic links it
// followed on the way, in order: what must stay for p to lead to the same
// file.
func (img *Image) ResolveLinks(p string) (*Node, []*Node, error) {
	var links []*Node
	n, err := img.resolve(p, func(link *Node) { links = append(links, link) })
	return n, links, err
}

// resolve is Resolve that also reports each symbolic link it follows, so
// that a join can count the links a path went through as used.
func (img *Image) resolve(p string, followed func(*Node)) (*Node, error) {
	current := img.Root
	rest := p
	hops := 0
	for rest != "" {
		var name string
		name, rest, _ = strings.Cut(strings.TrimLeft(rest, "/"), "/")
		if name == "" {
			break // only slashes were left
		}
		if current.Kind != Dir {
			return nil, fmt.Errorf("resolving %s: %w", Printable(p), ErrNotDir)
		}
		switch name {
		case ".":
			continue
		case "..":
			if current.Parent != nil {
				current = current.Parent
			}
			continue
		}
		next := current.Child(name)
		if next == nil {
			return nil, fmt.Errorf("resolving %s: %w", Printable(p), fs.ErrNotExist)
		}
		if next.Kind != Symlink {
			current = next
			continue
		}
		if hops++; hops > maxSymlinkHops {
			return nil, fmt.Errorf("resolving %s: %w", Printable(p), ErrSymlinkLoop)
		}
		if next.Target == "" {
			return nil, fmt.Errorf("resolving %s: empty symbolic link %s: %w", Printable(p), Printable(next.Path()), fs.ErrNotExist)
		}
		if followed != nil {
			followed(next)
		}
		if strings.HasPrefix(next.Target, "/") {
			current = img.Root
		}
		// current stays the link's directory for a relative target.
		rest = next.Target + "/" + rest
	}
	return current, nil
}
