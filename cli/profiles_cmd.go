package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/podprof/podprof/report"
)

// profilesCommand is the group of commands over the profiles saved in
// ProfileDir, as podman's `image` and `container` groups are over images
// and containers: ls, rm, prune, and diff (podprof's top-level `diff`
// would hide podman's, and alias podman=podprof must keep it).
func profilesCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "profiles",
		Short: "list, remove, prune and compare saved profiles",
		Long: "Manage the profiles podprof run saves in " + profileDirHelp + ".\n" +
			"Nothing outside that directory is ever removed.",
		// As podman's groups: no command is an error that names them.
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fmt.Errorf("missing command '%s COMMAND': use one of ls, rm, prune, diff (see '%s --help')", cmd.CommandPath(), cmd.CommandPath())
		},
	}
	cmd.AddCommand(profilesLsCommand(readSavedProfiles), profilesRmCommand(readSavedProfiles), profilesPruneCommand(readSavedProfiles), profilesDiffCommand())
	return cmd
}

// profileDirHelp names ProfileDir in help texts and man pages, which are
// made once for every user.
const profileDirHelp = "the profile directory (" + DefaultProfileDir + " for root,\n" +
	"$XDG_DATA_HOME/podprof/profiles for a user without root)"

// A savedProfile is one file of ProfileDir.
type savedProfile struct {
	path     string
	size     int64
	modified time.Time // when it was written: the age ls shows and prune reads
	profile  *report.Profile
	err      error // why it could not be read; profile is nil then
}

// readSavedProfiles lists ProfileDir's profiles, newest first, and reads
// each one: unreadable ones are listed too, with the reason, so that ls
// shows them and prune can remove them. Only regular files are listed:
// a link or a directory named *.json is nobody's profile.
func readSavedProfiles() []savedProfile {
	var saved []savedProfile
	for _, path := range savedProfiles() {
		st, err := os.Lstat(path)
		if err != nil || !st.Mode().IsRegular() {
			continue // removed since it was listed, or not a file
		}
		s := savedProfile{path: path, size: st.Size(), modified: st.ModTime()}
		s.profile, s.err = report.ReadProfile(path)
		saved = append(saved, s)
	}
	return saved
}

// removeProfiles removes saved profiles, printing each path removed as
// podman prints each id it removed, and returns the bytes freed. It goes
// on past a failure and returns the first. The paths are ProfileDir's own
// listing: os.Remove takes a link planted there since away, never what
// it points to.
func removeProfiles(stdout io.Writer, saved []savedProfile) (freed int64, err error) {
	for _, s := range saved {
		if rmErr := os.Remove(s.path); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) {
			var pathErr *fs.PathError
			if errors.As(rmErr, &pathErr) {
				rmErr = pathErr.Err // the path is said once, escaped
			}
			if err == nil {
				err = fmt.Errorf("cannot remove profile %s: %w", report.Printable(s.path), rmErr)
			}
			continue
		}
		freed += s.size
		fmt.Fprintln(stdout, report.Printable(s.path))
	}
	return freed, err
}
