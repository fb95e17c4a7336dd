package report

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

func sampleProfile() *Profile {
	return &Profile{
		Version:        ProfileVersion,
		PodprofVersion: Version,
		Image:          ImageRef{Name: "localhost/app:1", ID: strings.Repeat("ab", 32)},
		Container:      ContainerRef{ID: strings.Repeat("cd", 32), Name: "app"},
		Tracer:         "lsm",
		Kernel:         "6.1.0-18-amd64",
		Started:        time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC),
		Ended:          time.Date(2025, 3, 1, 12, 0, 5, 0, time.UTC),
		LostEvents:     3,
		Run:            &RunRecord{Image: "app:1", Options: []string{"--env=A=b,c", "--user=nobody"}, Command: []string{"sh", "-c", "date; ls"}},
		Files: []File{
			{Path: "/etc/esc\x1b[2Jape", Read: true, PID: 10, Comm: "sh"},
			{Path: "/etc/new\nline", Read: true, PID: 11, Comm: "cat\n"},
			{Path: "/usr/bin/dash", Exec: true, Read: true, PID: 1, Comm: "dash"},
			{Path: "/var/bad\xff\xfe", Write: true, PID: 12, Comm: "w\xffr"},
			{Path: "/var/ünïcode", Read: true, PID: 13, Comm: "ok"},
		},
	}
}

func TestProfileRoundTripsExactBytes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "profile.json")
	want := sampleProfile()
	if err := WriteProfile(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadProfile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read back\n%+v\nwant\n%+v", got, want)
	}
}

func TestProfileJSONShape(t *testing.T) {
	data, err := json.Marshal(sampleProfile().Files)
	if err != nil {
		t.Fatal(err)
	}
	var stored []map[string]any
	if err := json.Unmarshal(data, &stored); err != nil {
		t.Fatal(err)
	}
	// Valid UTF-8, even with control characters, needs no base64 copy.
	if _, has := stored[0]["path_base64"]; has || stored[0]["path"] != "/etc/esc\x1b[2Jape" {
		t.Errorf("valid UTF-8 path stored as %v", stored[0])
	}
	bad := stored[3]
	if bad["path"] != "/var/bad\uFFFD" || bad["path_base64"] != "L3Zhci9iYWT//g==" {
		t.Errorf("invalid UTF-8 path stored as %v", bad)
	}
	if bad["comm"] != "w\uFFFDr" || bad["comm_base64"] != "d/9y" {
		t.Errorf("invalid UTF-8 comm stored as %v", bad)
	}
	for _, key := range []string{"exec", "read", "write", "pid"} {
		if _, has := bad[key]; !has {
			t.Errorf("file entry lacks %q", key)
		}
	}
}

func TestWriteProfileSortsAndMergesFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.json")
	p := &Profile{Version: ProfileVersion, Files: []File{
		{Path: "/b", Read: true, PID: 1, Comm: "first"},
		{Path: "/a", Exec: true},
		{Path: "/b", Write: true, PID: 2, Comm: "second"},
	}}
	if err := WriteProfile(path, p); err != nil {
		t.Fatal(err)
	}
	if p.Files[0].Path != "/b" {
		t.Errorf("WriteProfile reordered the caller's files")
	}
	got, err := ReadProfile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []File{{Path: "/a", Exec: true}, {Path: "/b", Read: true, Write: true, PID: 1, Comm: "first"}}
	if !reflect.DeepEqual(got.Files, want) {
		t.Errorf("files %+v, want %+v", got.Files, want)
	}
}

func TestWriteProfileReplacesAtomicallyWithMode0644(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.json")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	if err := WriteProfile(path, sampleProfile()); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644 whatever the umask", info.Mode().Perm())
	}
	if _, err := ReadProfile(path); err != nil {
		t.Errorf("the replaced profile does not read back: %v", err)
	}
	expectOnlyFiles(t, dir, "p.json")
}

func expectOnlyFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !reflect.DeepEqual(got, names) {
		t.Errorf("%s holds %q, want %q: a temporary file was left behind?", dir, got, names)
	}
}

func TestWriteProfileRefusals(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "nothing"), filepath.Join(dir, "dangling")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "subdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path string
		want string
	}{
		{"relative/p.json", "profile path relative/p.json is relative: give an absolute path"},
		{dir + "/missing/p.json", "cannot write profile " + dir + "/missing/p.json: directory " + dir + "/missing does not exist: create it first"},
		{victim + "/p.json", "cannot write profile " + victim + "/p.json: " + victim + " is not a directory: choose another path"},
		{dir + "/link", "refusing to write profile " + dir + "/link: it is a symbolic link: remove it or choose another path"},
		{dir + "/dangling", "refusing to write profile " + dir + "/dangling: it is a symbolic link: remove it or choose another path"},
		{dir + "/subdir", "refusing to write profile " + dir + "/subdir: it is a directory, not a regular file: choose another path"},
		{dir + "/fifo", "refusing to write profile " + dir + "/fifo: it is a named pipe, not a regular file: choose another path"},
		{"/dev/null", "refusing to write profile /dev/null: it is a device, not a regular file: choose another path"},
		{dir + "/new\nline", ""}, // accepted; shown here only to check nothing else broke
	}
	for _, c := range cases {
		err := WriteProfile(c.path, sampleProfile())
		switch {
		case c.want == "" && err != nil:
			t.Errorf("WriteProfile(%q): %v", c.path, err)
		case c.want != "" && (err == nil || err.Error() != c.want):
			t.Errorf("WriteProfile(%q) error:\n  %v\nwant\n  %s", c.path, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("error for %q spans lines: %q", c.path, err)
		}
	}
	if data, _ := os.ReadFile(victim); string(data) != "precious" {
		t.Errorf("the symbolic link's target was overwritten")
	}
	if _, err := os.Lstat(filepath.Join(dir, "nothing")); err == nil {
		t.Errorf("a file was created through the dangling link")
	}
	expectOnlyFiles(t, dir, "dangling", "fifo", "link", "new\nline", "subdir", "victim")
}

func TestWriteProfileRemovesTempFileOnFailure(t *testing.T) {
	// A filesystem too small for the profile makes the write itself fail.
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8k", "podprof-test", dir).CombinedOutput(); err != nil {
		t.Fatalf("this test needs root to mount a tiny tmpfs: %v: %s", err, out)
	}
	defer func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	}()
	p := sampleProfile()
	for i := range 2000 {
		p.Files = append(p.Files, File{Path: "/file/" + strings.Repeat("x", i%50) + string(rune('a'+i%26)) + strings.Repeat("y", i)})
	}
	err := WriteProfile(filepath.Join(dir, "p.json"), p)
	if err == nil || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("WriteProfile on a full filesystem: %v, want no space left on device", err)
	}
	expectOnlyFiles(t, dir)
}

func TestDecodeProfileErrors(t *testing.T) {
	cases := []struct {
		name, data, want string
	}{
		{"empty", "", "profile is truncated or corrupt: unexpected EOF"},
		{"truncated", `{"version":1,"files":[{"path":"/a"`, "profile is truncated or corrupt: unexpected EOF"},
		{"not JSON", "hello", "profile is truncated or corrupt: invalid character 'h' looking for beginning of value"},
		{"trailing data", `{"version":1} {}`, "profile is truncated or corrupt: unexpected data after the profile"},
		{"array", `[1,2]`, "profile is not a podprof profile: it holds a JSON array, not an object"},
		{"no version", `{"files":[]}`, "profile has no version: it is not a podprof profile"},
		{"newer", `{"version":2,"files":"changed"}`, "profile has version 2; this podprof reads up to 1: upgrade podprof"},
		{"zero version", `{"version":0}`, "profile has version 0, which no podprof writes: it is corrupt"},
		{"bad base64", `{"version":1,"files":[{"path":"x","path_base64":"%%%"}]}`, "profile is truncated or corrupt: path_base64 is not base64: illegal base64 data at input byte 0"},
		{"file without path", `{"version":1,"files":[{"read":true}]}`, "profile is truncated or corrupt: file entry has no path"},
		{"wrong type", `{"version":1,"lost_events":"many"}`, "profile is truncated or corrupt: json: cannot unmarshal string into Go struct field Profile.lost_events of type uint64"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := decodeProfile("profile", []byte(c.data))
			if err == nil || err.Error() != c.want {
				t.Errorf("error:\n  %v\nwant\n  %s", err, c.want)
			}
		})
	}
}

func TestReadProfileErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadProfile(filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json: no such file or directory") {
		t.Errorf("missing file: %v", err)
	}
	cut := filepath.Join(dir, "cut.json")
	if err := os.WriteFile(cut, []byte(`{"version":1,"fi`), 0o644); err != nil {
		t.Fatal(err)
	}
	want := "profile " + cut + " is truncated or corrupt: unexpected EOF"
	if _, err := ReadProfile(cut); err == nil || err.Error() != want {
		t.Errorf("truncated file: %v, want %s", err, want)
	}
}

func TestDecodeProfileIgnoresUnknownFields(t *testing.T) {
	p, err := decodeProfile("profile", []byte(`{"version":1,"added_later":{"x":1},"files":[{"path":"/a","new_flag":true}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Files) != 1 || p.Files[0].Path != "/a" {
		t.Errorf("files %+v", p.Files)
	}
}

func TestMerge(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	a := &Profile{Version: 1, Image: ImageRef{Name: "img"}, Tracer: "lsm", Started: t0.Add(time.Hour), Ended: t0.Add(2 * time.Hour), LostEvents: 1,
		Files: []File{{Path: "/a", Read: true, PID: 1, Comm: "a"}, {Path: "/c", Exec: true}}}
	b := &Profile{Version: 1, Image: ImageRef{Name: "other"}, Tracer: "fentry", Started: t0, Ended: t0.Add(90 * time.Minute), LostEvents: 2,
		Files: []File{{Path: "/a", Write: true, PID: 2, Comm: "b"}, {Path: "/b", Read: true}}}
	got := Merge(a, nil, b)
	want := &Profile{Version: 1, Image: ImageRef{Name: "img"}, Tracer: "lsm", Started: t0, Ended: t0.Add(2 * time.Hour), LostEvents: 3,
		Files: []File{{Path: "/a", Read: true, Write: true, PID: 1, Comm: "a"}, {Path: "/b", Read: true}, {Path: "/c", Exec: true}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("merged\n%+v\nwant\n%+v", got, want)
	}
	if a.Files[0].Write {
		t.Errorf("Merge changed its input")
	}
	if empty := Merge(); empty.Version != ProfileVersion || len(empty.Files) != 0 {
		t.Errorf("Merge() = %+v", empty)
	}
}

// FuzzDecodeProfile checks that no input panics the decoder, and that what
// it accepts writes and reads back to the same profile.
func FuzzDecodeProfile(f *testing.F) {
	var seed bytes.Buffer
	if err := encodeProfile(&seed, sampleProfile()); err != nil {
		f.Fatal(err)
	}
	f.Add(seed.Bytes())
	f.Add([]byte(`{"version":1,"files":[{"path":"/b"},{"path":"/a","path_base64":"/w=="},{"path":"/b","exec":true}]}`))
	f.Add([]byte(`{"version":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := decodeProfile("profile", data)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
			return
		}
		for i := 1; i < len(p.Files); i++ {
			if p.Files[i-1].Path >= p.Files[i].Path {
				t.Fatalf("files not sorted and unique: %q before %q", p.Files[i-1].Path, p.Files[i].Path)
			}
		}
		var encoded bytes.Buffer
		if err := encodeProfile(&encoded, p); err != nil {
			t.Fatalf("encoding a decoded profile: %v", err)
		}
		again, err := decodeProfile("profile", encoded.Bytes())
		if err != nil {
			t.Fatalf("decoding a re-encoded profile: %v", err)
		}
		if !reflect.DeepEqual(p.Files, again.Files) && !(len(p.Files) == 0 && len(again.Files) == 0) {
			t.Fatalf("files changed in a round trip:\n%+v\n%+v", p.Files, again.Files)
		}
	})
}

// A profile records the podprof that wrote it; one written before that
// field existed still reads, with none.
func TestProfilePodprofVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.json")
	p := sampleProfile()
	p.PodprofVersion = "" // the writer stamps its own, whatever the caller left
	if err := WriteProfile(path, p); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "\n  \"podprof_version\": \"" + Version + "\",\n"; !strings.Contains(string(data), want) {
		t.Errorf("profile lacks %q:\n%s", want, data)
	}
	old, err := decodeProfile("profile", []byte(`{"version":1,"image":{"name":"a","id":"b"},"files":[{"path":"/a"}]}`))
	if err != nil || old.PodprofVersion != "" || len(old.Files) != 1 {
		t.Errorf("profile without podprof_version: %+v, %v", old, err)
	}
}
