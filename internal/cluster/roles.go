package cluster

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// Each role signs in to NATS with a key of its own, and the NATS servers give each key only what its
// role does:
//
//	signal  cluster.creds         publish and subscribe on parley.> and _INBOX.> (its requests' replies):
//	                              the focus's requests, and in role all its own bridge's side too
//	bridge  cluster-bridge.creds  publish parley.bridges.heartbeat and parley.bridges.events; subscribe
//	                              parley.bridge.*.> (the requests to a bridge); answer a request it
//	                              received, once, within two minutes (allow_responses); nothing else
//
// So a bridge node, or whoever holds its file, cannot ask any bridge for anything (allocate, answer,
// expire, relays), cannot read the heartbeats and events of the others nor the replies to the signal
// node's requests, and cannot answer a request it was not sent. Every bridge shares the one bridge key,
// and the subjects name a bridge by an ID the bridge picks: a bridge key can still subscribe to another
// bridge's requests (and answer what it receives) and publish heartbeats and events in another
// bridge's name. Closing that needs a key per bridge bound to its ID (docs/architecture.md).

// Roles of a credentials file.
const (
	RoleSignal = "signal"
	RoleBridge = "bridge"
)

// BridgeCredsFile is where a signal node embedding NATS keeps the bridge nodes' credentials.
func BridgeCredsFile(dataDir string) string { return filepath.Join(dataDir, "cluster-bridge.creds") }

// roleLine marks a credentials file with its role; a file of an older Parley (one key for every node)
// has none.
const roleLine = "# role: "

func credsHeader(role string) string {
	h := "# Parley cluster credentials: the NATS nkey seed nodes of one role sign in with, then the\n" +
		"# certificate of the cluster's NATS server, the only one the nodes accept.\n" + roleLine + role + "\n"
	if role == RoleSignal {
		return h + "# Signal nodes only (parley serve --role signal|all --cluster-creds FILE): it may ask every bridge\n" +
			"# for anything. Bridge nodes take cluster-bridge.creds.\n"
	}
	return h + "# Copy this file to each bridge node (parley serve --role bridge --cluster-creds FILE); whoever has it\n" +
		"# can join as a bridge.\n"
}

// credsRole is the role a credentials file names, "" when it names none.
func credsRole(data []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if r, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), roleLine); ok {
			return strings.TrimSpace(r)
		}
	}
	return ""
}

// errOldCreds: a credentials file without a role, which an older Parley gave every node.
var errOldCreds = errors.New("an older Parley's cluster.creds, one key for every node")

// CheckCreds reports whether the credentials file fits a node of role (RoleSignal for roles signal
// and all, which ask bridges; RoleBridge): a Parley file of the other role is refused, and so is, on a
// signal node, a file of an older Parley without a role (once the embedded server or `parley
// cluster-creds` ran again, its key is the bridge nodes'). A NATS user credentials file (JWT) or a
// file with only a certificate is the deployment's business and passes.
func CheckCreds(path, role string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("cluster: credentials: %w", err)
	}
	if bytes.Contains(data, []byte("BEGIN NATS USER JWT")) {
		return nil
	}
	if _, err := nkeys.ParseDecoratedNKey(data); errors.Is(err, nkeys.ErrNoSeedFound) {
		return nil
	}
	switch has := credsRole(data); {
	case has == role:
		return nil
	case has == RoleSignal:
		return fmt.Errorf("cluster: credentials %s are the signal nodes' (cluster.creds): a bridge node takes cluster-bridge.creds, which its signal node (or parley cluster-creds) writes beside it", path)
	case has == RoleBridge:
		return fmt.Errorf("cluster: credentials %s are the bridge nodes' (cluster-bridge.creds): a signal node takes cluster.creds", path)
	case has != "":
		return fmt.Errorf("cluster: credentials %s name an unknown role %q", path, has)
	case role == RoleBridge:
		return nil // the old shared key, which is now the bridge nodes' (migrateCreds), or still everyone's
	default:
		return fmt.Errorf("cluster: credentials %s: %w; start the signal node that embeds NATS, or run parley cluster-creds DIR HOST… again, and give this node the new cluster.creds (the old key becomes the bridge nodes', cluster-bridge.creds)", path, errOldCreds)
	}
}

// migrateCreds turns an older Parley's cluster.creds (one key every node signed in with) into the
// two files of today: the old key becomes the bridge nodes' (cluster-bridge.creds), so bridge nodes
// that hold the old file keep joining, now with a bridge's permissions only; cluster.creds gets a new
// signal key. It reports whether it did so.
func migrateCreds(signalFile, bridgeFile string) (bool, error) {
	data, err := os.ReadFile(signalFile)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("cluster: read credentials: %w", err)
	}
	if credsRole(data) != "" {
		return false, nil
	}
	kp, err := nkeys.ParseDecoratedNKey(data)
	if err != nil {
		return false, fmt.Errorf("cluster: credentials %s: %w", signalFile, err)
	}
	seed, err := kp.Seed()
	if err != nil {
		return false, fmt.Errorf("cluster: credentials %s: %w", signalFile, err)
	}
	if err := writeNew(bridgeFile, append([]byte(credsHeader(RoleBridge)), append(seed, '\n')...)); err != nil && !errors.Is(err, os.ErrExist) {
		return false, err
	}
	signal, err := newSeed()
	if err != nil {
		return false, err
	}
	tmp := signalFile + ".new"
	os.Remove(tmp)
	if err := writeNew(tmp, append([]byte(credsHeader(RoleSignal)), append(signal, '\n')...)); err != nil {
		return false, err
	}
	if err := os.Rename(tmp, signalFile); err != nil {
		return false, fmt.Errorf("cluster: credentials: %w", err)
	}
	return true, nil
}

func newSeed() ([]byte, error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return nil, fmt.Errorf("cluster: create credentials: %w", err)
	}
	seed, err := kp.Seed()
	if err != nil {
		return nil, fmt.Errorf("cluster: create credentials: %w", err)
	}
	return seed, nil
}

// writeNew writes a file that must not exist yet, readable by its owner only.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("cluster: write credentials: %w", err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("cluster: write credentials %s: %w", path, err)
	}
	return nil
}

// The subjects each role may use (the package doc lists them).
var (
	signalSubjects  = []string{"parley.>", "_INBOX.>"}
	bridgePublish   = []string{subjectHeartbeat, subjectEvents}
	bridgeSubscribe = []string{subjectPrefix + "*.>"}
)

// permissions are the NATS permissions of role's key in the embedded server.
func permissions(role string) *server.Permissions {
	if role == RoleSignal {
		return &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: signalSubjects},
			Subscribe: &server.SubjectPermission{Allow: signalSubjects},
		}
	}
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: bridgePublish},
		Subscribe: &server.SubjectPermission{Allow: bridgeSubscribe},
		Response: &server.ResponsePermission{MaxMsgs: server.DEFAULT_ALLOW_RESPONSE_MAX_MSGS,
			Expires: server.DEFAULT_ALLOW_RESPONSE_EXPIRATION},
	}
}
