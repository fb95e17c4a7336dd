package report

import (
	"cmp"
	"slices"
	"strings"
)

// Counts is a number of files and the bytes of their contents.
type Counts struct {
	Bytes int64 `json:"bytes"`
	Files int64 `json:"files"`
}

func (c *Counts) add(inode *Inode) {
	c.Bytes += inode.Size
	c.Files++
}

// DirUsage rolls up the files below one directory.
type DirUsage struct {
	Node    *Node
	Total   Counts
	Used    Counts
	Touched bool // a used name is below it, or it was opened itself
}

// LayerUsage is what one layer put in the final tree and how much of
// that was used.
type LayerUsage struct {
	LayerInfo
	Used Counts
}

// Usage is an image's files joined with what a profile says was opened.
// See docs/accounting.md for what counts as used.
type Usage struct {
	Image   *Image
	Profile *Profile
	Used    Counts
	// Outside lists the profile's paths that are not in the image: volumes,
	// /proc, /dev, /sys, files the container created. They are kept apart
	// and never enter the image's percentages.
	Outside []File

	used    map[*Inode]bool
	opened  map[*Node]bool // directories the profile names
	touched map[*Node]bool
	dirs    map[*Node]*DirUsage
	layers  []LayerUsage
	// counted maps each inode to the name it is counted under in the
	// rollups: the first of its names in walk order.
	counted map[*Inode]*Node
}

// Join marks the files of img that the profile says were opened.
//
// The kernel reports paths with every symbolic link resolved (/bin/sh shows
// up as /usr/bin/dash), so it never says which links were gone through.
// Join therefore counts as used every link of the image that leads to a used
// file or to a directory holding one: deleting such a link could break the
// workload. A path that names a link, or goes through links (as a
// tracepoint tracer may report it), is followed the same way.
func Join(img *Image, p *Profile) *Usage {
	u := &Usage{
		Image:   img,
		Profile: p,
		used:    make(map[*Inode]bool),
		opened:  make(map[*Node]bool),
	}
	for _, f := range p.Files {
		// A truncated path is the tail of a longer one: it names no file
		// of the image, even when the tail happens to exist.
		if f.Truncated || !u.markProfilePath(f.Path) {
			u.Outside = append(u.Outside, f)
		}
	}
	u.markLinksToUsed()
	u.rollUp()
	return u
}

// markProfilePath marks what path names in the image as used, and reports
// whether it named anything there.
func (u *Usage) markProfilePath(path string) bool {
	if !strings.HasPrefix(path, "/") {
		return false // relative to a working directory nobody recorded
	}
	// An exact name comes first: a link opened with O_PATH|O_NOFOLLOW is
	// in the image even when it dangles.
	exact := u.Image.Lookup(path)
	if exact != nil {
		u.mark(exact)
		if exact.Kind != Symlink {
			return true
		}
	}
	var followed []*Node
	target, err := u.Image.resolve(path, func(link *Node) { followed = append(followed, link) })
	if err == nil {
		u.mark(target)
		for _, link := range followed {
			u.mark(link)
		}
	}
	return exact != nil || err == nil
}

func (u *Usage) mark(n *Node) {
	if n.Kind == Dir {
		u.opened[n] = true
	} else {
		u.used[n.Inode] = true
	}
}

// markLinksToUsed marks the symbolic links that resolve to a used file or
// a touched directory. Marking a link touches its directory, which another
// link may point to, so it repeats until nothing changes.
func (u *Usage) markLinksToUsed() {
	var links []*Node
	u.Image.Root.Walk(func(n *Node) bool {
		if n.Kind == Symlink {
			links = append(links, n)
		}
		return true
	})
	for {
		u.touched = u.touchedDirs()
		changed := false
		for _, link := range links {
			if u.used[link.Inode] {
				continue
			}
			target, err := u.Image.Resolve(link.Path())
			if err != nil {
				continue // dangling or looping: leads nowhere that was used
			}
			if u.used[target.Inode] || u.touched[target] {
				u.used[link.Inode] = true
				changed = true
			}
		}
		if !changed {
			return
		}
	}
}

// touchedDirs returns the directories that hold a name of a used inode, or
// that the profile names, and all their ancestors.
func (u *Usage) touchedDirs() map[*Node]bool {
	touched := make(map[*Node]bool)
	touchUp := func(dir *Node) {
		for ; dir != nil && !touched[dir]; dir = dir.Parent {
			touched[dir] = true
		}
	}
	u.Image.Root.Walk(func(n *Node) bool {
		switch {
		case n.Kind == Dir && u.opened[n]:
			touchUp(n)
		case n.Kind != Dir && u.used[n.Inode]:
			touchUp(n.Parent)
		}
		return true
	})
	return touched
}

// rollUp sums files and bytes per directory and per layer. An inode with
// several names counts under the first of them in walk order only, so that
// the directories' sums add up to the image's.
func (u *Usage) rollUp() {
	u.dirs = make(map[*Node]*DirUsage)
	u.layers = make([]LayerUsage, len(u.Image.Layers))
	for i, info := range u.Image.Layers {
		u.layers[i].LayerInfo = info
	}
	u.counted = make(map[*Inode]*Node)
	var rollUpDir func(dir *Node) *DirUsage
	rollUpDir = func(dir *Node) *DirUsage {
		du := &DirUsage{Node: dir, Touched: u.touched[dir]}
		for _, c := range dir.Children {
			if c.Kind == Dir {
				sub := rollUpDir(c)
				du.Total.Bytes += sub.Total.Bytes
				du.Total.Files += sub.Total.Files
				du.Used.Bytes += sub.Used.Bytes
				du.Used.Files += sub.Used.Files
				continue
			}
			if u.counted[c.Inode] != nil {
				continue
			}
			u.counted[c.Inode] = c
			du.Total.add(c.Inode)
			if u.used[c.Inode] {
				du.Used.add(c.Inode)
				u.layers[c.Layer].Used.add(c.Inode)
			}
		}
		u.dirs[dir] = du
		return du
	}
	u.Used = rollUpDir(u.Image.Root).Used
}

// Total is the image's files and bytes, as Image.Files and Image.Bytes.
func (u *Usage) Total() Counts {
	return Counts{Bytes: u.Image.Bytes, Files: u.Image.Files}
}

// Unused is what the image has that was not used.
func (u *Usage) Unused() Counts {
	return Counts{Bytes: u.Image.Bytes - u.Used.Bytes, Files: u.Image.Files - u.Used.Files}
}

// UsedPercent is the share of the image's bytes that was used, 0 to 100.
func (u *Usage) UsedPercent() float64 {
	if u.Image.Bytes == 0 {
		return 0
	}
	return 100 * float64(u.Used.Bytes) / float64(u.Image.Bytes)
}

// IsUsed reports whether n's file was used, or for a directory whether it
// was touched.
func (u *Usage) IsUsed(n *Node) bool {
	if n.Kind == Dir {
		return u.touched[n]
	}
	return u.used[n.Inode]
}

// Dir returns the rollup of the directory n; nil when n is not a directory
// of the joined image.
func (u *Usage) Dir(n *Node) *DirUsage {
	return u.dirs[n]
}

// Layers returns, bottom layer first, what each layer contributes to the
// final tree and how much of it was used.
func (u *Usage) Layers() []LayerUsage {
	return slices.Clone(u.layers)
}

// LargestUnusedDirs returns up to limit directories that hold files but
// none that was used, biggest first. Only the topmost such directories are
// listed: once /usr/share/doc is unused, its subdirectories say nothing new.
func (u *Usage) LargestUnusedDirs(limit int) []*DirUsage {
	var unused []*DirUsage
	u.Image.Root.Walk(func(n *Node) bool {
		if n.Kind != Dir {
			return false
		}
		if u.touched[n] {
			return true
		}
		if du := u.dirs[n]; du.Total.Files > 0 {
			unused = append(unused, du)
		}
		return false
	})
	// The walk found them in tree order, which a stable sort keeps for ties.
	slices.SortStableFunc(unused, func(a, b *DirUsage) int {
		return cmp.Or(cmp.Compare(b.Total.Bytes, a.Total.Bytes), cmp.Compare(b.Total.Files, a.Total.Files))
	})
	return unused[:clamp(limit, len(unused))]
}

// LargestUnusedFiles returns up to limit unused regular files, biggest
// first, each hard-linked file under its first name only.
func (u *Usage) LargestUnusedFiles(limit int) []*Node {
	var unused []*Node
	seen := make(map[*Inode]bool)
	u.Image.Root.Walk(func(n *Node) bool {
		if n.Kind == Regular && !u.used[n.Inode] && !seen[n.Inode] {
			unused = append(unused, n)
		}
		if n.Kind != Dir {
			seen[n.Inode] = true
		}
		return true
	})
	// Stable, so that files of the same size stay in tree order: building
	// paths to compare would cost more than the rest of the report.
	slices.SortStableFunc(unused, func(a, b *Node) int { return cmp.Compare(b.Size, a.Size) })
	return unused[:clamp(limit, len(unused))]
}

// clamp bounds a caller's limit to what there is.
func clamp(limit, available int) int {
	return max(0, min(limit, available))
}
