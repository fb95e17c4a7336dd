// Package report turns what a traced container opened into an account of
// which files of its image were used. It is a pure data package: it reads
// profiles and layer tar headers handed to it and never talks to podman.
package report

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// ProfileVersion is the profile format this podprof writes and the newest it
// reads. It changes only when a reader of the previous version would
// misunderstand a new profile; adding an optional field does not change it.
const ProfileVersion = 1

// A Profile is what one traced container opened. The tracer writes it when
// the container stops; the report reads it, possibly much later and on
// another machine, so it carries everything needed to name what was traced.
type Profile struct {
	Version int `json:"version"`
	// PodprofVersion is the version of the podprof that wrote the profile
	// (report.Version), so that a surprising profile can be traced to the
	// build that made it. Optional: profiles written before it was added
	// have none.
	PodprofVersion string       `json:"podprof_version,omitempty"`
	Image          ImageRef     `json:"image"`
	Container      ContainerRef `json:"container"`
	Tracer         string       `json:"tracer"` // "lsm", "fentry" or "tracepoint"
	Kernel         string       `json:"kernel"` // uname release of the traced host
	Started        time.Time    `json:"started"`
	Ended          time.Time    `json:"ended"`
	LostEvents     uint64       `json:"lost_events"`
	// Run says how podprof run started the container, so that the run can
	// be made again (podprof slim --verify); nil when podprof run did not
	// start it.
	Run   *RunRecord `json:"run,omitempty"`
	Files []File     `json:"files"` // sorted by path bytes, one entry per path; the last field (encodeProfile)
}

// A RunRecord is a podman run command line: podman run OPTIONS IMAGE
// COMMAND. Options are spelled --name=value, one value each, and leave out
// what only made sense once (the container's name, --rm, --detach, a
// terminal, descriptors and files podman was handed).
type RunRecord struct {
	Image   string   `json:"image"`
	Options []string `json:"options"`
	Command []string `json:"command"`
}

// ImageRef names the image the container ran.
type ImageRef struct {
	Name string `json:"name"` // as the user typed it
	ID   string `json:"id"`   // full sha256 hex, without the "sha256:" prefix
}

// ContainerRef names the traced container.
type ContainerRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// A File is one path the container opened, with how it was opened summed
// over every open of that path.
type File struct {
	// Path holds the raw bytes the kernel reported. They come from the
	// container, so they may be invalid UTF-8 or hold newlines and escapes.
	Path  string
	Exec  bool
	Read  bool
	Write bool
	PID   uint32 // host pid of the first process that opened it
	Comm  string // that process's comm; as untrusted as Path
	// Truncated: the path was longer than the 4,095 bytes the tracer
	// keeps; Path holds its last whole components, so it names no file.
	Truncated bool
}

// fileJSON is File as stored. encoding/json would replace invalid UTF-8
// with U+FFFD, losing the real bytes, so a string that is not valid UTF-8
// is also stored exactly in base64, and readers prefer that copy.
type fileJSON struct {
	Path       string `json:"path"`
	PathBase64 string `json:"path_base64,omitempty"`
	Exec       bool   `json:"exec"`
	Read       bool   `json:"read"`
	Write      bool   `json:"write"`
	PID        uint32 `json:"pid"`
	Comm       string `json:"comm"`
	CommBase64 string `json:"comm_base64,omitempty"`
	Truncated  bool   `json:"truncated,omitempty"`
}

// MarshalJSON stores f so that Path and Comm survive byte for byte.
func (f File) MarshalJSON() ([]byte, error) {
	stored := fileJSON{Exec: f.Exec, Read: f.Read, Write: f.Write, PID: f.PID, Truncated: f.Truncated}
	stored.Path, stored.PathBase64 = splitForJSON(f.Path)
	stored.Comm, stored.CommBase64 = splitForJSON(f.Comm)
	return json.Marshal(stored)
}

// UnmarshalJSON reads a file entry, taking the exact bytes from the base64
// copies when they are there.
func (f *File) UnmarshalJSON(data []byte) error {
	var stored struct {
		fileJSON
		Path *string `json:"path"` // a pointer, to tell a missing path from ""
	}
	if err := json.Unmarshal(data, &stored); err != nil {
		return err
	}
	if stored.Path == nil {
		return errors.New("file entry has no path")
	}
	path, err := joinFromJSON("path", *stored.Path, stored.PathBase64)
	if err != nil {
		return err
	}
	comm, err := joinFromJSON("comm", stored.Comm, stored.CommBase64)
	if err != nil {
		return err
	}
	*f = File{Path: path, Exec: stored.Exec, Read: stored.Read, Write: stored.Write, PID: stored.PID, Comm: comm, Truncated: stored.Truncated}
	return nil
}

// splitForJSON returns a valid UTF-8 rendering of s, and, when s is not
// valid UTF-8, its exact bytes in base64.
func splitForJSON(s string) (text, exact string) {
	if utf8.ValidString(s) {
		return s, ""
	}
	return strings.ToValidUTF8(s, "\uFFFD"), base64.StdEncoding.EncodeToString([]byte(s))
}

// joinFromJSON undoes splitForJSON.
func joinFromJSON(field, text, exact string) (string, error) {
	if exact == "" {
		return text, nil
	}
	raw, err := base64.StdEncoding.DecodeString(exact)
	if err != nil {
		return "", fmt.Errorf("%s_base64 is not base64: %w", field, err)
	}
	return string(raw), nil
}

// ReadProfile reads the profile file at path.
func ReadProfile(path string) (*Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		// The path may be a container's name for a file: never print it raw.
		var pathErr *fs.PathError
		if errors.As(err, &pathErr) {
			err = pathErr.Err
		}
		return nil, fmt.Errorf("cannot read profile %s: %v: name a readable profile file", Printable(path), err)
	}
	return decodeProfile("profile "+Printable(path), data)
}

// decodeProfile checks the version before decoding the rest, so that a
// profile from a newer podprof gets "upgrade" rather than whatever error its
// changed fields would cause. name starts every error message.
func decodeProfile(name string, data []byte) (*Profile, error) {
	var header struct {
		Version *int `json:"version"`
	}
	if err := decodeOne(data, &header); err != nil {
		return nil, explainDecodeError(name, err)
	}
	switch {
	case header.Version == nil:
		return nil, fmt.Errorf("%s has no version: it is not a podprof profile", name)
	case *header.Version > ProfileVersion:
		return nil, fmt.Errorf("%s has version %d; this podprof reads up to %d: upgrade podprof", name, *header.Version, ProfileVersion)
	case *header.Version < 1:
		return nil, fmt.Errorf("%s has version %d, which no podprof writes: it is corrupt", name, *header.Version)
	}
	var p Profile
	if err := decodeOne(data, &p); err != nil {
		return nil, explainDecodeError(name, err)
	}
	p.Files = normalizeFiles(p.Files)
	return &p, nil
}

// decodeOne decodes data as exactly one JSON value: anything after it means
// the file is not what podprof wrote.
func decodeOne(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		if err == io.EOF {
			return io.ErrUnexpectedEOF // an empty file is a truncated one
		}
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the profile")
	}
	return nil
}

func explainDecodeError(name string, err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field == "" {
		return fmt.Errorf("%s is not a podprof profile: it holds a JSON %s, not an object", name, typeErr.Value)
	}
	return fmt.Errorf("%s is truncated or corrupt: %w", name, err)
}

// WriteProfile writes p to path so that a reader sees either the previous
// file or the complete new one, never a part.
//
// The tracer writes as root to a path chosen by whoever started the
// container, so the path must not be a way to overwrite other files: it must
// be absolute (the hook's working directory is not the user's), it must not
// be a symbolic link, and it must be a regular file if it exists.
func WriteProfile(path string, p *Profile) error {
	stamped := *p
	stamped.PodprofVersion = Version
	return WriteFileAtomic(path, "profile", func(w io.Writer) error { return encodeProfile(w, &stamped) })
}

func describeMode(mode fs.FileMode) string {
	switch {
	case mode.IsDir():
		return "directory"
	case mode&fs.ModeNamedPipe != 0:
		return "named pipe"
	case mode&fs.ModeSocket != 0:
		return "socket"
	case mode&fs.ModeDevice != 0:
		return "device"
	default:
		return "special file"
	}
}

// encodeProfile writes p with its files sorted and unique, one file a few
// lines so that profiles diff well. The files are encoded one by one:
// a profile of 100,000 files never sits in memory twice.
func encodeProfile(w io.Writer, p *Profile) error {
	header := *p
	header.Files = nil
	head, err := json.MarshalIndent(&header, "", "  ")
	if err != nil {
		return err
	}
	// Files is the last field: its value is spliced in file by file.
	const nullFiles = `"files": null` + "\n}"
	if !bytes.HasSuffix(head, []byte(nullFiles)) {
		return errors.New("profile header does not end with its files")
	}
	bw := bufio.NewWriter(w)
	bw.Write(head[:len(head)-len(nullFiles)])
	bw.WriteString(`"files": [`)
	for i, f := range normalizeFiles(slices.Clone(p.Files)) {
		entry, err := json.MarshalIndent(f, "    ", "  ")
		if err != nil {
			return err
		}
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n    ")
		bw.Write(entry)
	}
	if len(p.Files) > 0 {
		bw.WriteString("\n  ")
	}
	bw.WriteString("]\n}\n")
	return bw.Flush()
}

// Merge unites profiles of the same image, for example several runs of a
// test suite: a path is in the result if any profile has it, with its open
// flags OR-ed, its first PID and comm in argument order, and the lost events
// of all profiles summed. Image, container, tracer and kernel are those of
// the first profile; the time span covers them all. Nil profiles are skipped.
func Merge(profiles ...*Profile) *Profile {
	merged := &Profile{Version: ProfileVersion}
	first := true
	var files []File
	for _, p := range profiles {
		if p == nil {
			continue
		}
		if first {
			merged.Image, merged.Container = p.Image, p.Container
			merged.Tracer, merged.Kernel = p.Tracer, p.Kernel
			merged.Started, merged.Ended = p.Started, p.Ended
			first = false
		}
		if p.Started.Before(merged.Started) {
			merged.Started = p.Started
		}
		if p.Ended.After(merged.Ended) {
			merged.Ended = p.Ended
		}
		merged.LostEvents += p.LostEvents
		files = append(files, p.Files...)
	}
	merged.Files = normalizeFiles(files)
	return merged
}

// normalizeFiles sorts files by path bytes and folds later entries of a
// path into its first one, OR-ing the open flags. It reuses the slice.
func normalizeFiles(files []File) []File {
	slices.SortStableFunc(files, func(a, b File) int { return cmp.Compare(a.Path, b.Path) })
	unique := files[:0]
	for _, f := range files {
		if n := len(unique); n > 0 && unique[n-1].Path == f.Path {
			kept := &unique[n-1]
			kept.Exec = kept.Exec || f.Exec
			kept.Read = kept.Read || f.Read
			kept.Write = kept.Write || f.Write
			kept.Truncated = kept.Truncated || f.Truncated
			continue
		}
		unique = append(unique, f)
	}
	return unique
}
