package run

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/podprof/podprof/report"
	"github.com/podprof/podprof/slim"
)

// The demo workload prints a fixed date: a slim image is verified by
// comparing its output with the original's, and wall-clock time would
// differ between two runs.
var demoWorkload = []string{"/bin/sh", "-c", "date -d @1700000000; cat /etc/os-release"}

// slimOutput is podprof slim --format json.
type slimOutput struct {
	Original, Slim struct {
		Name   string
		ID     string
		Bytes  int64
		Files  int64
		Layers int
	}
	Factor   float64
	Verified []slim.Check
}

// profileRun runs args (podman run's, IMAGE COMMAND...) with podprof run
// and returns the profile's path.
func profileRun(t *testing.T, args ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "profile.json")
	r := podprof(t, append([]string{"run", "--rm", "--podprof-output=" + out}, args...)...)
	if r.code != 0 {
		t.Fatalf("podprof run %q: exit %d\n%s", args, r.code, r.stderr)
	}
	return out
}

// slimImage runs podprof slim and reads its JSON; the image it makes is
// removed when the test ends.
func slimImage(t *testing.T, args ...string) slimOutput {
	t.Helper()
	r := podprof(t, append([]string{"slim", "--format", "json"}, args...)...)
	if r.code != 0 {
		t.Fatalf("podprof slim %q: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
	}
	var out slimOutput
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("podprof slim --format json: %v\n%s", err, r.stdout)
	}
	t.Cleanup(func() { exec.Command("podman", "rmi", "-f", out.Slim.ID).Run() })
	return out
}

func imageIDs(t *testing.T) []string {
	t.Helper()
	r := runCmd(t, "podman", "images", "-a", "-q", "--no-trunc")
	ids := strings.Fields(r.stdout)
	slices.Sort(ids)
	return ids
}

func TestSlimDemo(t *testing.T) {
	requireImage(t, demoImage)
	profile := profileRun(t, append([]string{demoImage}, demoWorkload...)...)
	const tag = "localhost/podprof-test/slim-demo:1"
	out := slimImage(t, "-t", tag, profile)
	t.Logf("original %d bytes, %d files; slim %d bytes, %d files (%.1fx)", out.Original.Bytes, out.Original.Files, out.Slim.Bytes, out.Slim.Files, out.Factor)
	if out.Slim.Name != tag || out.Slim.Layers != 1 || out.Slim.Bytes*5 > out.Original.Bytes {
		t.Errorf("slim image %s: %d layers, %d of %d bytes; want %s, one layer, under 20%%", out.Slim.Name, out.Slim.Layers, out.Slim.Bytes, out.Original.Bytes, tag)
	}
	if len(out.Verified) != 1 || !out.Verified[0].OK() || !slices.Equal(out.Verified[0].Run.Command, demoWorkload) {
		t.Errorf("verified %+v; want the recorded run, passed", out.Verified)
	}

	t.Run("runs like the original", func(t *testing.T) {
		want := runCmd(t, "podman", append([]string{"run", "--rm", demoImage}, demoWorkload...)...)
		got := runCmd(t, "podman", append([]string{"run", "--rm", tag}, demoWorkload...)...)
		if got != want {
			t.Errorf("slim image: %+v\noriginal: %+v", got, want)
		}
	})

	t.Run("same config", func(t *testing.T) {
		original, slimmed := inspectConfig(t, demoImage), inspectConfig(t, tag)
		if from := slimmed.Labels[slim.FromLabel]; from != out.Original.ID {
			t.Errorf("label %s=%q, want %s", slim.FromLabel, from, out.Original.ID)
		}
		delete(slimmed.Labels, slim.FromLabel)
		if len(slimmed.Labels) == 0 && len(original.Labels) == 0 {
			slimmed.Labels, original.Labels = nil, nil
		}
		if !reflect.DeepEqual(original, slimmed) {
			t.Errorf("config of the slim image\n%+v\nof the original\n%+v", slimmed, original)
		}
	})

	t.Run("same headers", func(t *testing.T) {
		original, slimmed := exportHeaders(t, demoImage), exportHeaders(t, tag)
		if len(slimmed) < 10 {
			t.Fatalf("the slim image exports %d entries", len(slimmed))
		}
		for name, hdr := range slimmed {
			if was, ok := original[name]; !ok {
				t.Errorf("%s is in the slim image only", name)
			} else if hdr != was {
				t.Errorf("%s: slim %s, original %s", name, hdr, was)
			}
		}
	})

	t.Run("reproducible", func(t *testing.T) {
		again := slimImage(t, "-t", "localhost/podprof-test/slim-demo:2", "--verify=false", profile)
		if again.Slim.ID != out.Slim.ID {
			t.Errorf("the same profile and image give image %s, then %s", out.Slim.ID, again.Slim.ID)
		}
		if len(again.Verified) != 0 {
			t.Errorf("--verify=false verified %+v", again.Verified)
		}
	})
}

// TestSlimVerifyNamesAMissingFile is the negative control: without a file
// the workload reads, the slim image must fail its verification, name the
// file, and be gone.
func TestSlimVerifyNamesAMissingFile(t *testing.T) {
	requireImage(t, demoImage)
	profile := profileRun(t, append([]string{demoImage}, demoWorkload...)...)
	before := imageIDs(t)
	r := podprof(t, "slim", "-t", "localhost/podprof-test/slim-broken:1", "--exclude", "/usr/lib/os-release", profile)
	if r.code != 1 || !strings.Contains(r.stdout, "FAILED") || !strings.Contains(r.stdout, "missing /usr/lib/os-release") {
		t.Errorf("slim without /usr/lib/os-release: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "--include") {
		t.Errorf("the failure does not say what to do: %q", r.stderr)
	}
	if after := imageIDs(t); !slices.Equal(before, after) {
		t.Errorf("a failed slim image stays in the store: images %q, were %q", after, before)
	}
}

func TestSlimErrors(t *testing.T) {
	requireImage(t, demoImage)
	requireImage(t, busyboxImage)
	demo := profileRun(t, append([]string{demoImage}, demoWorkload...)...)
	busybox := profileRun(t, busyboxImage, "true")
	lossy := filepath.Join(t.TempDir(), "lossy.json")
	p, err := report.ReadProfile(demo)
	if err != nil {
		t.Fatal(err)
	}
	p.LostEvents = 3
	if err := report.WriteProfile(lossy, p); err != nil {
		t.Fatal(err)
	}
	before := imageIDs(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{lossy}, "lost 3 events"},
		{[]string{demo, busybox}, "the profiles are of different images"},
		{[]string{"--image", busyboxImage, demo}, "is not the profiles' image"},
		{[]string{"-t", demoImage, demo}, "exists: name the slim image with -t"},
		{[]string{"-t", "Not/A:Name:!", demo}, "invalid image name"},
		{[]string{"-t", "localhost/podprof-test/slim-never:1", "--include", "/no/such/file", demo}, "--include /no/such/file: matches nothing"},
		{[]string{"--include-from", "/no/such/list", demo}, "--include-from"},
		{[]string{"--format", "yaml", demo}, "invalid --format"},
		{[]string{"/no/such/profile.json"}, "/no/such/profile.json"},
	} {
		r := podprof(t, append([]string{"slim"}, c.args...)...)
		requireOneLineError(t, r, 125, c.want)
	}
	// As podman says it: the error, then where to look.
	if r := podprof(t, "slim", "--no-such-flag"); r.code != 125 || r.stderr != "Error: unknown flag: --no-such-flag\nSee 'podprof slim --help'\n" {
		t.Errorf("slim --no-such-flag: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := podprof(t, "slim", "--force", "-t", "localhost/podprof-test/slim-lossy:1", "--verify=false", lossy); r.code != 0 {
		t.Errorf("--force with a lossy profile: exit %d\n%s", r.code, r.stderr)
	} else {
		exec.Command("podman", "rmi", "localhost/podprof-test/slim-lossy:1").Run()
	}
	if after := imageIDs(t); !slices.Equal(before, after) {
		t.Errorf("refused slims left images: %q, were %q", after, before)
	}
}

// nginxImage is contrib/images/nginx, built by make setup.
const nginxImage = "localhost/podprof-test/nginx:bookworm"

// TestSlimPython: an interpreter that imports modules by name, some of
// them shared libraries it dlopens, and uses cached bytecode.
func TestSlimPython(t *testing.T) {
	requireImage(t, workloadsImage)
	// python3-minimal's standard library; hashlib loads _hashlib.so.
	script := `import base64, hashlib, ipaddress, configparser, csv, io, email.message, urllib.parse, random
m = email.message.EmailMessage(); m["Subject"] = "podprof"
c = configparser.ConfigParser(); c.read_string("[a]\nb = 1\n")
w = io.StringIO(); csv.writer(w).writerow(["x", 1])
random.seed(7)
print(base64.b64encode(b"podprof").decode(), hashlib.sha256(b"x").hexdigest()[:8], ipaddress.ip_network("10.0.0.0/30").num_addresses,
	c["a"]["b"], w.getvalue().strip(), urllib.parse.quote("a b"), random.randint(1, 1000), m["Subject"])`
	command := []string{"python3", "-c", script}
	profile := profileRun(t, append([]string{workloadsImage}, command...)...)
	out := slimImage(t, "-t", "localhost/podprof-test/slim-python:1", profile)
	t.Logf("original %d bytes, %d files; slim %d bytes, %d files (%.1fx)", out.Original.Bytes, out.Original.Files, out.Slim.Bytes, out.Slim.Files, out.Factor)
	if len(out.Verified) != 1 || !out.Verified[0].OK() {
		t.Errorf("verified %+v", out.Verified)
	}
	want := runCmd(t, "podman", append([]string{"run", "--rm", workloadsImage}, command...)...)
	got := runCmd(t, "podman", append([]string{"run", "--rm", out.Slim.ID}, command...)...)
	if got != want || want.code != 0 || !strings.HasSuffix(want.stdout, " podprof\n") {
		t.Errorf("slim image: %+v\noriginal: %+v", got, want)
	}
}

// TestSlimNginx: a service run by a user given by name, with a non-root
// worker, serving a page to curl run with podman exec.
func TestSlimNginx(t *testing.T) {
	requireImage(t, nginxImage)
	original := serveOnce(t, nginxImage)
	// A service runs until stopped: verification stops it after its time
	// in both images and compares what they did until then.
	out := slimImage(t, "-t", "localhost/podprof-test/slim-nginx:1", "--verify-timeout", "3s", original.profile)
	t.Logf("original %d bytes, %d files; slim %d bytes, %d files (%.1fx)", out.Original.Bytes, out.Original.Files, out.Slim.Bytes, out.Slim.Files, out.Factor)
	if out.Slim.Bytes*5 > out.Original.Bytes {
		t.Errorf("slim image: %d of %d bytes, want under 20%%", out.Slim.Bytes, out.Original.Bytes)
	}
	if len(out.Verified) != 1 || !out.Verified[0].OK() || !out.Verified[0].Stopped {
		t.Errorf("verified %+v; want a run stopped after its time, passed", out.Verified)
	}
	slimmed := serveOnce(t, out.Slim.ID)
	if slimmed.page != original.page || slimmed.exitCode != original.exitCode || slimmed.logs != original.logs || slimmed.users != original.users {
		t.Errorf("slim image served %+v\noriginal %+v", slimmed, original)
	}
	if want := "33\n33\n"; original.users != want { // www-data: master and worker
		t.Errorf("nginx ran as %q, want %q: the test image is not what it should be", original.users, want)
	}
	if a, b := inspectConfig(t, nginxImage), inspectConfig(t, out.Slim.ID); a.User != b.User || a.WorkingDir != b.WorkingDir || a.StopSignal != b.StopSignal ||
		!reflect.DeepEqual(a.ExposedPorts, b.ExposedPorts) || !reflect.DeepEqual(a.Volumes, b.Volumes) || !reflect.DeepEqual(a.Healthcheck, b.Healthcheck) ||
		!slices.Equal(a.Entrypoint, b.Entrypoint) || !slices.Equal(a.Cmd, b.Cmd) {
		t.Errorf("config of the slim image\n%+v\nof the original\n%+v", b, a)
	}
}

// served is what one traced nginx container did.
type served struct {
	page, logs, users string
	exitCode          string
	profile           string
}

// serveOnce runs image's nginx traced, fetches its page with curl inside
// the container, and stops it.
func serveOnce(t *testing.T, image string) served {
	t.Helper()
	s := served{profile: filepath.Join(t.TempDir(), "profile.json")}
	name := fmt.Sprintf("podprof-slim-nginx-%d", time.Now().UnixNano())
	if r := podprof(t, "run", "-d", "--name", name, "--podprof-output="+s.profile, image); r.code != 0 {
		t.Fatalf("podprof run -d %s: exit %d\n%s", image, r.code, r.stderr)
	}
	defer exec.Command("podman", "rm", "-f", name).Run()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		// -w /: Podman 5.4.2 in the trixie chroot (make test-podman5) fails
		// to exec in the image's WORKDIR, plain podman too.
		r := runCmd(t, "podman", "exec", "-w", "/", name, "curl", "-fsS", "http://127.0.0.1:8080/")
		if r.code == 0 {
			s.page = r.stdout
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx in %s never served its page: %s", image, r.stderr)
		}
	}
	s.users = nginxUsers(t, name)
	if r := runCmd(t, "podman", "stop", name); r.code != 0 {
		t.Fatalf("podman stop: %s", r.stderr)
	}
	s.exitCode = strings.TrimSpace(runCmd(t, "podman", "inspect", "--format", "{{.State.ExitCode}}", name).stdout)
	s.logs = runCmd(t, "podman", "logs", name).stderr
	waitProfile(t, s.profile)
	return s
}

// nginxUsers lists the real uid of each nginx process in container name,
// one a line, from /proc (podman top in the Podman 5 lane's chroot lists
// the host's processes).
func nginxUsers(t *testing.T, name string) string {
	t.Helper()
	r := runCmd(t, "podman", "exec", "-w", "/", name, "sh", "-c", "cat /proc/[0-9]*/status")
	var users []string
	process := ""
	for _, line := range strings.Split(r.stdout, "\n") {
		if value, ok := strings.CutPrefix(line, "Name:"); ok {
			process = strings.TrimSpace(value)
		}
		if value, ok := strings.CutPrefix(line, "Uid:"); ok && process == "nginx" {
			users = append(users, strings.Fields(value)[0])
		}
	}
	return strings.Join(users, "\n") + "\n"
}

// imageConfig is what podman image inspect shows of the fields a slim
// image keeps.
type imageConfig struct {
	Entrypoint, Cmd, Env []string
	WorkingDir, User     string
	StopSignal           string
	Labels               map[string]string
	ExposedPorts         map[string]any
	Volumes              map[string]any
	Healthcheck          any
}

func inspectConfig(t *testing.T, image string) imageConfig {
	t.Helper()
	r := runCmd(t, "podman", "image", "inspect", "--format", "{{json .Config}}", image)
	var c imageConfig
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &c) != nil {
		t.Fatalf("podman image inspect %s: exit %d %s%s", image, r.code, r.stdout, r.stderr)
	}
	return c
}

// exportHeaders returns, per path, what podman export of a container of
// image says of each entry; a hard link stands for the file it links to.
func exportHeaders(t *testing.T, image string) map[string]string {
	t.Helper()
	create := runCmd(t, "podman", "create", image)
	if create.code != 0 {
		t.Fatalf("podman create %s: %s", image, create.stderr)
	}
	id := strings.TrimSpace(create.stdout)
	defer exec.Command("podman", "rm", "-f", id).Run()
	data, err := exec.Command("podman", "export", id).Output()
	if err != nil {
		t.Fatalf("podman export %s: %v", image, err)
	}
	headers := make(map[string]*tar.Header)
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		headers[filepath.Clean("/"+hdr.Name)] = hdr
	}
	out := make(map[string]string, len(headers))
	for name, hdr := range headers {
		if hdr.Typeflag == tar.TypeLink {
			hdr = headers[filepath.Clean("/"+hdr.Linkname)]
		}
		xattrs := make(map[string]string)
		for k, v := range hdr.PAXRecords {
			if strings.HasPrefix(k, "SCHILY.xattr.") {
				xattrs[k] = v
			}
		}
		out[name] = fmt.Sprintf("type %c mode %o uid %d gid %d size %d mtime %d link %q xattrs %v",
			hdr.Typeflag, hdr.Mode, hdr.Uid, hdr.Gid, hdr.Size, hdr.ModTime.Unix(), hdr.Linkname, xattrs)
	}
	return out
}
