package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/parley-im/parley/internal/cluster"
)

// clusterCreds runs `parley cluster-creds DIR HOST…`: the credentials of a cluster whose nodes meet on
// nats-server processes (one on each HOST) rather than on a signal node's embedded server, and each
// server's configuration file (docs/architecture.md "A nats-server cluster").
func clusterCreds(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cluster-creds", flag.ContinueOnError)
	fs.SetOutput(stderr)
	port := fs.Int("port", 4222, "the port the nodes reach each nats-server on (--cluster nats://HOST:PORT)")
	routePort := fs.Int("route-port", 6222, "the port the nats-servers route to each other on")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: parley cluster-creds [--port 4222] [--route-port 6222] DIR HOST…")
		fmt.Fprintln(stderr, "writes DIR/cluster.creds (copy it to the signal node: --cluster-creds), DIR/cluster-bridge.creds")
		fmt.Fprintln(stderr, "(copy it to every bridge node: --cluster-creds; it may only serve a bridge, never give a bridge node")
		fmt.Fprintln(stderr, "cluster.creds), the NATS servers' certificate and key (DIR/cluster-tls.pem, DIR/cluster-tls-key.pem:")
		fmt.Fprintln(stderr, "copy both to every HOST, at the same path) and DIR/nats-HOST.conf for each HOST's nats-server")
		fmt.Fprintln(stderr, "(nats-server -c FILE), which gives each of the two keys its role's permissions. Files that exist")
		fmt.Fprintln(stderr, "are kept, but an older Parley's single cluster.creds becomes cluster-bridge.creds (bridge nodes keep")
		fmt.Fprintln(stderr, "their copy) and cluster.creds gets a new key: restart the nats-servers with the new configurations")
		fmt.Fprintln(stderr, "and give the signal node the new cluster.creds")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() < 2 {
		fs.Usage()
		return 2
	}
	dir, hosts := fs.Arg(0), fs.Args()[1:]
	// The configuration files name the certificate and key by this absolute path: put them at the same
	// path on every HOST.
	dir, err := filepath.Abs(dir)
	if err != nil {
		fmt.Fprintln(stderr, "parley cluster-creds:", err)
		return 2
	}
	for _, h := range hosts {
		if h == "" || net.ParseIP(h) == nil && !isHostName(h) {
			fmt.Fprintf(stderr, "parley cluster-creds: %q is not a host name or IP address\n", h)
			return 2
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		fmt.Fprintln(stderr, "parley cluster-creds:", err)
		return 1
	}
	keys, err := cluster.WriteCredentials(dir, hosts...)
	if err != nil {
		fmt.Fprintln(stderr, "parley cluster-creds:", err)
		return 1
	}
	cert, key := cluster.TLSFiles(dir)
	for i, h := range hosts {
		s := cluster.NATSServer{Name: "parley-nats-" + strconv.Itoa(i+1), Listen: net.JoinHostPort(h, strconv.Itoa(*port)),
			RouteListen: net.JoinHostPort(h, strconv.Itoa(*routePort)), Cert: cert, Key: key, Keys: keys}
		for _, o := range hosts {
			if o != h {
				s.Routes = append(s.Routes, net.JoinHostPort(o, strconv.Itoa(*routePort)))
			}
		}
		conf := filepath.Join(dir, "nats-"+h+".conf")
		if err := os.WriteFile(conf, []byte(s.Config()), 0o600); err != nil {
			fmt.Fprintln(stderr, "parley cluster-creds:", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: nats-server -c %s (%s and %s at that path too); nodes: --cluster nats://%s\n",
			h, conf, cert, key, s.Listen)
	}
	if keys.Migrated {
		fmt.Fprintf(stdout, "%s was an older Parley's single key for every node: it is now %s, the bridge nodes' (their copies keep working);\n"+
			"%s has a new key: restart the nats-servers with the configurations above and give the signal node the new file\n",
			cluster.CredsFile(dir), cluster.BridgeCredsFile(dir), cluster.CredsFile(dir))
	}
	fmt.Fprintf(stdout, "signal node: --cluster-creds %s\n", cluster.CredsFile(dir))
	fmt.Fprintf(stdout, "bridge nodes: --cluster-creds %s\n", cluster.BridgeCredsFile(dir))
	return 0
}

// isHostName reports whether s is a DNS name: letters, digits, '-' and '.'.
func isHostName(s string) bool {
	if len(s) > 253 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}
