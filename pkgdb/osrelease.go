package pkgdb

import (
	"strconv"
	"strings"

	"github.com/podprof/podprof/report"
)

// readOSRelease reads /etc/os-release, or /usr/lib/os-release where the
// first is missing, as os-release(5) says; an image with neither has an
// empty Distro.
func readOSRelease(tree *report.Image, readFile ReadFileFunc) (Distro, error) {
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		data, err := readIfPresent(tree, readFile, p)
		if err != nil {
			return Distro{}, err
		}
		if data != nil {
			return parseOSRelease(data), nil
		}
	}
	return Distro{}, nil
}

// parseOSRelease reads the KEY=VALUE lines of os-release, values quoted
// as in a shell or not.
func parseOSRelease(data []byte) Distro {
	var d Distro
	for line := range strings.SplitSeq(string(data), "\n") {
		key, value, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		if unquoted, err := strconv.Unquote(value); err == nil {
			value = unquoted
		} else {
			value = strings.Trim(value, `'"`)
		}
		switch key {
		case "ID":
			d.ID = value
		case "VERSION_ID":
			d.VersionID = value
		}
	}
	return d
}
