package report

import (
	"fmt"
	"io"
	"strconv"
)

// DefaultTreeDepth is how many levels below the root a tree report lists
// unless told otherwise: /usr/lib/x86_64-linux-gnu, but not its files.
const DefaultTreeDepth = 3

// TreeOptions choose what WriteTree lists.
type TreeOptions struct {
	// Depth is how many levels below the root are listed: 0 lists the
	// root alone, 1 its entries, and so on. A directory at the last level
	// still shows the totals of everything below it.
	Depth int
	ListOptions
}

// WriteTree writes the image's tree as a person reads it on a terminal:
// one line per entry, down to opts.Depth levels, each with its bytes, the
// bytes of it that were used, that share, and how many of its files were
// used; "*" marks a used file or a touched directory. Every name from the
// container is escaped.
func (u *Usage) WriteTree(w io.Writer, opts TreeOptions) error {
	type row struct {
		branch string
		entry  Entry
		cols   [4]string
	}
	var rows []row
	add := func(branch string, e Entry) {
		size, used, share, files := entryColumns(e)
		rows = append(rows, row{branch, e, [4]string{size, used, share, files}})
	}
	var walk func(dir *Node, prefix string, depth int)
	walk = func(dir *Node, prefix string, depth int) {
		if depth >= opts.Depth {
			return
		}
		entries := u.List(dir, opts.ListOptions)
		for i, e := range entries {
			branch, below := "├── ", "│   "
			if i == len(entries)-1 {
				branch, below = "└── ", "    "
			}
			add(prefix+branch, e)
			if e.Node.Kind == Dir {
				walk(e.Node, prefix+below, depth+1)
			}
		}
	}
	add("", u.Entry(u.Image.Root))
	walk(u.Image.Root, "", 0)

	header := [4]string{"SIZE", "USED", "USED%", "USED/FILES"}
	var widths [4]int
	for i, h := range header {
		widths[i] = len(h)
	}
	for _, r := range rows {
		for i, c := range r.cols {
			widths[i] = max(widths[i], len(c))
		}
	}
	tw := &textWriter{w: w}
	tw.printf("%s\n", imageLine(u.Profile.Image.Name, u.Profile.Image.ID, u.Profile.Tracer))
	tw.printf("%*s  %*s  %*s  %*s  NAME (* used)\n", widths[0], header[0], widths[1], header[1], widths[2], header[2], widths[3], header[3])
	for _, r := range rows {
		mark := " "
		if r.entry.InUse {
			mark = "*"
		}
		tw.printf("%*s  %*s  %*s  %*s  %s %s%s\n", widths[0], r.cols[0], widths[1], r.cols[1], widths[2], r.cols[2], widths[3], r.cols[3], mark, r.branch, displayName(r.entry))
	}
	if tw.err != nil {
		return fmt.Errorf("writing tree: %w", tw.err)
	}
	return nil
}

// entryColumns renders an entry's numbers as the tree and the explorer
// show them: size, used size, used share of the bytes ("-" for an entry of
// no bytes), and used/all files.
func entryColumns(e Entry) (size, used, share, files string) {
	size = HumanBytes(e.Total.Bytes)
	used = HumanBytes(e.Used.Bytes)
	share = percentOf(e.Used.Bytes, e.Total.Bytes)
	files = strconv.FormatInt(e.Used.Files, 10) + "/" + strconv.FormatInt(e.Total.Files, 10)
	return
}

// percentOf renders part/whole as "12.3%", "-" when whole is 0.
func percentOf(part, whole int64) string {
	if whole == 0 {
		return "-"
	}
	return strconv.FormatFloat(100*float64(part)/float64(whole), 'f', 1, 64) + "%"
}
