package run

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestWithoutHealthcheckOverride(t *testing.T) {
	for _, tc := range []struct {
		name, spec string
		dropped    bool
	}{
		{"empty override", `{"image":"x","healthconfig":{}}`, true},
		{"override without a test", `{"image":"x","healthconfig":{"Interval":41000000000}}`, true},
		{"--health-cmd", `{"image":"x","healthconfig":{"Test":["CMD-SHELL","true"]}}`, false},
		{"--no-healthcheck", `{"image":"x","healthconfig":{"Test":["NONE"]}}`, false},
		{"none", `{"image":"x"}`, false},
		{"not JSON", `{"image":`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := withoutHealthcheckOverride([]byte(tc.spec))
			if !tc.dropped {
				if string(out) != tc.spec {
					t.Errorf("changed %s into %s", tc.spec, out)
				}
				return
			}
			var got, want map[string]any
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			json.Unmarshal([]byte(tc.spec), &want)
			delete(want, "healthconfig")
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %s, want the spec without its healthconfig", out)
			}
		})
	}
}

func TestClientFlags(t *testing.T) {
	service, out, noout := clientFlags([]string{"--log-level=error", "--out=/tmp/o", "--noout", "--runtime=runc"})
	if !reflect.DeepEqual(service, []string{"--log-level=error", "--runtime=runc"}) || out != "/tmp/o" || !noout {
		t.Errorf("got %q %q %v", service, out, noout)
	}
	if _, _, noout := clientFlags([]string{"--noout=false"}); noout {
		t.Error("--noout=false taken as --noout")
	}
}

func TestRefuseRemote(t *testing.T) {
	for _, global := range [][]string{{"--url=unix:///x"}, {"--remote"}, {"--connection=other"}, {"--identity=k"}, {"--host=tcp://h"}, {"--context=x"}} {
		if refuseRemote(global) == nil {
			t.Errorf("%q not refused", global)
		}
	}
	if err := refuseRemote([]string{"--log-level=c", "--runtime=r"}); err != nil {
		t.Error(err)
	}
}
