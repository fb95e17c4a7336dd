package cli

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/podprof/podprof/report"
)

type profilesPruneOptions struct {
	olderThan string
	keep      int
	force     bool
}

// profilesPruneCommand prunes what list returns: readSavedProfiles, or
// a test's profiles.
func profilesPruneCommand(list func() []savedProfile) *cobra.Command {
	var o profilesPruneOptions
	cmd := &cobra.Command{
		Use:   "prune [--older-than DURATION] [--keep N] [-f]",
		Args:  cobra.NoArgs,
		Short: "remove saved profiles: all, those older than a duration, all but the newest",
		Long: "Remove the profiles saved in " + profileDirHelp + ":\n" +
			"all of them, or those written more than --older-than ago, and never the --keep\n" +
			"newest. Unreadable files named *.json there count as profiles. As podman's prune\n" +
			"commands, it asks first unless --force is given, then prints each path removed\n" +
			"and the space freed.",
		Example: `  podprof profiles prune --older-than 7d
  podprof profiles prune --keep 20 -f`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd, list(), time.Now())
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&o.olderThan, "older-than", "", "only profiles written more than `DURATION` ago (90m, 24h, 7d)")
	flags.IntVar(&o.keep, "keep", 0, "keep the `N` newest profiles")
	flags.BoolVarP(&o.force, "force", "f", false, "do not ask for confirmation")
	return cmd
}

func (o *profilesPruneOptions) run(cmd *cobra.Command, saved []savedProfile, now time.Time) error {
	if o.keep < 0 {
		return fmt.Errorf("invalid --keep %d: give 0 or more profiles to keep", o.keep)
	}
	var age time.Duration
	if cmd.Flags().Changed("older-than") {
		var err error
		if age, err = parseAge(o.olderThan); err != nil {
			return fmt.Errorf("invalid --older-than: %w", err)
		}
	}
	doomed := pruneSelect(saved, now, age, o.keep)
	if len(doomed) == 0 {
		return nil
	}
	if !o.force {
		fmt.Fprintf(cmd.OutOrStdout(), "WARNING! This command removes %d of the %d profiles in %s%s.\nAre you sure you want to continue? [y/N] ",
			len(doomed), len(saved), report.Printable(ProfileDir()), o.which(age))
		if !confirmed(cmd.InOrStdin()) {
			return nil
		}
	}
	freed, err := removeProfiles(cmd.OutOrStdout(), doomed)
	fmt.Fprintf(cmd.OutOrStdout(), "Total reclaimed space: %s\n", report.HumanBytes(freed))
	return err
}

// pruneSelect is what prune removes of saved (newest first): all but the
// keep newest, and of them, with age, those written more than age before
// now.
func pruneSelect(saved []savedProfile, now time.Time, age time.Duration, keep int) []savedProfile {
	var doomed []savedProfile
	for _, s := range saved[min(keep, len(saved)):] {
		if now.Sub(s.modified) > age {
			doomed = append(doomed, s)
		}
	}
	return doomed
}

// which says in the warning which profiles go.
func (o *profilesPruneOptions) which(age time.Duration) string {
	var conditions []string
	if age > 0 {
		conditions = append(conditions, "written more than "+o.olderThan+" ago")
	}
	if o.keep > 0 {
		conditions = append(conditions, "all but the "+strconv.Itoa(o.keep)+" newest")
	}
	if len(conditions) == 0 {
		return ": all of them"
	}
	return ": " + strings.Join(conditions, ", ")
}

// confirmed reads the answer to podman's question: yes only for y or yes.
func confirmed(stdin io.Reader) bool {
	answer, _ := bufio.NewReader(stdin).ReadString('\n')
	answer = strings.ToLower(strings.TrimSpace(answer))
	return answer == "y" || answer == "yes"
}

// parseAge reads a duration as Go writes them (90m, 1h30m, 24h), or a
// number of days (7d), the unit profiles are kept for.
func parseAge(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 && n <= 100*365 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	} else if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return d, nil
	}
	return 0, fmt.Errorf("%q is not a duration such as 90m, 24h or 7d", s)
}
