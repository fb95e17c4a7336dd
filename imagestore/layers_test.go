package imagestore

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vbatts/tar-split/tar/asm"
	"github.com/vbatts/tar-split/tar/storage"

	"github.com/podprof/podprof/internal/e2e"
	"github.com/podprof/podprof/report"
)

// tarSplitOf returns the gzip'd tar-split metadata of a tar stream, made
// the way containers/storage makes it when it stores a layer.
func tarSplitOf(t *testing.T, tarStream []byte) []byte {
	t.Helper()
	var metadata bytes.Buffer
	gz := gzip.NewWriter(&metadata)
	passThrough, err := asm.NewInputTarStream(bytes.NewReader(tarStream), storage.NewJSONPacker(gz), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, passThrough); err != nil {
		t.Fatalf("disassembling the tar stream: %v", err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return metadata.Bytes()
}

func writeTar(t *testing.T, format tar.Format, headers ...*tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, hdr := range headers {
		hdr.Format = format
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("writing header %q: %v", hdr.Name, err)
		}
		if hdr.Typeflag == tar.TypeReg {
			if _, err := io.CopyN(tw, zeros{}, hdr.Size); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// headerSummary is what the image model takes from a header.
func headerSummary(hdr *tar.Header) string {
	return fmt.Sprintf("%q %c size=%d link=%q", hdr.Name, hdr.Typeflag, hdr.Size, hdr.Linkname)
}

func readAllHeaders(t *testing.T, headers report.HeaderReader) []string {
	t.Helper()
	var got []string
	for {
		hdr, err := headers.Next()
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatalf("after %d headers: %v", len(got), err)
		}
		got = append(got, headerSummary(hdr))
	}
}

func TestTarSplitReplaysEveryHeader(t *testing.T) {
	long := strings.Repeat("long-directory-name/", 12) + "file"
	entries := func() []*tar.Header {
		return []*tar.Header{
			{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755},
			{Name: "./etc/", Typeflag: tar.TypeDir, Mode: 0o755},
			{Name: "./etc/passwd", Typeflag: tar.TypeReg, Size: 1234, Mode: 0o644},
			{Name: "./etc/empty", Typeflag: tar.TypeReg, Size: 0, Mode: 0o644},
			{Name: "./" + long, Typeflag: tar.TypeReg, Size: 511, Mode: 0o644},
			{Name: "./link-to-long", Typeflag: tar.TypeSymlink, Linkname: long + "/" + long, Mode: 0o777},
			{Name: "./hard", Typeflag: tar.TypeLink, Linkname: "./etc/passwd", Mode: 0o644},
			{Name: "./big", Typeflag: tar.TypeReg, Size: 3 << 20, Mode: 0o644},
			{Name: "./odd\nname\x1b", Typeflag: tar.TypeReg, Size: 513, Mode: 0o644},
			{Name: "./fifo", Typeflag: tar.TypeFifo, Mode: 0o644},
			{Name: "./dev/null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3, Mode: 0o666},
			{Name: "./etc/.wh.gone", Typeflag: tar.TypeReg, Mode: 0o644},
		}
	}
	for _, format := range []tar.Format{tar.FormatPAX, tar.FormatGNU} {
		t.Run(format.String(), func(t *testing.T) {
			headers := entries()
			if format == tar.FormatPAX {
				headers = append(headers, &tar.Header{Name: "./bad\xffutf8", Typeflag: tar.TypeReg, Size: 7, Mode: 0o644})
			}
			stream := writeTar(t, format, headers...)
			want := readAllHeaders(t, tar.NewReader(bytes.NewReader(stream)))

			path := filepath.Join(t.TempDir(), "layer.tar-split.gz")
			if err := os.WriteFile(path, tarSplitOf(t, stream), 0o600); err != nil {
				t.Fatal(err)
			}
			headerReader, closer, err := openTarSplit(path)
			if err != nil {
				t.Fatal(err)
			}
			defer closer.Close()
			if got := readAllHeaders(t, headerReader); !slices.Equal(got, want) {
				t.Errorf("headers from tar-split:\n  %s\nfrom the tar:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
		})
	}
}

// TestTarSplitSkipsContents replays a layer that claims a 1 TiB file: read
// rather than skipped, its content would take many minutes.
func TestTarSplitSkipsContents(t *testing.T) {
	var header bytes.Buffer
	tw := tar.NewWriter(&header)
	if err := tw.WriteHeader(&tar.Header{Name: "huge", Typeflag: tar.TypeReg, Size: 1 << 40, Mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	// No content, no Close: the header block is all the stream needs.
	var metadata bytes.Buffer
	gz := gzip.NewWriter(&metadata)
	packer := storage.NewJSONPacker(gz)
	for _, e := range []storage.Entry{
		{Type: storage.SegmentType, Payload: header.Bytes()},
		{Type: storage.FileType, Name: "huge", Size: 1 << 40},
		{Type: storage.SegmentType, Payload: make([]byte, 1024)}, // the end-of-archive blocks
	} {
		if _, err := packer.AddEntry(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "huge.tar-split.gz")
	if err := os.WriteFile(path, metadata.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	done := make(chan []string)
	go func() {
		headers, closer, err := openTarSplit(path)
		if err != nil {
			t.Error(err)
			close(done)
			return
		}
		defer closer.Close()
		done <- readAllHeaders(t, headers)
	}()
	select {
	case got := <-done:
		if want := []string{`"huge" 0 size=1099511627776 link=""`}; !slices.Equal(got, want) {
			t.Errorf("headers %q, want %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("reading the headers of a 1 TiB layer takes more than 10 s: contents are read, not skipped")
	}
}

func TestTarSplitErrors(t *testing.T) {
	dir := t.TempDir()
	good := tarSplitOf(t, writeTar(t, tar.FormatPAX, &tar.Header{Name: "a", Typeflag: tar.TypeReg, Size: 10, Mode: 0o644}))
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	gzipped := func(data string) []byte {
		var buf bytes.Buffer
		gz := gzip.NewWriter(&buf)
		gz.Write([]byte(data))
		gz.Close()
		return buf.Bytes()
	}

	if _, _, err := openTarSplit(filepath.Join(dir, "absent.tar-split.gz")); err == nil || !strings.Contains(err.Error(), "no tar-split metadata at") {
		t.Errorf("absent file: %v", err)
	}
	if _, _, err := openTarSplit(write("plain", []byte("plain text, not gzip"))); err == nil || !strings.Contains(err.Error(), "gzip: invalid header") {
		t.Errorf("not gzip: %v", err)
	}
	for name, data := range map[string][]byte{
		"truncated gzip": good[:len(good)/2],
		"not JSON":       gzipped("this is no tar-split\n"),
		"unknown entry":  gzipped(`{"type":9,"position":0}` + "\n"),
		"negative size":  gzipped(`{"type":1,"name":"x","size":-5,"position":0}` + "\n"),
	} {
		headers, closer, err := openTarSplit(write(strings.ReplaceAll(name, " ", "-"), data))
		if err != nil {
			t.Errorf("%s: refused at open: %v", name, err)
			continue
		}
		for err == nil {
			_, err = headers.Next()
		}
		closer.Close()
		if err == io.EOF {
			t.Errorf("%s: read to the end without an error", name)
		}
	}
}

// fakeStore lays out a containers/storage graph root by hand.
type fakeStore struct {
	t    *testing.T
	root string
}

func (s fakeStore) writeJSON(name string, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		s.t.Fatal(err)
	}
	s.write(name, data)
}

func (s fakeStore) write(name string, data []byte) {
	p := filepath.Join(s.root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		s.t.Fatal(err)
	}
}

func (s fakeStore) layer(id string, headers ...*tar.Header) {
	s.write("vfs-layers/"+id+".tar-split.gz", tarSplitOf(s.t, writeTar(s.t, tar.FormatPAX, headers...)))
}

func TestStorageLayersFollowsTheParentChain(t *testing.T) {
	store := fakeStore{t, t.TempDir()}
	imageID := strings.Repeat("1", 64)
	store.writeJSON("vfs-images/images.json", []map[string]any{
		{"id": strings.Repeat("9", 64), "layer": "other"},
		{"id": imageID, "layer": "top", "names": []string{"localhost/x:1"}},
	})
	store.writeJSON("vfs-layers/layers.json", []map[string]any{
		{"id": "top", "parent": "middle", "diff-digest": "sha256:ttt"},
		{"id": "bottom", "diff-digest": "sha256:bbb"},
	})
	// A layer listed only in volatile-layers.json is found too.
	store.writeJSON("vfs-layers/volatile-layers.json", []map[string]any{{"id": "middle", "parent": "bottom"}})
	store.writeJSON("vfs-images/"+imageID+"/="+base64.StdEncoding.EncodeToString([]byte("sha256:"+imageID)), map[string]any{
		"history": []map[string]any{
			{"created_by": "ADD base"},
			{"created_by": "ENV X=1", "empty_layer": true},
			{"created_by": "RUN rm /a"},
			{"created_by": "RUN touch /c"},
		},
	})
	store.layer("bottom", &tar.Header{Name: "a", Typeflag: tar.TypeReg, Size: 5, Mode: 0o644}, &tar.Header{Name: "b", Typeflag: tar.TypeReg, Size: 7, Mode: 0o644})
	store.layer("middle", &tar.Header{Name: ".wh.a", Typeflag: tar.TypeReg, Mode: 0o644})
	store.layer("top", &tar.Header{Name: "c", Typeflag: tar.TypeReg, Size: 11, Mode: 0o644})

	layers, err := Store{GraphRoot: store.root, Driver: "vfs"}.Layers("sha256:" + imageID)
	if err != nil {
		t.Fatal(err)
	}
	var described []string
	for _, l := range layers {
		described = append(described, l.ID+" "+l.CreatedBy)
	}
	if want := []string{"sha256:bbb ADD base", "middle RUN rm /a", "sha256:ttt RUN touch /c"}; !slices.Equal(described, want) {
		t.Errorf("layers %q, want %q", described, want)
	}
	img, err := report.BuildImage(layers)
	if err != nil {
		t.Fatal(err)
	}
	if img.Bytes != 18 || img.Files != 2 || img.Lookup("/a") != nil {
		t.Errorf("image of %d bytes in %d files, want 18 in 2 without /a", img.Bytes, img.Files)
	}

	// History that does not match the layers one for one labels nothing.
	store.writeJSON("vfs-images/"+imageID+"/="+base64.StdEncoding.EncodeToString([]byte("sha256:"+imageID)), map[string]any{
		"history": []map[string]any{{"created_by": "ADD base"}},
	})
	layers, err = Store{GraphRoot: store.root, Driver: "vfs"}.Layers(imageID)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		if l.CreatedBy != "" {
			t.Errorf("layer %s labelled %q from mismatched history", l.ID, l.CreatedBy)
		}
	}
}

func TestStorageLayersErrors(t *testing.T) {
	imageID := strings.Repeat("2", 64)
	setup := func(t *testing.T, layers []map[string]any) fakeStore {
		store := fakeStore{t, t.TempDir()}
		store.writeJSON("overlay-images/images.json", []map[string]any{{"id": imageID, "layer": "top"}})
		store.writeJSON("overlay-layers/layers.json", layers)
		return store
	}
	t.Run("no store", func(t *testing.T) {
		_, err := Store{GraphRoot: t.TempDir(), Driver: "overlay"}.Layers(imageID)
		if err == nil || !strings.Contains(err.Error(), "reading podman's image store: open ") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("unknown image", func(t *testing.T) {
		store := setup(t, nil)
		_, err := Store{GraphRoot: store.root, Driver: "overlay"}.Layers("feed")
		want := "image feed is not in " + store.root + "/overlay-images/images.json: was it removed?"
		if err == nil || err.Error() != want {
			t.Errorf("error %v\nwant  %s", err, want)
		}
	})
	t.Run("missing layer", func(t *testing.T) {
		store := setup(t, []map[string]any{{"id": "top", "parent": "gone"}})
		_, err := Store{GraphRoot: store.root, Driver: "overlay"}.Layers(imageID)
		want := "layer gone of image " + imageID + " is not in " + store.root + "/overlay-layers"
		if err == nil || err.Error() != want {
			t.Errorf("error %v\nwant  %s", err, want)
		}
	})
	t.Run("loop", func(t *testing.T) {
		store := setup(t, []map[string]any{{"id": "top", "parent": "under"}, {"id": "under", "parent": "top"}})
		_, err := Store{GraphRoot: store.root, Driver: "overlay"}.Layers(imageID)
		if err == nil || !strings.Contains(err.Error(), "form a loop") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("corrupt layers.json", func(t *testing.T) {
		store := setup(t, nil)
		store.write("overlay-layers/layers.json", []byte("[{"))
		_, err := Store{GraphRoot: store.root, Driver: "overlay"}.Layers(imageID)
		if err == nil || !strings.Contains(err.Error(), "layers.json: unexpected end of JSON input") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("missing tar-split", func(t *testing.T) {
		store := setup(t, []map[string]any{{"id": "top", "diff-digest": "sha256:top"}})
		layers, err := Store{GraphRoot: store.root, Driver: "overlay"}.Layers(imageID)
		if err != nil {
			t.Fatal(err)
		}
		_, err = report.BuildImage(layers)
		want := "layer 1 of 1 (sha256:top): no tar-split metadata at " + store.root + "/overlay-layers/top.tar-split.gz: this layer was not stored from a tar stream"
		if err == nil || err.Error() != want {
			t.Errorf("error %v\nwant  %s", err, want)
		}
	})
}

// fsopSource is a tiny static program put in the test image, so that RUN
// steps can change the filesystem without a shell or a registry.
const fsopSource = `package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Each argument is one operation: rm:PATH, mkdir:PATH, write:PATH:SIZE,
// link:OLD:NEW, symlink:TARGET:NEW.
func main() {
	for _, op := range os.Args[1:] {
		f := strings.Split(op, ":")
		var err error
		switch f[0] {
		case "rm":
			err = os.RemoveAll(f[1])
		case "mkdir":
			err = os.MkdirAll(f[1], 0o755)
		case "write":
			var n int
			if n, err = strconv.Atoi(f[2]); err == nil {
				err = os.WriteFile(f[1], make([]byte, n), 0o644)
			}
		case "link":
			err = os.Link(f[1], f[2])
		case "symlink":
			err = os.Symlink(f[1], f[2])
		default:
			err = fmt.Errorf("unknown operation %q", op)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
`

// buildFsop compiles fsopSource as a static binary and returns its bytes.
func buildFsop(t *testing.T) []byte {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(fsopSource), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module fsop\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-o", "fsop", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the fsop helper: %v\n%s", err, out)
	}
	binary, err := os.ReadFile(filepath.Join(dir, "fsop"))
	if err != nil {
		t.Fatal(err)
	}
	return binary
}

// baseLayerTar is the first layer of the test image: every kind of entry,
// hard links, links of both kinds, and names no terminal should print raw.
func baseLayerTar(t *testing.T, fsop []byte) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(hdr *tar.Header, content []byte) {
		hdr.Format = tar.FormatPAX
		if hdr.Mode == 0 {
			hdr.Mode = 0o644
		}
		if content != nil {
			hdr.Size = int64(len(content))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(content); err != nil {
			t.Fatal(err)
		}
	}
	dir := func(name string) { add(&tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755}, nil) }
	file := func(name string, size int) { add(&tar.Header{Name: name, Typeflag: tar.TypeReg}, make([]byte, size)) }
	dir("./")
	dir("./bin/")
	add(&tar.Header{Name: "./bin/fsop", Typeflag: tar.TypeReg, Mode: 0o755}, fsop)
	dir("./data/")
	file("./data/a", 1000)
	add(&tar.Header{Name: "./data/a-hard", Typeflag: tar.TypeLink, Linkname: "./data/a"}, nil)
	file("./data/gone", 2000)
	dir("./data/dir-gone/")
	file("./data/dir-gone/x", 3000)
	dir("./data/opq/")
	file("./data/opq/old", 4000)
	dir("./data/opq/sub/")
	file("./data/opq/sub/old2", 4500)
	file("./data/replaced", 5000)
	add(&tar.Header{Name: "./data/rel-link", Typeflag: tar.TypeSymlink, Linkname: "a"}, nil)
	add(&tar.Header{Name: "./data/abs-link", Typeflag: tar.TypeSymlink, Linkname: "/data/a"}, nil)
	add(&tar.Header{Name: "./data/fifo", Typeflag: tar.TypeFifo}, nil)
	add(&tar.Header{Name: "./data/null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3, Mode: 0o666}, nil)
	file("./data/odd\nname\x1b[1m", 6000)
	file("./data/bad\xffutf8", 7000)
	dir("./deep/a/b/c/")
	file("./deep/a/b/c/d", 8000)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// exportedTree lists the final filesystem of a container, as podman export
// writes it, in the form treeListing gives an image: it is the independent
// account the image model must agree with.
func exportedTree(t *testing.T, export []byte) (lines []string, totalBytes, files int64) {
	tr := tar.NewReader(bytes.NewReader(export))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading podman export: %v", err)
		}
		name := path.Clean("/" + hdr.Name)
		switch hdr.Typeflag {
		case tar.TypeDir:
			lines = append(lines, name+" dir")
		case tar.TypeReg:
			lines = append(lines, fmt.Sprintf("%s file %d", name, hdr.Size))
			totalBytes += hdr.Size
			files++
		case tar.TypeLink: // another name of a file already listed
			target := path.Clean("/" + hdr.Linkname)
			i := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, target+" file ") })
			if i < 0 {
				t.Fatalf("export: hard link %q to unlisted %q", name, target)
			}
			lines = append(lines, name+strings.TrimPrefix(lines[i], target))
		case tar.TypeSymlink:
			lines = append(lines, name+" symlink -> "+hdr.Linkname)
			files++
		default:
			lines = append(lines, name+" other")
			files++
		}
	}
	slices.Sort(lines)
	return lines, totalBytes, files
}

func treeListing(img *report.Image) []string {
	var lines []string
	img.Root.Walk(func(n *report.Node) bool {
		switch n.Kind {
		case report.Dir:
			if n != img.Root { // podman export has no entry for the root
				lines = append(lines, n.Path()+" dir")
			}
		case report.Regular:
			lines = append(lines, fmt.Sprintf("%s file %d", n.Path(), n.Size))
		case report.Symlink:
			lines = append(lines, n.Path()+" symlink -> "+n.Target)
		default:
			lines = append(lines, n.Path()+" other")
		}
		return true
	})
	slices.Sort(lines)
	return lines
}

// TestStorageLayersMatchesPodmanExport builds a real multi-layer image with
// podman (an imported base, then RUN steps that delete, make opaque
// directories, replace and hard-link files) and checks the tree read from
// containers/storage's tar-split files against the filesystem podman
// exports from a container of that image.
func TestStorageLayersMatchesPodmanExport(t *testing.T) {
	e2e.Require(t, true, "it reads a real image of podman's store")
	tag := fmt.Sprintf("podprof-imagetest-%d", time.Now().UnixNano())
	base, final := "localhost/"+tag+"-base:latest", "localhost/"+tag+":latest"

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "base.tar"), baseLayerTar(t, buildFsop(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	e2e.Podman(t, "import", "--quiet", filepath.Join(dir, "base.tar"), base)
	t.Cleanup(func() { exec.Command("podman", "rmi", "--force", final, base).Run() })

	containerfile := `FROM ` + base + `
RUN ["/bin/fsop", "rm:/data/gone", "rm:/data/dir-gone"]
RUN ["/bin/fsop", "rm:/data/opq", "mkdir:/data/opq/sub", "write:/data/opq/new:9000", "write:/data/opq/sub/new2:9100"]
RUN ["/bin/fsop", "write:/data/replaced:10000", "link:/data/a:/data/a-third", "symlink:../data/opq/new:/deep/a/up-link", "rm:/deep/a/b/c/d"]
`
	if err := os.WriteFile(filepath.Join(dir, "Containerfile"), []byte(containerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	// runc, no network and fixed rlimits: what works on this project's
	// machines (crun cannot handle their cgroup setup).
	e2e.Podman(t, "build", "--quiet", "--runtime", "runc", "--network", "none",
		"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
		"--file", filepath.Join(dir, "Containerfile"), "--tag", final, dir)

	imageID := e2e.Podman(t, "image", "inspect", "--format", "{{.Id}}", final)
	store := strings.Fields(e2e.Podman(t, "info", "--format", "{{.Store.GraphRoot}} {{.Store.GraphDriverName}}"))
	if len(store) != 2 {
		t.Fatalf("podman info gave %q, want the graph root and driver", store)
	}

	layers, err := Store{GraphRoot: store[0], Driver: store[1]}.Layers(imageID)
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 4 {
		t.Fatalf("%d layers, want 4: the import and three RUN steps", len(layers))
	}
	if !strings.Contains(layers[2].CreatedBy, "mkdir:/data/opq/sub") {
		t.Errorf("layer 3 was created by %q, want the second RUN step", layers[2].CreatedBy)
	}
	// Make sure podman wrote the whiteouts this test is about.
	for i, want := range map[int][]string{1: {"data/.wh.gone", "data/.wh.dir-gone"}, 2: {"data/opq/.wh..wh..opq"}} {
		headers, closer, err := layers[i].Open()
		if err != nil {
			t.Fatal(err)
		}
		names := strings.Join(readAllHeaders(t, headers), "\n")
		closer.Close()
		for _, w := range want {
			if !strings.Contains(names, w) {
				t.Errorf("layer %d has no %s entry; its entries:\n%s", i+1, w, names)
			}
		}
	}
	img, err := report.BuildImage(layers)
	if err != nil {
		t.Fatal(err)
	}

	ctr := e2e.Podman(t, "create", "--runtime", "runc", final, "/bin/fsop")
	t.Cleanup(func() { exec.Command("podman", "rm", "--force", ctr).Run() })
	if changes := e2e.Podman(t, "diff", ctr); changes != "" {
		t.Fatalf("the new container already differs from its image, so its export is not the image:\n%s", changes)
	}
	exportPath := filepath.Join(dir, "export.tar")
	e2e.Podman(t, "export", "--output", exportPath, ctr)
	export, err := os.ReadFile(exportPath)
	if err != nil {
		t.Fatal(err)
	}
	wantLines, wantBytes, wantFiles := exportedTree(t, export)

	if got := treeListing(img); !slices.Equal(got, wantLines) {
		t.Errorf("tree from tar-split:\n  %s\nexported by podman:\n  %s", strings.Join(got, "\n  "), strings.Join(wantLines, "\n  "))
	}
	if img.Bytes != wantBytes || img.Files != wantFiles {
		t.Errorf("image has %d bytes in %d files, podman export %d bytes in %d files", img.Bytes, img.Files, wantBytes, wantFiles)
	}
	// The cases this image is built to exercise, spelled out.
	for p, want := range map[string]bool{
		"/data/gone": false, "/data/dir-gone": false, "/data/opq/old": false, "/data/opq/sub/old2": false,
		"/data/opq/new": true, "/data/opq/sub/new2": true, "/deep/a/b/c/d": false, "/deep/a/up-link": true,
	} {
		if got := img.Lookup(p) != nil; got != want {
			t.Errorf("%s in the image: %v, want %v", p, got, want)
		}
	}
	a, third := img.Lookup("/data/a"), img.Lookup("/data/a-third")
	if a == nil || third == nil || a.Inode != third.Inode {
		t.Errorf("/data/a and its new hard link /data/a-third are not one file")
	}
}

func TestDecodeSegmentLine(t *testing.T) {
	for _, c := range []struct {
		line string
		fast bool // taken by the hand decoder rather than encoding/json
	}{
		{`{"type":2,"payload":"aGVsbG8=","position":0}`, true},
		{`{"type":2,"payload":"","position":17}`, true},
		{`{"type":2,"payload":"aGVs\r\nbG8=","position":1}`, false},
		{"{\"type\":2,\"payload\":\"aGVs\rbG8=\",\"position\":1}", false},
		{"{\"type\":2,\"payload\":\"\n\",\"position\":0}", false},
		{`{"type":2,"payload":null,"position":3}`, false},
		{`{"type":2,"payload":"aGVsbG8=","position":05}`, false},
		{`{"type":2,"payload":"aGVsbG8=","position":-1}`, false},
		{`{"type":2,"payload":"aGVsbG8=","position":1,"payload":"d29ybGQ="}`, false},
		{`{"type":2,"payload":"aGVsbG8=" ,"position":1}`, false},
		{`{"type":2,"payload":"a\u0047VsbG8=","position":1}`, false},
		{`{"type":2,"payload":"not base64!","position":1}`, false},
		{`{"type":1,"name":"a","size":5,"payload":"aGVsbG8=","position":1}`, false},
		{`{"payload":"aGVsbG8=","type":2,"position":1}`, false},
	} {
		got, fast := decodeSegmentLine([]byte("dst:"), []byte(c.line))
		if fast != c.fast {
			t.Errorf("%s: decoded by hand %v, want %v", c.line, fast, c.fast)
		}
		if fast {
			segment, appended := bytes.CutPrefix(got, []byte("dst:"))
			if !appended {
				t.Errorf("%s: the segment was not appended to dst: %q", c.line, got)
			}
			expectSameAsJSON(t, []byte(c.line), segment)
		}
	}

	// What tar-split writes must take the fast path, or reading big images
	// silently becomes several times slower.
	gz, err := gzip.NewReader(bytes.NewReader(tarSplitOf(t, writeTar(t, tar.FormatPAX,
		&tar.Header{Name: "a", Typeflag: tar.TypeReg, Size: 10, Mode: 0o644},
		&tar.Header{Name: strings.Repeat("long/", 40), Typeflag: tar.TypeDir, Mode: 0o755},
	))))
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(gz)
	if err != nil {
		t.Fatal(err)
	}
	segments := 0
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte{'\n'}) {
		if bytes.HasPrefix(line, []byte(`{"type":2`)) {
			segments++
			if _, fast := decodeSegmentLine(nil, line); !fast {
				t.Errorf("tar-split's segment line %.80q... is not decoded by hand", line)
			}
		}
	}
	if segments < 3 {
		t.Errorf("only %d segment lines in a two-entry tar-split", segments)
	}
}

// expectSameAsJSON checks a segment decoded by hand against encoding/json.
func expectSameAsJSON(t *testing.T, line, segment []byte) {
	t.Helper()
	var want storage.Entry
	if err := json.Unmarshal(line, &want); err != nil {
		t.Fatalf("%q: decoded by hand, but encoding/json refuses it: %v", line, err)
	}
	if want.Type != storage.SegmentType || !bytes.Equal(segment, want.Payload) {
		t.Fatalf("%q: decoded by hand as segment %q, by encoding/json as %+v", line, segment, want)
	}
}

// FuzzDecodeSegmentLine checks that whatever line the hand decoder takes,
// encoding/json reads the same.
func FuzzDecodeSegmentLine(f *testing.F) {
	f.Add([]byte(`{"type":2,"payload":"aGVsbG8=","position":0}`))
	f.Add([]byte(`{"type":2,"payload":"","position":1234}`))
	f.Add([]byte(`{"type":1,"name":"x","size":5,"payload":"AAAAAAAAAAA=","position":1}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		if segment, fast := decodeSegmentLine(nil, line); fast {
			expectSameAsJSON(t, line, segment)
		}
	})
}
