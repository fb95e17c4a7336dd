package report

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestPrintable(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"/usr/bin/dash", "/usr/bin/dash"},
		{"/ünïcode", "/ünïcode"},
		{"/with space", `"/with space"`},
		{"/real/\uFFFD", "/real/\uFFFD"},
		{"/esc\x1b[2J", `"/esc\x1b[2J"`},
		{"/new\nline", `"/new\nline"`},
		{"/bad\xff", `"/bad\xff"`},
		{"/tab\t", `"/tab\t"`},
		{"/bidi\u202eexe.txt", `"/bidi\u202eexe.txt"`},
		{`/quote"`, `"/quote\""`},
		{`/back\slash`, `"/back\\slash"`},
		{"", ""},
	} {
		if got := Printable(c.in); got != c.want {
			t.Errorf("Printable(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestHumanBytes(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want string
	}{
		{0, "0 B"},
		{999, "999 B"},
		{1000, "1 kB"},
		{4100, "4.1 kB"},
		{12345, "12.3 kB"},
		{123456, "123 kB"},
		{999499, "999 kB"},
		{999500, "1 MB"},
		{5_590_000, "5.59 MB"},
		{124_000_000, "124 MB"},
		{2_500_000_000, "2.5 GB"},
		{9_223_372_036_854_775_807, "9.22 EB"},
	} {
		if got := HumanBytes(c.n); got != c.want {
			t.Errorf("HumanBytes(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}

func summaryUsage(t *testing.T) *Usage {
	img := buildOrFail(t, layerOf(t, "l1",
		file("app/bin", 5_000_000),
		file("usr/share/doc/\x1b]0;pwned\x07", 2_000_000),
		file("usr/share/doc/readme", 1_000),
		file("var/bad\xff\nname", 300_000),
	))
	p := &Profile{
		Version:    ProfileVersion,
		Image:      ImageRef{Name: "localhost/app:1", ID: strings.Repeat("0123456789", 7)[:64]},
		Tracer:     "lsm",
		LostEvents: 2,
		Files:      []File{{Path: "/app/bin", Exec: true}, {Path: "/proc/1/status"}},
	}
	return Join(img, p)
}

func TestSummaryText(t *testing.T) {
	s := NewSummary(summaryUsage(t), "/tmp/run 1.json", 5)
	var out bytes.Buffer
	if err := s.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	want := `podprof: localhost/app:1 (012345678901), traced with lsm
  image   7.3 MB  4 files
  used      5 MB  1 file   68.5% of the bytes
  unused  2.3 MB  3 files
  outside         1 file   opened, but not from the image (volumes, /proc, files created at run time)
  warning: the tracer lost 2 events: some used files may show as unused
largest unused directories:
    2 MB  2 files  /usr
  300 kB  1 file   /var
largest unused files:
    2 MB  "/usr/share/doc/\x1b]0;pwned\a"
  300 kB  "/var/bad\xff\nname"
    1 kB  /usr/share/doc/readme
layers, bottom first:
  #  LAYER    SIZE  USED  USED%  USED/FILES  CREATED BY
  1  l1     7.3 MB  5 MB  68.5%         1/4
profile: "/tmp/run 1.json"  (explore: podprof explore "/tmp/run 1.json")
`
	if out.String() != want {
		t.Errorf("text:\n%s\nwant:\n%s", out.String(), want)
	}
	if bytes.ContainsAny(out.Bytes(), "\x1b\x07\xff") {
		t.Errorf("raw control or invalid bytes reached the terminal text")
	}
}

func TestSummaryTextWithoutExtras(t *testing.T) {
	img := buildOrFail(t, layerOf(t, "l1", file("a", 10)))
	s := NewSummary(Join(img, &Profile{Files: []File{{Path: "/a"}}}), "", 5)
	var out bytes.Buffer
	if err := s.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	want := `podprof: unnamed image
  image   10 B  1 file
  used    10 B  1 file   100.0% of the bytes
  unused   0 B  0 files
layers, bottom first:
  #  LAYER  SIZE  USED   USED%  USED/FILES  CREATED BY
  1  l1     10 B  10 B  100.0%         1/1
`
	if out.String() != want {
		t.Errorf("text:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestSummaryJSON(t *testing.T) {
	s := NewSummary(summaryUsage(t), "/tmp/p.json", 1)
	var out bytes.Buffer
	if err := s.WriteJSON(&out); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("summary is not JSON: %v\n%s", err, out.String())
	}
	for key, want := range map[string]any{
		"image_name":    "localhost/app:1",
		"tracer":        "lsm",
		"lost_events":   2.0,
		"image_bytes":   7_301_000.0,
		"image_files":   4.0,
		"used_bytes":    5_000_000.0,
		"used_files":    1.0,
		"unused_bytes":  2_301_000.0,
		"unused_files":  3.0,
		"outside_files": 1.0,
		"profile":       "/tmp/p.json",
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v", key, got[key], want)
		}
	}
	files := got["largest_unused_files"].([]any)
	if len(files) != 1 {
		t.Fatalf("largest_unused_files has %d entries, want the 1 asked for", len(files))
	}
	dirs := got["largest_unused_dirs"].([]any)
	if d := dirs[0].(map[string]any); d["path"] != "/usr" || d["bytes"] != 2_001_000.0 || d["files"] != 2.0 {
		t.Errorf("largest unused dir %v", d)
	}

	// An invalid UTF-8 path keeps its exact bytes, as in a profile.
	s = NewSummary(summaryUsage(t), "", 5)
	out.Reset()
	if err := s.WriteJSON(&out); err != nil {
		t.Fatal(err)
	}
	var exact struct {
		Files []struct {
			Path       string `json:"path"`
			PathBase64 string `json:"path_base64"`
		} `json:"largest_unused_files"`
	}
	if err := json.Unmarshal(out.Bytes(), &exact); err != nil {
		t.Fatal(err)
	}
	if bad := exact.Files[1]; bad.Path != "/var/bad\uFFFD\nname" || bad.PathBase64 != "L3Zhci9iYWT/Cm5hbWU=" {
		t.Errorf("invalid UTF-8 path in JSON: %+v", bad)
	}
	if first := exact.Files[0]; first.PathBase64 != "" {
		t.Errorf("valid UTF-8 path got a base64 copy: %+v", first)
	}
}

func TestSummaryJSONRoundTrips(t *testing.T) {
	want := NewSummary(summaryUsage(t), "/tmp/p.json", 5)
	var out bytes.Buffer
	if err := want.WriteJSON(&out); err != nil {
		t.Fatal(err)
	}
	var got Summary
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, want) {
		t.Errorf("read back\n%+v\nwant\n%+v", got, *want)
	}
	if got.LargestUnusedFiles[1].Path != "/var/bad\xff\nname" {
		t.Errorf("invalid UTF-8 path read back as %q", got.LargestUnusedFiles[1].Path)
	}
	if err := json.Unmarshal([]byte(`{"largest_unused_dirs":[{"path":"x","path_base64":"!"}]}`), &got); err == nil {
		t.Errorf("bad path_base64 accepted")
	}
}

func TestSummaryLayersText(t *testing.T) {
	s := NewSummary(Join(treeImage(t), treeProfile()), "", 0)
	s.Layers = append(s.Layers, LayerSummary{ID: "sha256:cccccccccccccccc", CreatedBy: "RUN " + strings.Repeat("x", 100)})
	var out bytes.Buffer
	if err := s.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	_, got, _ := strings.Cut(out.String(), "layers, bottom first:\n")
	// The command is escaped when it must be, and cut to one line.
	want := `  #  LAYER          SIZE   USED  USED%  USED/FILES  CREATED BY
  1  aaaaaaaaaaaa  950 B  150 B  15.8%         4/6  /bin/sh -c #(nop) ADD file:abc in /
  2  bbbbbbbbbbbb   2 kB    0 B   0.0%         0/1  "RUN make \x1b[31mred\xff"
  3  cccccccccccc    0 B    0 B      -         0/0  RUN xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…
`
	if got != want {
		t.Errorf("layers:\n%s\nwant:\n%s", got, want)
	}
}

func TestSummaryLayersJSON(t *testing.T) {
	s := NewSummary(Join(treeImage(t), treeProfile()), "", 5)
	want := []LayerSummary{
		{ID: "sha256:aaaaaaaaaaaaaaaa", CreatedBy: "/bin/sh -c #(nop) ADD file:abc in /", Bytes: 950, Files: 6, UsedBytes: 150, UsedFiles: 4, UsedPercent: 100 * 150.0 / 950},
		{ID: "sha256:bbbbbbbbbbbbbbbb", CreatedBy: "RUN make \x1b[31mred\xff", Bytes: 2000, Files: 1},
	}
	if !reflect.DeepEqual(s.Layers, want) {
		t.Errorf("layers %+v\nwant %+v", s.Layers, want)
	}
	var sum LayerSummary
	for _, l := range s.Layers {
		sum.Bytes += l.Bytes
		sum.Files += l.Files
		sum.UsedBytes += l.UsedBytes
		sum.UsedFiles += l.UsedFiles
	}
	if sum.Bytes != s.ImageBytes || sum.Files != s.ImageFiles || sum.UsedBytes != s.UsedBytes || sum.UsedFiles != s.UsedFiles {
		t.Errorf("the layers add up to %+v, the image is %+v", sum, s)
	}

	var out bytes.Buffer
	if err := s.WriteJSON(&out); err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Layers []map[string]any `json:"layers"`
	}
	if err := json.Unmarshal(out.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	top := raw.Layers[1]
	if top["created_by"] != "RUN make \x1b[31mred\uFFFD" || top["created_by_base64"] != "UlVOIG1ha2UgG1szMW1yZWT/" || top["bytes"] != 2000.0 || top["used_bytes"] != 0.0 {
		t.Errorf("top layer in JSON: %v", top)
	}
	if _, ok := raw.Layers[0]["created_by_base64"]; ok {
		t.Errorf("a valid UTF-8 command got a base64 copy: %v", raw.Layers[0])
	}
	var back Summary
	if err := json.Unmarshal(out.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Layers, want) {
		t.Errorf("layers read back as %+v", back.Layers)
	}
}

func TestPrintableText(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"/bin/sh -c #(nop) ADD file:abc in /", "/bin/sh -c #(nop) ADD file:abc in /"},
		{`RUN echo "a\b"`, `RUN echo "a\b"`},
		{`"quoted"`, `"\"quoted\""`},
		{"RUN x\x1b[2J", `"RUN x\x1b[2J"`},
		{"RUN a\nb", `"RUN a\nb"`},
		{"bad\xff", `"bad\xff"`},
		{"real \uFFFD", "real \uFFFD"},
		{"", ""},
	} {
		if got := PrintableText(c.in); got != c.want {
			t.Errorf("PrintableText(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestDisplayWidth(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
	}{
		{"abc", 3}, {"ünï", 3}, {"e\u0301", 1}, {"日本", 4}, {"█░", 2}, {"", 0},
	} {
		if got := DisplayWidth(c.in); got != c.want {
			t.Errorf("DisplayWidth(%q) = %d, want %d", c.in, got, c.want)
		}
	}
	for _, c := range []struct {
		in   string
		w    int
		want string
	}{
		{"abcdef", 6, "abcdef"},
		{"abcdef", 5, "abcd…"},
		{"abcdef", 1, "…"},
		{"abcdef", 0, ""},
		{"日本語", 5, "日本…"},
		{"日本語", 4, "日…"},
	} {
		if got := FitWidth(c.in, c.w); got != c.want {
			t.Errorf("FitWidth(%q, %d) = %q, want %q", c.in, c.w, got, c.want)
		}
	}
	if got := PadWidth("日本語", 5); got != "日本…" {
		t.Errorf("PadWidth = %q", got)
	}
	if got := PadWidth("日", 4); got != "日  " {
		t.Errorf("PadWidth = %q", got)
	}
}
