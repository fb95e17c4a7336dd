package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFileAtomic writes what encode produces to path by the rules of
// WriteProfile (docs/profile.md, "Writing safely"): an absolute path in a
// directory that exists, never through a symbolic link or onto anything but
// a regular file, a temporary file renamed over path so that a reader sees
// the old file or the whole new one, and nothing left behind on failure.
// what names the file in errors ("seccomp profile").
func WriteFileAtomic(path, what string, encode func(io.Writer) error) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("%s path %s is relative: give an absolute path", what, Printable(path))
	}
	dir := filepath.Dir(path)
	if info, err := os.Stat(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("cannot write %s %s: directory %s does not exist: create it first", what, Printable(path), Printable(dir))
		}
		return fmt.Errorf("cannot write %s %s: %w", what, Printable(path), err)
	} else if !info.IsDir() {
		return fmt.Errorf("cannot write %s %s: %s is not a directory: choose another path", what, Printable(path), Printable(dir))
	}
	switch info, err := os.Lstat(path); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("cannot write %s %s: %w", what, Printable(path), err)
	case info.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("refusing to write %s %s: it is a symbolic link: remove it or choose another path", what, Printable(path))
	case !info.Mode().IsRegular():
		return fmt.Errorf("refusing to write %s %s: it is a %s, not a regular file: choose another path", what, Printable(path), describeMode(info.Mode()))
	}
	// CreateTemp opens with O_EXCL, so a link planted at the temporary name
	// is never followed; rename then replaces the final name itself, even
	// if it became a symbolic link since the Lstat above.
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("cannot write %s %s: %w", what, Printable(path), err)
	}
	err = encode(tmp)
	if err == nil {
		// World-readable whatever the umask: the user reads what root wrote.
		err = tmp.Chmod(0o644)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if closeErr := tmp.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("cannot write %s %s: %w", what, Printable(path), err)
	}
	return nil
}

// WriteJSON writes v as one indented JSON document, the way podprof's
// --format json prints each of its outputs; what names it in the error.
func WriteJSON(w io.Writer, what string, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("writing %s: %w", what, err)
	}
	return nil
}
