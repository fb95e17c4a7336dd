package cli

import (
	"errors"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/podprof/podprof/report"
)

// profilesRmCommand removes of what list returns: readSavedProfiles, or
// a test's profiles.
func profilesRmCommand(list func() []savedProfile) *cobra.Command {
	return &cobra.Command{
		Use:     "rm PROFILE|CONTAINER...",
		Aliases: []string{"remove"},
		Args:    cobra.MinimumNArgs(1),
		Short:   "remove saved profiles",
		Long: "Remove profiles saved in " + profileDirHelp + ":\n" +
			"a profile by its path or its file name there, or every profile of a container by\n" +
			"its name or ID prefix. Each path removed is printed. Nothing is removed unless every\n" +
			"argument names a saved profile, and nothing outside that directory ever is.",
		Example: `  podprof profiles rm quirky_hopper
  podprof profiles rm web-20250301-120005.000.json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			chosen, err := profilesNamed(list(), args)
			if err != nil {
				return err
			}
			_, err = removeProfiles(cmd.OutOrStdout(), chosen)
			return err
		},
	}
}

// profilesNamed returns the saved profiles args name, each once, in the
// list's order: a saved profile's path (as given, or absolute) or file
// name, else every profile of a container by name or ID prefix (3
// characters at least, as ProfilePaths). An argument that names none is
// an error, before anything is removed.
func profilesNamed(saved []savedProfile, args []string) ([]savedProfile, error) {
	chosen := make([]bool, len(saved))
	for _, arg := range args {
		abs, _ := filepath.Abs(arg)
		found := false
		for i, s := range saved {
			if arg == s.path || abs == s.path || arg == filepath.Base(s.path) || ofContainer(s.profile, arg) {
				chosen[i], found = true, true
			}
		}
		if !found {
			if strings.ContainsRune(arg, '/') || strings.HasSuffix(arg, ".json") {
				return nil, errors.New(report.Printable(arg) + " is not a profile saved in " + ProfileDir() +
					": profiles rm removes saved profiles only (see podprof profiles ls)")
			}
			return nil, errors.New("no saved profile of container " + report.Printable(arg) + " in " + ProfileDir() +
				": see podprof profiles ls")
		}
	}
	var list []savedProfile
	for i, s := range saved {
		if chosen[i] {
			list = append(list, s)
		}
	}
	return list, nil
}
