package pkgdb

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/podprof/podprof/report"
)

// readDistro reads what the image says of its distribution: os-release's
// ID and VERSION_ID, and the family and release as Trivy's OS analyzers
// name them, from the files they read.
func readDistro(tree *report.Image, readFile ReadFileFunc) (Distro, error) {
	var d Distro
	osRelease, err := readOSRelease(tree, readFile)
	if err != nil {
		return Distro{}, err
	}
	if osRelease != nil {
		d.ID, d.VersionID = osReleaseValue(osRelease, "ID"), osReleaseValue(osRelease, "VERSION_ID")
	}
	d.Family, d.Release, err = scannerOS(tree, readFile, d)
	return d, err
}

// readOSRelease returns /etc/os-release, or /usr/lib/os-release where the
// first is missing, as os-release(5) says; nil when the image has neither.
func readOSRelease(tree *report.Image, readFile ReadFileFunc) ([]byte, error) {
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		data, err := readIfPresent(tree, readFile, p)
		if data != nil || err != nil {
			return data, err
		}
	}
	return nil, nil
}

// osReleaseValue returns the value of key in os-release's KEY=VALUE lines,
// quoted as in a shell or not.
func osReleaseValue(data []byte, key string) string {
	for line := range strings.SplitSeq(string(data), "\n") {
		k, value, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok || k != key {
			continue
		}
		if unquoted, err := strconv.Unquote(value); err == nil {
			return unquoted
		}
		return strings.Trim(value, `'"`)
	}
	return ""
}

// The distribution families scanners name in package URLs (Trivy's
// ftypes.OSType, lower case).
const (
	familyDebian = "debian"
	familyUbuntu = "ubuntu"
	familyAlpine = "alpine"
	familyRedHat = "redhat"
)

// redhatRelease is the line of /etc/redhat-release and its kin, as
// Trivy's redhatbase analyzer reads it: "NAME release VERSION (CODENAME)".
var redhatRelease = regexp.MustCompile(`(.*) release (\d[\d\.]*)`)

// redhatFamilies names the family of a redhat-release line's NAME, lower
// case; any other NAME is Red Hat's.
var redhatFamilies = map[string]string{
	"centos": "centos", "centos linux": "centos",
	"rocky": "rocky", "rocky linux": "rocky",
	"alma": "alma", "almalinux": "alma", "alma linux": "alma",
	"oracle": "oracle", "oracle linux": "oracle", "oracle linux server": "oracle",
	"fedora": "fedora", "fedora linux": "fedora",
}

// osReleaseFamilies are the os-release IDs Trivy's os-release analyzer
// knows, and their family.
var osReleaseFamilies = map[string]string{
	"alpine":              familyAlpine,
	"opensuse-tumbleweed": "opensuse-tumbleweed",
	"opensuse-leap":       "opensuse-leap",
	"opensuse":            "opensuse-leap", // Leap 42
	"sles":                "sles",
	"photon":              "photon",
	"wolfi":               "wolfi",
}

// scannerOS returns the image's distribution family and release as Trivy
// finds them, which are the namespace and distro qualifier of the package
// URLs it matches: the release files of its analyzers (pkg/fanal/analyzer/os
// in github.com/aquasecurity/trivy), where a Debian or Red Hat answer gives
// way to a more specific one as Trivy's OS.Merge does (Ubuntu has
// /etc/debian_version too, Oracle Linux /etc/redhat-release). An image none
// of them knows keeps os-release's ID and VERSION_ID.
func scannerOS(tree *report.Image, readFile ReadFileFunc, d Distro) (family, release string, err error) {
	firstLine := func(p string) (string, error) {
		data, err := readIfPresent(tree, readFile, p)
		line, _, _ := strings.Cut(string(data), "\n")
		return line, err
	}
	// Specific answers first: the first of them wins.
	lsb, err := readIfPresent(tree, readFile, "/etc/lsb-release")
	if err != nil {
		return "", "", err
	}
	if strings.Contains("\n"+string(lsb), "\nDISTRIB_ID=Ubuntu\n") {
		if release := strings.TrimSpace(osReleaseValue(lsb, "DISTRIB_RELEASE")); release != "" {
			return familyUbuntu, release, nil
		}
	}
	alpine, err := firstLine("/etc/alpine-release")
	if err != nil || alpine != "" {
		return familyAlpine, alpine, err
	}
	for _, p := range []string{"/etc/centos-release", "/etc/rocky-release", "/etc/almalinux-release", "/etc/oracle-release", "/etc/fedora-release", "/usr/lib/fedora-release"} {
		line, err := firstLine(p)
		if err != nil {
			return "", "", err
		}
		if m := redhatRelease.FindStringSubmatch(strings.TrimSpace(line)); m != nil && redhatFamilies[strings.ToLower(m[1])] != "" {
			return redhatFamilies[strings.ToLower(m[1])], m[2], nil
		}
	}
	if family := osReleaseFamilies[d.ID]; family != "" && d.VersionID != "" {
		return family, d.VersionID, nil
	}
	// Then those a more specific one overrides.
	line, err := firstLine("/etc/redhat-release")
	if err != nil {
		return "", "", err
	}
	if m := redhatRelease.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
		if family := redhatFamilies[strings.ToLower(m[1])]; family != "" {
			return family, m[2], nil
		}
		return familyRedHat, m[2], nil
	}
	debian, err := firstLine("/etc/debian_version")
	if err != nil || debian != "" {
		return familyDebian, debian, err
	}
	return d.ID, d.VersionID, nil
}
