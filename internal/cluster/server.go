package cluster

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// CredsFile is where a signal node embedding NATS keeps the signal nodes' credentials in its data
// folder (BridgeCredsFile the bridge nodes').
func CredsFile(dataDir string) string { return filepath.Join(dataDir, "cluster.creds") }

// LoadOrCreateCreds returns the public nkey of the credentials in path, creating the file for role
// (RoleSignal, RoleBridge) with a new user nkey (mode 0600) when it does not exist. A file that names
// the other role is refused.
func LoadOrCreateCreds(path, role string) (string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		seed, err := newSeed()
		if err != nil {
			return "", err
		}
		data = append([]byte(credsHeader(role)), append(seed, '\n')...)
		if err := writeNew(path, data); err != nil {
			return "", err
		}
	} else if err != nil {
		return "", fmt.Errorf("cluster: read credentials: %w", err)
	}
	if has := credsRole(data); has != role {
		return "", fmt.Errorf("cluster: credentials %s are for role %q, want %q", path, has, role)
	}
	kp, err := nkeys.ParseDecoratedNKey(data)
	if err != nil {
		return "", fmt.Errorf("cluster: credentials %s: %w", path, err)
	}
	pub, err := kp.PublicKey()
	if err != nil || !nkeys.IsValidPublicUserKey(pub) {
		return "", fmt.Errorf("cluster: credentials %s: not a user nkey", path)
	}
	return pub, nil
}

// Keys are the public nkeys of a cluster's roles, which its NATS servers accept, each with its role's
// permissions (roles.go).
type Keys struct {
	Signal, Bridge string
	// Migrated: the folder held an older Parley's single cluster.creds, whose key is now the bridge
	// nodes' (cluster-bridge.creds); cluster.creds has a new signal key, which signal nodes need.
	Migrated bool
}

// WriteCredentials makes, in dir, the files of a cluster whose NATS servers are not Parley's (a
// nats-server cluster, docs/architecture.md): cluster.creds, for the signal nodes, and
// cluster-bridge.creds, for the bridge nodes (--cluster-creds), each with a new user nkey seed and the
// servers' certificate pinned; cluster-tls.pem and cluster-tls-key.pem, the certificate and key every
// NATS server of the cluster presents (to the nodes, and to each other on their routes), naming hosts
// (the addresses the servers' routes dial). Files that exist are kept, as a signal node embedding NATS
// keeps its own; an older Parley's single cluster.creds is migrated (Keys.Migrated). It returns the
// public nkeys the servers must accept (authorization { users: [{nkey: …, permissions: …}] }).
func WriteCredentials(dir string, hosts ...string) (Keys, error) {
	var k Keys
	signal, bridge := CredsFile(dir), BridgeCredsFile(dir)
	var err error
	if k.Migrated, err = migrateCreds(signal, bridge); err != nil {
		return Keys{}, err
	}
	if k.Signal, err = LoadOrCreateCreds(signal, RoleSignal); err != nil {
		return Keys{}, err
	}
	if k.Bridge, err = LoadOrCreateCreds(bridge, RoleBridge); err != nil {
		return Keys{}, err
	}
	cert, err := loadOrCreateServerTLS(dir, hosts...)
	if err != nil {
		return Keys{}, err
	}
	for _, f := range []string{signal, bridge} {
		if err := pinCertificate(f, cert); err != nil {
			return Keys{}, err
		}
	}
	return k, nil
}

// TLSFiles are the certificate and key WriteCredentials (and a signal node embedding NATS) keeps in dir.
func TLSFiles(dir string) (cert, key string) { return tlsFiles(dir) }

// Server is the NATS server a signal node embeds (--cluster-listen), so a few machines need no other
// program. It accepts only clients that sign in with the user nkey of cluster.creds (signal nodes) or
// of cluster-bridge.creds (bridge nodes), each with its role's permissions (roles.go).
type Server struct {
	ns          *server.Server
	creds       string
	bridgeCreds string
}

// StartServer listens on addr (host:port; port 0 picks one) for TLS connections (tls.go) and accepts
// the nkeys in dataDir's cluster.creds and cluster-bridge.creds, creating the files on first start.
func StartServer(addr, dataDir string, log *slog.Logger) (*Server, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("cluster: listen address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("cluster: listen address %q: bad port", addr)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	if host == "" {
		host = "0.0.0.0"
	}
	keys, err := WriteCredentials(dataDir)
	if err != nil {
		return nil, err
	}
	if keys.Migrated && log != nil {
		log.Warn("cluster: cluster.creds was an older Parley's single key: it is now the bridge nodes' key (cluster-bridge.creds), " +
			"and cluster.creds has a new key for signal nodes only; bridge nodes keep their old file or take cluster-bridge.creds")
	}
	cert, err := loadOrCreateServerTLS(dataDir)
	if err != nil {
		return nil, err
	}
	ns, err := server.NewServer(&server.Options{
		ServerName: "parley-signal",
		Host:       host,
		Port:       port,
		Nkeys: []*server.NkeyUser{
			{Nkey: keys.Signal, Permissions: permissions(RoleSignal)},
			{Nkey: keys.Bridge, Permissions: permissions(RoleBridge)},
		},
		NoSigs: true,
		NoLog:  true,
		// A participant's requests are small; the largest message is an allocation with candidates.
		MaxPayload: 1 << 20,
		TLSConfig:  &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		TLSTimeout: 5,
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: nats server: %w", err)
	}
	if log != nil {
		ns.SetLoggerV2(natsLogger{log.With("component", "nats")}, false, false, false)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("cluster: nats server on %s did not start", addr)
	}
	return &Server{ns: ns, creds: CredsFile(dataDir), bridgeCreds: BridgeCredsFile(dataDir)}, nil
}

// URL is where clients reach the server (nats://HOST:PORT).
func (s *Server) URL() string { return s.ns.ClientURL() }

// CredsFile is the credentials file signal nodes need.
func (s *Server) CredsFile() string { return s.creds }

// BridgeCredsFile is the credentials file bridge nodes need.
func (s *Server) BridgeCredsFile() string { return s.bridgeCreds }

// Close stops the server.
func (s *Server) Close() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

// Dial connects to the cluster at urls as name, signing in with credsFile: an nkey seed such as
// cluster.creds or cluster-bridge.creds, or a NATS user credentials file (JWT and seed) for an existing NATS deployment; no
// credentials when credsFile is "". A certificate in the file (cluster.creds has the embedded
// server's) is the only one the connection accepts. It fails when no server accepts it; once
// connected it reconnects on its own.
func Dial(urls []string, credsFile, name string) (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name(name),
		nats.Timeout(5 * time.Second),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
	}
	if credsFile != "" {
		data, err := os.ReadFile(credsFile)
		if err != nil {
			return nil, fmt.Errorf("cluster: credentials: %w", err)
		}
		cert, err := pinnedCert(data)
		if err != nil {
			return nil, fmt.Errorf("cluster: credentials %s: certificate: %w", credsFile, err)
		}
		if cert != nil {
			opts = append(opts, nats.Secure(pinnedTLS(cert)))
		}
		switch _, seedErr := nkeys.ParseDecoratedNKey(data); {
		case bytes.Contains(data, []byte("BEGIN NATS USER JWT")):
			opts = append(opts, nats.UserCredentials(credsFile))
		case errors.Is(seedErr, nkeys.ErrNoSeedFound):
			// A pin without a key: the server decides (and refuses a cluster's server).
		default:
			o, err := nats.NkeyOptionFromSeed(credsFile)
			if err != nil {
				return nil, fmt.Errorf("cluster: credentials %s: %w", credsFile, err)
			}
			opts = append(opts, o)
		}
	}
	nc, err := nats.Connect(strings.Join(urls, ","), opts...)
	if err != nil {
		return nil, fmt.Errorf("cluster: connect to %s: %w", strings.Join(urls, ", "), err)
	}
	return nc, nil
}

// natsLogger passes the embedded server's warnings and errors to slog.
type natsLogger struct{ log *slog.Logger }

func (l natsLogger) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l natsLogger) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l natsLogger) Fatalf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l natsLogger) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l natsLogger) Debugf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l natsLogger) Tracef(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
