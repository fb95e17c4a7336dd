package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"
	podmanreport "go.podman.io/common/pkg/report"

	"github.com/podprof/podprof/imagestore"
	"github.com/podprof/podprof/report"
)

// profileRow is one line of podprof profiles ls, as its --format
// templates see it: text ready to print, every name escaped. The headers
// are made from the field names (report.Headers), as podman's are.
type profileRow struct {
	ID        string // the container's id, short unless --no-trunc
	Name      string // the container's name
	Image     string // the image as the run named it
	Created   string // "2 hours ago", as podman says it
	CreatedAt string
	Files     string // how many paths the run opened
	Used      string // how much of its image the run used: "2.44 MB (2.1%)"
	Size      string // the profile file's size
	Tracer    string
	Path      string
}

// profileJSON is one profile of podprof profiles ls --format json.
type profileJSON struct {
	Path           string    `json:"path"`
	ContainerID    string    `json:"container_id"`
	ContainerName  string    `json:"container_name"`
	ImageName      string    `json:"image_name"`
	ImageID        string    `json:"image_id"`
	Created        time.Time `json:"created"`
	Files          int       `json:"files"`
	UsedBytes      *int64    `json:"used_bytes,omitempty"` // nil when the image is not in the store
	UsedPercent    *float64  `json:"used_percent,omitempty"`
	Size           int64     `json:"size"`
	Tracer         string    `json:"tracer"`
	PodprofVersion string    `json:"podprof_version,omitempty"`
	Error          string    `json:"error,omitempty"`
}

// The default table of podprof profiles ls, as podman's ps and images
// have theirs.
const profilesTable = "{{range .}}{{.ID}}\t{{.Name}}\t{{.Image}}\t{{.Created}}\t{{.Files}}\t{{.Used}}\t{{.Path}}\n{{end -}}"

type profilesLsOptions struct {
	format    string
	noHeading bool
	noTrunc   bool
	quiet     bool
}

// profilesLsCommand lists what list returns: readSavedProfiles, or a
// test's profiles.
func profilesLsCommand(list func() []savedProfile) *cobra.Command {
	var o profilesLsOptions
	cmd := &cobra.Command{
		Use:     "ls [flags]",
		Aliases: []string{"list"},
		Args:    cobra.NoArgs,
		Short:   "list the saved profiles, newest first",
		Long: "List the profiles saved in " + profileDirHelp + ",\n" +
			"newest first, as podman ps lists containers: the container, its image, when the\n" +
			"profile was written, how many paths the run opened, how much of the image it used\n" +
			"(- when the image is not in the local store), and the profile's path.\n" +
			"A profile that cannot be read is listed with - and the reason on stderr.",
		Example: `  podprof profiles ls
  podprof profiles ls --format json
  podprof profiles ls --format "table {{.Name}} {{.Image}} {{.Files}}"
  podprof profiles ls --format "{{.Path}}"`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd, list())
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&o.format, "format", "", "print with a Go `TEMPLATE` (fields: .ID .Name .Image .Created .CreatedAt .Files .Used .Size .Tracer .Path), or json")
	flags.BoolVarP(&o.noHeading, "noheading", "n", false, "do not print column headings")
	flags.BoolVar(&o.noTrunc, "no-trunc", false, "do not shorten container IDs")
	flags.BoolVarP(&o.quiet, "quiet", "q", false, "print the profiles' paths only")
	completeValues(cmd, "format", "json", "table {{.ID}}\t{{.Name}}\t{{.Image}}\t{{.Created}}\t{{.Files}}\t{{.Path}}")
	return cmd
}

func (o *profilesLsOptions) run(cmd *cobra.Command, saved []savedProfile) error {
	stdout := cmd.OutOrStdout()
	for _, s := range saved {
		if s.err != nil {
			fmt.Fprintln(cmd.ErrOrStderr(), "podprof: warning:", s.err)
		}
	}
	switch {
	case podmanreport.IsJSON(o.format):
		return writeProfilesJSON(stdout, saved, newUseOfImages())
	case o.quiet:
		for _, s := range saved {
			if _, err := fmt.Fprintln(stdout, report.Printable(s.path)); err != nil {
				return fmt.Errorf("writing the list: %w", err)
			}
		}
		return nil
	}
	// As podman images: a user's template without "table" has no headings.
	format, origin := profilesTable, podmanreport.OriginPodman
	if cmd.Flags().Changed("format") {
		format, origin = o.format, podmanreport.OriginUser
		o.noHeading = o.noHeading || !podmanreport.HasTable(o.format)
	}
	rpt, err := podmanreport.New(stdout, cmd.Name()).Parse(origin, format)
	if err != nil {
		return fmt.Errorf("invalid --format template %q: %w", o.format, err)
	}
	rows := make([]profileRow, len(saved))
	images := newUseOfImages()
	for i, s := range saved {
		rows[i] = o.row(s, images, time.Now())
	}
	if rpt.RenderHeaders && !o.noHeading {
		headers := podmanreport.Headers(profileRow{}, map[string]string{"ID": "container id", "Files": "files opened"})
		if err := rpt.Execute(headers); err != nil {
			return fmt.Errorf("writing the list: %w", err)
		}
	}
	if err := rpt.Execute(rows); err != nil {
		return fmt.Errorf("formatting the list with %q: %w", o.format, err)
	}
	if err := rpt.Flush(); err != nil {
		return fmt.Errorf("writing the list: %w", err)
	}
	return nil
}

// row is what the table shows of s; "-" for what an unreadable profile
// cannot say.
func (o *profilesLsOptions) row(s savedProfile, images *useOfImages, now time.Time) profileRow {
	r := profileRow{
		ID: "-", Name: "-", Image: "-", Files: "-", Used: "-", Tracer: "-",
		Created:   units.HumanDuration(now.Sub(s.modified)) + " ago",
		CreatedAt: s.modified.Format(time.RFC3339),
		Size:      report.HumanBytes(s.size),
		Path:      report.Printable(s.path),
	}
	if p := s.profile; p != nil {
		r.ID = p.Container.ID
		if !o.noTrunc {
			r.ID = r.ID[:min(12, len(r.ID))]
		}
		r.ID, r.Name, r.Image, r.Tracer = orDash(r.ID), orDash(p.Container.Name), orDash(p.Image.Name), orDash(p.Tracer)
		r.Files = strconv.Itoa(len(p.Files))
		if u := images.usage(p); u != nil {
			r.Used = fmt.Sprintf("%s (%.1f%%)", report.HumanBytes(u.Used.Bytes), u.UsedPercent())
		}
	}
	return r
}

// useOfImages joins profiles with their images in the local store,
// reading each image once: a directory of 100 runs of a few images
// lists in a fraction of a second.
type useOfImages struct {
	store  *imagestore.Store // nil when podman's storage configuration cannot be read
	images map[string]*report.Image
}

func newUseOfImages() *useOfImages {
	u := &useOfImages{images: make(map[string]*report.Image)}
	if store, err := imagestore.Default(nil); err == nil {
		u.store = &store
	}
	return u
}

// usage is what p's run used of its image; nil when the image is not in
// the store (removed since, or the profile is from another machine).
func (u *useOfImages) usage(p *report.Profile) *report.Usage {
	img, seen := u.images[p.Image.ID]
	if !seen && u.store != nil && p.Image.ID != "" {
		if layers, err := u.store.Layers(p.Image.ID); err == nil {
			img, _ = report.BuildImage(layers) // nil on a damaged layer: "-" as for a missing one
		}
		u.images[p.Image.ID] = img
	}
	if img == nil {
		return nil
	}
	return report.Join(img, p)
}

// orDash escapes a name for the table, "-" when there is none, so that
// the columns stay aligned.
func orDash(name string) string {
	if strings.TrimSpace(name) == "" {
		return "-"
	}
	return report.Printable(name)
}

// writeProfilesJSON writes the list as a JSON array, as podman ps
// --format json does, names unescaped: JSON escapes what needs it.
func writeProfilesJSON(w io.Writer, saved []savedProfile, images *useOfImages) error {
	list := make([]profileJSON, 0, len(saved))
	for _, s := range saved {
		j := profileJSON{Path: s.path, Created: s.modified.UTC(), Size: s.size}
		if p := s.profile; p != nil {
			j.ContainerID, j.ContainerName, j.ImageName, j.ImageID = p.Container.ID, p.Container.Name, p.Image.Name, p.Image.ID
			j.Files, j.Tracer, j.PodprofVersion = len(p.Files), p.Tracer, p.PodprofVersion
			if u := images.usage(p); u != nil {
				used, share := u.Used.Bytes, u.UsedPercent()
				j.UsedBytes, j.UsedPercent = &used, &share
			}
		} else {
			j.Error = s.err.Error()
		}
		list = append(list, j)
	}
	data, err := json.MarshalIndent(list, "", "    ")
	if err == nil {
		_, err = fmt.Fprintf(w, "%s\n", data)
	}
	if err != nil {
		return fmt.Errorf("writing the list: %w", err)
	}
	return nil
}
