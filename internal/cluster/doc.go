// Package cluster carries the focus–bridge API (internal/bridgeapi) between processes over NATS, keeps
// the signal node's registry of bridges, picks a bridge for each conference, and runs the NATS server a
// small deployment embeds in its signal node.
//
// Subjects (JSON bodies; requests are NATS request/reply with the caller's timeout):
//
//	parley.bridge.<id>.allocate   focus → bridge   bridgeapi.AllocateRequest → reply{allocated}
//	parley.bridge.<id>.answer     focus → bridge   bridge.Answer             → reply{}
//	parley.bridge.<id>.sources    focus → bridge   bridge.SourcesUpdate      → reply{}
//	parley.bridge.<id>.expire     focus → bridge   bridge.ExpireRequest      → reply{}
//	parley.bridges.heartbeat      bridge → all     Heartbeat, every second
//	parley.bridges.events         bridge → all     bridgeapi.Event (endpoint-expired, bridge-draining, bridge-gone)
//
// A reply carries either the result or an error with a code that names one of the bridge's errors
// (errors.go), so errors.Is works across the network as it does in-process.
//
// The signal node (Pool) learns bridges from their heartbeats and forgets one that misses them for
// three seconds (Registry); it sends each conference to one bridge (Registry.Select): the bridge the
// conference already uses while that bridge lives and does not drain, else a healthy bridge with room
// in the participant's region, else the least loaded healthy bridge anywhere.
//
// Every node authenticates to NATS with its role's credentials: an nkey seed (cluster.creds for signal
// nodes and cluster-bridge.creds for bridge nodes, which a signal node embedding NATS writes into its
// data folder on first start, each with the certificate of the server's TLS key, which the nodes pin:
// tls.go), or a NATS user credentials file (JWT and seed) for an existing NATS deployment. The NATS
// servers give each role's key only the subjects its role uses (roles.go). The embedded server takes
// TLS connections only and refuses clients without one of the keys.
package cluster
