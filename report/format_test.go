package report

import (
	"archive/tar"
	"bytes"
	"slices"
	"strings"
	"testing"
)

func pathsUsage(t *testing.T) *Usage {
	img := buildOrFail(t, layerOf(t, "l1",
		file("app/bin", 5_000),
		file("app/lib.so", 300),
		hardlink("app/lib2.so", "app/lib.so"),
		file("doc/a b", 10),
		file("doc/new\nline", 10),
		file("doc/bad\xff", 10),
		symlink("app/sh", "bin"),
		symlink("app/old", "gone"),
		&tar.Header{Name: "empty/", Typeflag: tar.TypeDir, Mode: 0o755},
	))
	return Join(img, &Profile{Version: ProfileVersion, Files: []File{{Path: "/app/bin", Exec: true}}})
}

// Every unused name is listed, hard links under each name, links that
// lead to a used file not, directories never.
func TestUnusedPaths(t *testing.T) {
	got := pathsUsage(t).UnusedPaths()
	want := []string{"/app/lib.so", "/app/lib2.so", "/app/old", "/doc/a b", "/doc/bad\xff", "/doc/new\nline"}
	if !slices.Equal(got, want) {
		t.Errorf("UnusedPaths = %q, want %q", got, want)
	}
}

func TestWritePaths(t *testing.T) {
	paths := []string{"/doc/a b", "/doc/bad\xff", "/doc/new\nline", `/doc/"q"`}
	var lines, nul bytes.Buffer
	if err := WritePaths(&lines, paths, false); err != nil {
		t.Fatal(err)
	}
	if want := "/doc/a b\n" + `"/doc/bad\xff"` + "\n" + `"/doc/new\nline"` + "\n" + `/doc/"q"` + "\n"; lines.String() != want {
		t.Errorf("lines %q, want %q", lines.String(), want)
	}
	if err := WritePaths(&nul, paths, true); err != nil {
		t.Fatal(err)
	}
	if want := strings.Join(paths, "\x00") + "\x00"; nul.String() != want {
		t.Errorf("-z %q, want %q", nul.String(), want)
	}
}

func TestSummaryTemplate(t *testing.T) {
	s := NewSummary(summaryUsage(t), "/tmp/run 1.json", DefaultTop)
	for _, c := range []struct{ format, want string }{
		{"{{.UnusedBytes}}", "2301000\n"},
		{`{{.UsedFiles}}/{{.ImageFiles}}\t{{printf "%.1f" .UsedPercent}}%`, "1/4\t68.5%\n"},
		{"{{json .Version}}", `"` + Version + `"` + "\n"},
		{"{{.Profile}}", `"/tmp/run 1.json"` + "\n"},
		// Names from the image are escaped as in the text report.
		{`{{range .LargestUnusedFiles}}{{.Path}} {{.Bytes}}\n{{end}}`, `"/usr/share/doc/\x1b]0;pwned\a" 2000000` + "\n" + `"/var/bad\xff\nname" 300000` + "\n/usr/share/doc/readme 1000\n\n"},
		{"{{range .Layers}}{{.ID}} {{.UsedBytes}}{{end}}", "l1 5000000\n"},
	} {
		var out bytes.Buffer
		if err := s.WriteTemplate(&out, c.format); err != nil {
			t.Errorf("%s: %v", c.format, err)
			continue
		}
		if out.String() != c.want {
			t.Errorf("%s: %q, want %q", c.format, out.String(), c.want)
		}
	}
	if s.LargestUnusedFiles[0].Path != "/usr/share/doc/\x1b]0;pwned\x07" {
		t.Errorf("WriteTemplate changed the summary's paths")
	}
	if err := CheckSummaryTemplate("{{.Unused"); err == nil || !strings.HasPrefix(err.Error(), `invalid --format template "{{.Unused": `) {
		t.Errorf("CheckSummaryTemplate of a broken template: %v", err)
	}
	if err := CheckSummaryTemplate("{{.UnusedBytes}}"); err != nil {
		t.Errorf("CheckSummaryTemplate: %v", err)
	}
	for _, bad := range []string{"{{.Unused", "{{.NoSuchField}}"} {
		if err := s.WriteTemplate(&bytes.Buffer{}, bad); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v, want one line", bad, err)
		}
	}
}
