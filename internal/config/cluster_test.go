package config

import (
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestClusterKeys: with no cluster keys a process is role all and not clustered (one machine, no
// NATS); --cluster is repeatable and replaces the environment's list; the role and cluster keys are
// checked together.
func TestClusterKeys(t *testing.T) {
	c, err := Load(nil, func(string) string { return "" }, io.Discard)
	if err != nil || c.Role != RoleAll || c.Clustered() {
		t.Fatalf("default: role %q clustered %v (%v)", c.Role, c.Clustered(), err)
	}
	env := func(k string) string {
		if k == "PARLEY_CLUSTER" {
			return "nats://env:4222"
		}
		return ""
	}
	c, err = Load([]string{"--role", "bridge", "--cluster", "nats://a:4222", "--cluster", "nats://b:4222,nats://c:4222", "--region", "eu-west"}, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"nats://a:4222", "nats://b:4222", "nats://c:4222"}; !slices.Equal(c.Cluster, want) || c.Region != "eu-west" {
		t.Fatalf("cluster %v region %q, want %v eu-west", c.Cluster, c.Region, want)
	}
	if c, err = Load([]string{"--role", "bridge"}, env, io.Discard); err != nil || !slices.Equal(c.Cluster, []string{"nats://env:4222"}) {
		t.Fatalf("PARLEY_CLUSTER: %v (%v)", c.Cluster, err)
	}
	if c, err = Load([]string{"--role", "signal", "--cluster-listen", "127.0.0.1:4222"}, noEnv, io.Discard); err != nil || !c.Clustered() {
		t.Fatalf("signal node embedding NATS: %v", err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--role", "relay"}, "--role"},
		{[]string{"--role", "signal"}, "needs --cluster or --cluster-listen"},
		{[]string{"--role", "bridge"}, "needs --cluster"},
		{[]string{"--role", "bridge", "--cluster-listen", ":4222", "--cluster", "nats://a:4222"}, "does not embed"},
		{[]string{"--cluster", "http://a:4222"}, "--cluster"},
		{[]string{"--cluster", "nats://a"}, "--cluster"},
		{[]string{"--cluster-listen", "4222"}, "--cluster-listen"},
		{[]string{"--cluster-creds", "x.creds"}, "without --cluster"},
		{[]string{"--role", "bridge", "--cluster", "nats://a:4222", "--region", "eu west"}, "--region"},
		{[]string{"--region-map", "10.0.0.0/8"}, "--region-map"},
		{[]string{"--region-map", "10.0.0.0/33=eu"}, "--region-map"},
		{[]string{"--region-map", "10.0.0.0/8=e u"}, "--region-map"},
	} {
		_, err := Load(tc.args, noEnv, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
	var help strings.Builder
	Load([]string{"--help"}, noEnv, &help)
	for _, s := range []string{"-role", "-cluster-listen", "-cluster-creds", "-region", "no NATS anywhere", "taken out"} {
		if !strings.Contains(help.String(), s) {
			t.Errorf("serve --help does not say %q", s)
		}
	}
}

func noEnv(string) string { return "" }

// TestRegionMap: the longest matching prefix names a client's region, IPv4 in IPv6 included; an
// address no prefix holds has none.
func TestRegionMap(t *testing.T) {
	c, err := Load([]string{"--region-map", "10.0.0.0/8=eu, 10.1.0.0/16=eu-west", "--region-map", "2001:db8::/32=us"}, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	regions, err := c.Regions()
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]string{
		"10.2.3.4": "eu", "10.1.2.3": "eu-west", "::ffff:10.1.2.3": "eu-west", "2001:db8::7": "us", "192.0.2.1": "",
	} {
		if got := regions(netip.MustParseAddr(addr)); got != want {
			t.Errorf("%s: region %q, want %q", addr, got, want)
		}
	}
}

// TestDrainTimeout: 30 s unless the flag, the variable or the file says otherwise; a negative or
// unreadable one is refused, naming how it was given.
func TestDrainTimeout(t *testing.T) {
	c, err := Load(nil, noEnv, io.Discard)
	if err != nil || c.DrainTimeout != 30*time.Second {
		t.Fatalf("default drain timeout %v (%v), want 30s", c.DrainTimeout, err)
	}
	if c, err = Load([]string{"--drain-timeout", "5s"}, noEnv, io.Discard); err != nil || c.DrainTimeout != 5*time.Second {
		t.Fatalf("--drain-timeout 5s: %v (%v)", c.DrainTimeout, err)
	}
	env := func(k string) string {
		if k == "PARLEY_DRAIN_TIMEOUT" {
			return "1m"
		}
		return ""
	}
	if c, err = Load(nil, env, io.Discard); err != nil || c.DrainTimeout != time.Minute {
		t.Fatalf("PARLEY_DRAIN_TIMEOUT=1m: %v (%v)", c.DrainTimeout, err)
	}
	path := filepath.Join(t.TempDir(), "parley.toml")
	os.WriteFile(path, []byte("drain-timeout = \"0s\"\n"), 0o600)
	if c, err = Load([]string{"--config", path}, noEnv, io.Discard); err != nil || c.DrainTimeout != 0 {
		t.Fatalf("drain-timeout = \"0s\" in the file: %v (%v)", c.DrainTimeout, err)
	}
	if _, err = Load([]string{"--drain-timeout", "-1s"}, noEnv, io.Discard); err == nil || !strings.Contains(err.Error(), "--drain-timeout") {
		t.Fatalf("a negative drain timeout: %v", err)
	}
	bad := func(k string) string {
		if k == "PARLEY_DRAIN_TIMEOUT" {
			return "soon"
		}
		return ""
	}
	if _, err = Load(nil, bad, io.Discard); err == nil || !strings.Contains(err.Error(), "PARLEY_DRAIN_TIMEOUT") {
		t.Fatalf("PARLEY_DRAIN_TIMEOUT=soon: %v", err)
	}
}
