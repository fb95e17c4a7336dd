package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/podprof/podprof/report"
	"github.com/podprof/podprof/tracerd/hook"
)

// DefaultProfileDir is where podprof run writes profiles unless
// --podprof-output says otherwise, and where a PROFILE named by its
// container is looked for.
const DefaultProfileDir = "/var/lib/podprof/profiles"

// ProfileDir is DefaultProfileDir for root; a user without root, who can't
// write there, has its own: $XDG_DATA_HOME/podprof/profiles
// (~/.local/share/podprof/profiles).
func ProfileDir() string {
	if hook.Privileged() {
		return DefaultProfileDir
	}
	data := os.Getenv("XDG_DATA_HOME")
	if data == "" {
		home, _ := os.UserHomeDir()
		data = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(data, "podprof", "profiles")
}

// ProfilePaths turns what the user named into profile files: a file as
// given; a container's name or id prefix as the newest of its profiles in
// ProfileDir (how `podprof run -d` users find theirs); nothing as
// the newest profile there.
func ProfilePaths(args []string) ([]string, error) {
	saved := savedProfiles()
	if len(args) == 0 {
		if len(saved) == 0 {
			return nil, fmt.Errorf("no profile given, and none in %s: name a PROFILE file", ProfileDir())
		}
		return saved[:1], nil
	}
	paths := make([]string, 0, len(args))
	for _, arg := range args {
		if _, err := os.Stat(arg); err == nil || strings.ContainsRune(arg, '/') || strings.HasSuffix(arg, ".json") {
			paths = append(paths, arg) // a file; reading it says what is wrong with it
			continue
		}
		path, err := containerProfile(saved, arg)
		if err != nil {
			return nil, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// containerProfile finds, newest first, the profile of a container.
func containerProfile(saved []string, container string) (string, error) {
	for _, path := range saved {
		p, err := report.ReadProfile(path)
		if err != nil {
			continue
		}
		if ofContainer(p, container) {
			return path, nil
		}
	}
	return "", errors.New("no profile of container " + report.Printable(container) + " in " + ProfileDir() +
		": a container's profile is written when it ends; or name a PROFILE file")
}

// ofContainer says whether p is a profile of the container named by its
// name or an ID prefix of 3 characters at least, the way commands take a
// container's name for its profile (ProfilePaths).
func ofContainer(p *report.Profile, container string) bool {
	return p != nil && (p.Container.Name == container || (len(container) >= 3 && strings.HasPrefix(p.Container.ID, container)))
}

// savedProfiles lists the profiles in ProfileDir, newest first.
func savedProfiles() []string {
	paths, _ := filepath.Glob(filepath.Join(ProfileDir(), "*.json"))
	modified := make(map[string]int64, len(paths))
	for _, path := range paths {
		if st, err := os.Stat(path); err == nil {
			modified[path] = st.ModTime().UnixNano()
		}
	}
	sort.Slice(paths, func(i, j int) bool { return modified[paths[i]] > modified[paths[j]] })
	return paths
}
