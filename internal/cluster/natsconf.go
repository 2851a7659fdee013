package cluster

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
)

// NATSServer is one server of a nats-server cluster the nodes meet on instead of a signal node's
// embedded server (docs/architecture.md "A nats-server cluster"): it takes Parley's nodes over TLS with
// the certificate WriteCredentials made (the one the credentials pin) and the nkeys of cluster.creds
// (signal nodes) and cluster-bridge.creds (bridge nodes), each with its role's permissions (roles.go),
// and routes to the other servers over mutual TLS with the same certificate.
type NATSServer struct {
	Name        string   // server_name, unique in the cluster
	Listen      string   // HOST:PORT for the nodes (--cluster nats://HOST:PORT)
	RouteListen string   // HOST:PORT for the other servers' routes
	Routes      []string // the other servers' route addresses, HOST:PORT
	Cert, Key   string   // TLSFiles of the folder WriteCredentials wrote
	Keys        Keys     // the public nkeys WriteCredentials returned
}

// Config is the server's nats-server configuration file.
func (s NATSServer) Config() string {
	routes := make([]string, len(s.Routes))
	for i, r := range s.Routes {
		routes[i] = strconv.Quote("nats-route://" + r)
	}
	return fmt.Sprintf(`# A nats-server of a Parley cluster (parley cluster-creds).
server_name: %s
listen: %s
# Parley's largest message is an allocation with its candidates.
max_payload: 1048576
# Nodes connect over TLS and accept exactly this certificate (cluster.creds pins it).
tls {
  cert_file: %s
  key_file: %s
  timeout: 5
}
# Signal nodes sign in with the nkey seed of cluster.creds: Parley's subjects and their own replies.
# Bridge nodes sign in with the one of cluster-bridge.creds: their heartbeats and events, the requests
# to bridges, and one answer to each request they were sent; no request to a bridge, nothing else.
authorization {
  users: [
    { nkey: %s, permissions: { publish: { allow: [%s] }, subscribe: { allow: [%s] } } }
    { nkey: %s, permissions: { publish: { allow: [%s] }, subscribe: { allow: [%s] }, allow_responses: { max: %d, expires: "%s" } } }
  ]
}
# The servers route to each other over mutual TLS with the same certificate: only holders of its key
# join the cluster.
cluster {
  name: parley
  listen: %s
  tls {
    cert_file: %s
    key_file: %s
    ca_file: %s
    verify: true
    timeout: 5
  }
  routes: [ %s ]
}
`, strconv.Quote(s.Name), s.Listen, strconv.Quote(s.Cert), strconv.Quote(s.Key),
		strconv.Quote(s.Keys.Signal), quoteList(signalSubjects), quoteList(signalSubjects),
		strconv.Quote(s.Keys.Bridge), quoteList(bridgePublish), quoteList(bridgeSubscribe),
		server.DEFAULT_ALLOW_RESPONSE_MAX_MSGS, server.DEFAULT_ALLOW_RESPONSE_EXPIRATION,
		s.RouteListen, strconv.Quote(s.Cert), strconv.Quote(s.Key), strconv.Quote(s.Cert), strings.Join(routes, ", "))
}

// quoteList is subjects as a nats-server configuration list's items.
func quoteList(subjects []string) string {
	q := make([]string, len(subjects))
	for i, s := range subjects {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}
