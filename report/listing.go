package report

import (
	"cmp"
	"slices"
	"strings"
)

// An Entry is one name in a directory listing, with the files and bytes it
// stands for: a directory's rollup, or a file itself. It is what the tree
// report and the explorer show for each line.
type Entry struct {
	Node *Node
	// Total and Used count a directory's files at any depth, as DirUsage
	// does, and a file as one file of its size. A file with several names
	// (hard links) is counted under its first name in tree order only, so
	// that the entries of a directory add up to the directory; its other
	// names count nothing and say where it is counted in CountedAs.
	Total Counts
	Used  Counts
	// InUse is true for a used file, or a touched directory: one with a
	// used name below it, or that was opened itself (docs/accounting.md).
	InUse bool
	// CountedAs is, for a further name of a hard-linked file, the name its
	// files and bytes are counted under; nil otherwise.
	CountedAs *Node
}

// Unused is what the entry stands for that was not used.
func (e Entry) Unused() Counts {
	return Counts{Bytes: e.Total.Bytes - e.Used.Bytes, Files: e.Total.Files - e.Used.Files}
}

// HasUnused reports whether the entry stands for a file that was not used.
func (e Entry) HasUnused() bool {
	return e.Total.Files > e.Used.Files
}

// Share is the used part of the entry, 0 to 1: of its bytes, or of its
// files when they weigh nothing (symbolic links, empty files). ok is false
// when the entry stands for no file at all: an empty directory, or a
// further name of a hard-linked file.
func (e Entry) Share() (share float64, ok bool) {
	switch {
	case e.Total.Bytes > 0:
		return float64(e.Used.Bytes) / float64(e.Total.Bytes), true
	case e.Total.Files > 0:
		return float64(e.Used.Files) / float64(e.Total.Files), true
	}
	return 0, false
}

// Entry returns the listing entry of n, a node of the joined image.
func (u *Usage) Entry(n *Node) Entry {
	e := Entry{Node: n, InUse: u.IsUsed(n)}
	if n.Kind == Dir {
		if du := u.dirs[n]; du != nil {
			e.Total, e.Used = du.Total, du.Used
		}
		return e
	}
	if first := u.counted[n.Inode]; first != nil && first != n {
		e.CountedAs = first
		return e
	}
	e.Total.add(n.Inode)
	if e.InUse {
		e.Used.add(n.Inode)
	}
	return e
}

// Order is how a listing sorts the entries of a directory.
type Order uint8

const (
	// BySize puts the most bytes first, then the most files, then names
	// in byte order.
	BySize Order = iota
	// ByName sorts by the bytes of the names.
	ByName
)

func (o Order) String() string {
	if o == ByName {
		return "name"
	}
	return "size"
}

// ListOptions choose what a directory listing shows and in what order.
type ListOptions struct {
	Order Order
	// UnusedOnly keeps the entries that stand for at least one unused
	// file: unused files, and directories with an unused file below.
	UnusedOnly bool
	// NameContains keeps the entries whose name contains it, ignoring
	// case (the explorer's / filter); "" keeps all.
	NameContains string
}

// List returns the entries of the directory dir, sorted and filtered as
// opts say. It returns nil for a node that is not a directory.
func (u *Usage) List(dir *Node, opts ListOptions) []Entry {
	if dir == nil || dir.Kind != Dir {
		return nil
	}
	entries := make([]Entry, 0, len(dir.Children))
	contains := strings.ToLower(opts.NameContains)
	for _, c := range dir.Children {
		if contains != "" && !strings.Contains(strings.ToLower(c.Name), contains) {
			continue
		}
		e := u.Entry(c)
		if opts.UnusedOnly && !e.HasUnused() {
			continue
		}
		entries = append(entries, e)
	}
	SortEntries(entries, opts.Order)
	return entries
}

// SortEntries sorts the entries of one directory in place.
func SortEntries(entries []Entry, order Order) {
	byName := func(a, b Entry) int { return strings.Compare(a.Node.Name, b.Node.Name) }
	if order == ByName {
		slices.SortFunc(entries, byName)
		return
	}
	slices.SortFunc(entries, func(a, b Entry) int {
		return cmp.Or(cmp.Compare(b.Total.Bytes, a.Total.Bytes), cmp.Compare(b.Total.Files, a.Total.Files), byName(a, b))
	})
}

// displayName is how a listing shows an entry's name on a terminal:
// escaped, "/" after a directory, a symbolic link's target after "->", and
// for a further name of a hard-linked file the name it is counted under.
func displayName(e Entry) string {
	name := Printable(e.Node.Name)
	if e.Node.Parent == nil {
		return "/"
	}
	switch {
	case e.Node.Kind == Dir:
		name += "/"
	case e.Node.Kind == Symlink:
		name += " -> " + Printable(e.Node.Target)
	}
	if e.CountedAs != nil {
		name += " (hard link, counted as " + Printable(e.CountedAs.Path()) + ")"
	}
	return name
}
