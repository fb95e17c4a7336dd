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

// podprof's client is podman 5's. Against a podman 4 service it must still
// do what podman 4's own `podman run` does; these are the differences
// podman's system tests show.

// serviceConnection is the version of the podman service the container engine
// talks to, and the client's HTTP connection to it.
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

// actAsPodman4 makes the run behave as podman 4's own; done is called
// when podman's run has returned.
func actAsPodman4(cmd *cobra.Command, conn *bindings.Connection, noout bool) (done func(), err error) {
	// podman 4 refuses to overwrite a --cidfile (5 does): refused before
	// the container is created, where podman 4 creates then removes it.
	cidfile, _ := cmd.Flags().GetString("cidfile")
	if cidfile != "" {
		if _, err := os.Lstat(cidfile); err == nil {
			return nil, fmt.Errorf("container id file exists. Ensure another container is not using it or delete %s", cidfile)
		}
	}
	// podman 4's --noout silences podman's own output, the ID that -d
	// prints, not the container's.
	if detach, _ := cmd.Flags().GetBool("detach"); detach && noout {
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
	requests := &podman4Requests{plain: transport.Clone()}
	transport.RegisterProtocol("http", requests)
	return func() {
		// podman 5 removes the --cidfile with a --rm container; podman 4
		// leaves it.
		if rm, _ := cmd.Flags().GetBool("rm"); rm && cidfile != "" && requests.created != "" {
			if f, err := os.OpenFile(cidfile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644); err == nil {
				f.WriteString(requests.created)
				f.Close()
			}
		}
	}, nil
}

// podman4Requests rewrites the client's requests where podman 5's client
// and podman 4's service read a field differently, and notes the ID of
// the container created.
type podman4Requests struct {
	plain   *http.Transport
	created string
}

func (t *podman4Requests) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPost || !strings.HasSuffix(req.URL.Path, "/libpod/containers/create") || req.Body == nil {
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
// container spec. podman 5's client always sends one: the --health-*
// options given, which a podman 5 service lays over the image's
// healthcheck. A podman 4 service takes it as the whole healthcheck: the
// image's would be lost. podman 4's client sent one only with
// --health-cmd or --no-healthcheck, which both set a test.
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
