package run

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/blang/semver/v4"
	"github.com/containers/podman/v5/pkg/bindings"
	"github.com/containers/podman/v5/pkg/domain/infra/tunnel"
	"github.com/spf13/cobra"
)

// podprof's client is podman 5.8's. Against an older service it must
// still do what that version's own `podman run` does; these are the
// differences podman's system tests and podprof's own show.

// serviceConnection is the version of the podman service the container
// engine talks to, and the client's HTTP connection to it.
func serviceConnection(engine any) (*semver.Version, *bindings.Connection, error) {
	tunnelEngine, ok := engine.(*tunnel.ContainerEngine)
	if !ok {
		return nil, nil, fmt.Errorf("unexpected container engine %T", engine)
	}
	conn, err := bindings.GetClient(tunnelEngine.ClientCtx)
	if err != nil {
		return nil, nil, err
	}
	return bindings.ServiceVersion(tunnelEngine.ClientCtx), conn, nil
}

// healthcheckOverrides is the first podman whose service lays a
// container's --health-* options over the image's healthcheck.
var healthcheckOverrides = semver.MustParse("5.5.0")

// actAsPodmanOf makes the run behave as the run of the service's podman
// version; done is called when podman's run has returned.
func actAsPodmanOf(version *semver.Version, cmd *cobra.Command, conn *bindings.Connection, noout bool) (done func(), err error) {
	done = func() {}
	cidfile, _ := cmd.Flags().GetString("cidfile")
	detach, _ := cmd.Flags().GetBool("detach")
	if version.Major < 5 {
		// podman 4 refuses to overwrite a --cidfile (5 does): refused
		// before the container is created, where podman 4 creates then
		// removes it.
		if _, err := os.Lstat(cidfile); cidfile != "" && err == nil {
			return nil, fmt.Errorf("container id file exists. Ensure another container is not using it or delete %s", cidfile)
		}
	}
	// podman 5's --noout silences stdout, the container's too; podman 4's
	// only podman's own output, the ID that -d prints.
	if noout && (version.Major >= 5 || detach) {
		devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			return nil, err
		}
		os.Stdout = devnull
	}
	// The client's transport must stay an *http.Transport, which attach
	// dials through: the requests to rewrite are taken by a handler of
	// its "http" scheme, which sends them over a copy of the transport
	// and lets the transport send all others itself.
	transport, ok := conn.Client.Transport.(*http.Transport)
	if !ok {
		return nil, fmt.Errorf("unexpected HTTP transport %T of the podman client", conn.Client.Transport)
	}
	requests := &serviceRequests{plain: transport.Clone(), keepImageHealthcheck: version.LT(healthcheckOverrides)}
	transport.RegisterProtocol("http", requests)
	if rm, _ := cmd.Flags().GetBool("rm"); version.Major < 5 && rm && cidfile != "" {
		// podman 5 removes the --cidfile with a --rm container; podman
		// 4 leaves it.
		done = func() {
			if requests.created == "" {
				return // none was created
			}
			if f, err := os.OpenFile(cidfile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644); err == nil {
				f.WriteString(requests.created)
				f.Close()
			}
		}
	}
	return done, nil
}

// serviceRequests rewrites the client's requests: where podman 5.8's
// client and an older service read a field differently, and where the
// client leaves the service's slow default; and it notes the ID of the
// container created.
type serviceRequests struct {
	plain *http.Transport
	// keepImageHealthcheck: the service is older than
	// healthcheckOverrides.
	keepImageHealthcheck bool
	created              string
}

// waitInterval is how often the service polls a waited-for container:
// podman's client asks for its default, 250 ms, which an exit then waits
// for, 125 ms on average, in every `podman run`.
const waitInterval = "20ms"

func (t *serviceRequests) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/wait") && strings.Contains(req.URL.Path, "/libpod/containers/") && !req.URL.Query().Has("interval") {
		req = req.Clone(req.Context())
		query := req.URL.Query()
		query.Set("interval", waitInterval)
		req.URL.RawQuery = query.Encode()
		return t.plain.RoundTrip(req)
	}
	if !t.keepImageHealthcheck || req.Method != http.MethodPost || !strings.HasSuffix(req.URL.Path, "/libpod/containers/create") || req.Body == nil {
		return nil, http.ErrSkipAltProtocol
	}
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	body = withoutHealthcheckOverride(body)
	req = req.Clone(req.Context())
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	resp, err := t.plain.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		return resp, err
	}
	reply, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	var created struct{ ID string }
	if json.Unmarshal(reply, &created) == nil {
		t.created = created.ID
	}
	resp.Body = io.NopCloser(bytes.NewReader(reply))
	return resp, nil
}

// withoutHealthcheckOverride drops a healthconfig that has no test from a
// container spec. podman 5.8's client always sends one: the --health-*
// options given, which a 5.5 or later service lays over the image's
// healthcheck. An older service takes it as the whole healthcheck: the
// image's would be lost. Older clients sent one only with --health-cmd
// or --no-healthcheck, which both set a test.
func withoutHealthcheckOverride(spec []byte) []byte {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(spec, &fields); err != nil {
		return spec // the service says what is wrong with it
	}
	var health struct{ Test []string }
	if raw, ok := fields["healthconfig"]; !ok || json.Unmarshal(raw, &health) != nil || len(health.Test) > 0 {
		return spec
	}
	delete(fields, "healthconfig")
	out, err := json.Marshal(fields)
	if err != nil {
		return spec
	}
	return out
}
