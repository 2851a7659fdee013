package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nkeys"
)

// cluster-creds writes the nodes' credentials (mode 0600), the servers' certificate and key, and one
// nats-server configuration per host that accepts the credentials' nkey and routes to the other hosts;
// nats-server, where installed, takes each configuration. A bad host or too few arguments is a usage
// error that writes nothing.
func TestClusterCreds(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := runCmd("", "cluster-creds", "--port", "4333", dir, "10.0.0.1", "nats2.example.org")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	pubs := map[string]string{}
	for file, role := range map[string]string{"cluster.creds": "signal", "cluster-bridge.creds": "bridge"} {
		creds, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		if st, _ := os.Stat(filepath.Join(dir, file)); st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v", file, st.Mode().Perm())
		}
		kp, err := nkeys.ParseDecoratedNKey(creds)
		if err != nil {
			t.Fatal(err)
		}
		pubs[role], _ = kp.PublicKey()
		if !strings.Contains(string(creds), "BEGIN CERTIFICATE") {
			t.Errorf("%s pins no certificate", file)
		}
		if !strings.Contains(string(creds), "# role: "+role+"\n") {
			t.Errorf("%s does not say it is the %s nodes'", file, role)
		}
		if !strings.Contains(stdout, "--cluster-creds "+filepath.Join(dir, file)) {
			t.Errorf("the output does not name %s: %s", file, stdout)
		}
	}
	if pubs["signal"] == pubs["bridge"] {
		t.Fatal("signal and bridge nodes share one key")
	}
	for host, other := range map[string]string{"10.0.0.1": "nats2.example.org", "nats2.example.org": "10.0.0.1"} {
		conf := filepath.Join(dir, "nats-"+host+".conf")
		b, err := os.ReadFile(conf)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		for _, want := range []string{`nkey: "` + pubs["signal"] + `", permissions: { publish: { allow: ["parley.>", "_INBOX.>"] }`,
			`nkey: "` + pubs["bridge"] + `", permissions: { publish: { allow: ["parley.bridges.heartbeat", "parley.bridges.events"] }, subscribe: { allow: ["parley.bridge.*.>"] }, allow_responses:`,
			"listen: " + host + ":4333", `"nats-route://` + other + `:6222"`, "verify: true", "cluster-tls-key.pem"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s lacks %q:\n%s", conf, want, text)
			}
		}
		if !strings.Contains(stdout, conf) {
			t.Errorf("the output does not name %s: %s", conf, stdout)
		}
		exe, err := exec.LookPath("nats-server")
		if err != nil {
			exe, err = exec.LookPath("/usr/sbin/nats-server")
		}
		if err == nil {
			if out, err := exec.Command(exe, "-t", "-c", conf).CombinedOutput(); err != nil {
				t.Errorf("nats-server refuses %s: %v\n%s", conf, err, out)
			}
		}
	}

	for _, args := range [][]string{{"cluster-creds", t.TempDir()}, {"cluster-creds", filepath.Join(t.TempDir(), "x"), "bad host"}} {
		if code, _, _ := runCmd("", args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
		if len(args) == 3 {
			if _, err := os.Stat(args[1]); err == nil {
				t.Errorf("%q wrote %s", args, args[1])
			}
		}
	}
}

// cluster-creds run again on a folder holding an older Parley's single cluster.creds makes its key
// the bridge nodes' (their copies keep working), gives cluster.creds a new one, and says so.
func TestClusterCredsMigratesOldFile(t *testing.T) {
	dir := t.TempDir()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	old, _ := kp.PublicKey()
	if err := os.WriteFile(filepath.Join(dir, "cluster.creds"), append([]byte("# Parley cluster credentials\n"), seed...), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCmd("", "cluster-creds", dir, "127.0.0.1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "older Parley") {
		t.Errorf("the output does not say the old file was migrated: %s", stdout)
	}
	pub := func(file string) string {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		kp, err := nkeys.ParseDecoratedNKey(b)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := kp.PublicKey()
		return p
	}
	if pub("cluster-bridge.creds") != old || pub("cluster.creds") == old {
		t.Fatalf("bridge key %s, signal key %s; want the old key %s the bridge nodes' only", pub("cluster-bridge.creds"), pub("cluster.creds"), old)
	}
}
