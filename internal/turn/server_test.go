package turn

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/pion/stun/v4"
)

func TestParseUsername(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	life := 24 * time.Hour
	ok := strconv.FormatInt(now.Add(time.Hour).Unix(), 10)
	for _, c := range []struct {
		name, username string
		err            error
	}{
		{"valid", ok + ":alice", nil},
		{"expired", strconv.FormatInt(now.Add(-time.Second).Unix(), 10) + ":alice", ErrUsernameExpired},
		{"now", strconv.FormatInt(now.Unix(), 10) + ":alice", ErrUsernameExpired},
		{"far future", strconv.FormatInt(now.Add(life+2*time.Minute).Unix(), 10) + ":alice", ErrUsernameFuture},
		{"non-numeric", "12ab:alice", ErrUsernameFormat},
		{"signed", "+" + ok + ":alice", ErrUsernameFormat},
		{"huge", "99999999999999999999:alice", ErrUsernameFormat},
		{"extra colon", ok + ":alice:admin", ErrUsernameFormat},
		{"no user", ok + ":", ErrUsernameFormat},
		{"no colon", ok, ErrUsernameFormat},
		{"empty", "", ErrUsernameFormat},
	} {
		if _, err := ParseUsername(c.username, now, life); err != c.err {
			t.Errorf("%s: %q: err %v, want %v", c.name, c.username, err, c.err)
		}
	}
}

func TestSecretGeneratedOnce(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadSecret(dir)
	if err != nil || a != b || len(a) < 32 {
		t.Fatalf("second load: %q %v (first %q)", b, err, a)
	}
	fi, err := os.Stat(filepath.Join(dir, "turn-secret"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file mode: %v %v", fi.Mode(), err)
	}
	cfg := Default()
	s, err := New(cfg, Options{DataDir: dir})
	if err != nil || s.secret != a {
		t.Fatalf("New did not reuse the secret: %v", err)
	}
	cfg.Secret = "short"
	if _, err := New(cfg, Options{DataDir: dir}); err == nil {
		t.Fatal("a 5-character secret was accepted")
	}
}

// TestCredentialsOnTheWire is item 30: wrong REST credentials get 401, a stale nonce 438.
func TestCredentialsOnTheWire(t *testing.T) {
	s := newTestServer(t, nil)
	future := func(d time.Duration) string { return strconv.FormatInt(time.Now().Add(d).Unix(), 10) }
	for _, c := range []struct{ name, user, pass string }{
		{"expired", future(-time.Minute) + ":alice", ""},
		{"non-numeric", "soon:alice", ""},
		{"far future", future(48*time.Hour) + ":alice", ""},
		{"extra colon", future(time.Hour) + ":alice:x", ""},
		{"HMAC of another username", future(time.Hour) + ":alice", RESTPassword(testSecret, future(time.Hour)+":mallory")},
		{"wrong secret", future(time.Hour) + ":alice", RESTPassword("another-secret-of-16+", future(time.Hour)+":alice")},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := s.refusals(ReasonCredentials)
			u := dialSTUN(t, "udp", s.UDPAddr())
			u.user, u.pass = c.user, c.pass
			if u.pass == "" {
				u.pass = RESTPassword(testSecret, c.user)
			}
			r := u.request(stun.MethodAllocate, transport(protoUDP))
			if errorCode(r) != stun.CodeUnauthorized {
				t.Fatalf("got %v (%d), want 401", r.Type, errorCode(r))
			}
			if c.pass == "" && s.refusals(ReasonCredentials) == before {
				t.Error("refusal not counted")
			}
		})
	}
	t.Run("stale nonce", func(t *testing.T) {
		u := dialSTUN(t, "udp", s.UDPAddr()).withCredentials("alice", time.Hour)
		u.nonce, u.realm = "not-a-nonce-the-server-made", "parley.test"
		m, _ := stun.Build(stun.TransactionID, stun.NewType(stun.MethodAllocate, stun.ClassRequest), transport(protoUDP),
			stun.NewUsername(u.user), stun.NewRealm(u.realm), stun.NewNonce(u.nonce),
			stun.NewLongTermIntegrity(u.user, u.realm, u.pass), stun.Fingerprint)
		if r := u.roundTrip(m); errorCode(r) != stun.CodeStaleNonce {
			t.Fatalf("got %d, want 438", errorCode(r))
		}
	})
	t.Run("unauthenticated reply size", func(t *testing.T) {
		u := dialSTUN(t, "udp", s.UDPAddr())
		m, _ := stun.Build(stun.TransactionID, stun.NewType(stun.MethodAllocate, stun.ClassRequest), transport(protoUDP))
		u.roundTrip(m)
		// A spoofed Allocate makes the server send this much to the victim: keep the factor small.
		if u.lastRespBytes > 4*u.lastReq {
			t.Errorf("401 of %d bytes for a request of %d", u.lastRespBytes, u.lastReq)
		}
		t.Logf("401 reply %d bytes for a %d-byte request", u.lastRespBytes, u.lastReq)
	})
}

// TestRelayAllowedPeer relays both ways to an allow-listed peer, by Send/Data indications and by
// ChannelData, over UDP and TCP; malformed ChannelData (item 31) is ignored and the server keeps serving.
func TestRelayAllowedPeer(t *testing.T) {
	echo := newUDPPeer(t, "127.0.0.3:0", true)
	s := newTestServer(t, func(c *Config) { c.AllowPeers = []string{"127.0.0.3/32"} })
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			u := dialSTUN(t, network, map[string]func() net.Addr{"udp": s.UDPAddr, "tcp": s.TCPAddr}[network]()).withCredentials("carol-"+network, time.Hour)
			u.allocate(protoUDP)
			if r := u.request(stun.MethodCreatePermission, peer(echo.addr())); r.Type.Class != stun.ClassSuccessResponse {
				t.Fatalf("CreatePermission: %d", errorCode(r))
			}
			u.write(sendIndication(t, echo.addr(), []byte("hello by send")))
			if got := string(echo.wait(t, "send indication")); got != "hello by send" {
				t.Fatalf("peer got %q", got)
			}
			data := u.next(t)
			if !stun.IsMessage(data) || !bytes.Contains(data, []byte("hello by send")) {
				t.Fatalf("expected a Data indication, got % x", data)
			}
			if r := u.request(stun.MethodChannelBind, channel(0x4000), peer(echo.addr())); r.Type.Class != stun.ClassSuccessResponse {
				t.Fatalf("ChannelBind: %d", errorCode(r))
			}
			pad := network == "tcp"
			// Item 31, UDP only (on TCP a bad length would desynchronise the stream, as for any client):
			// channel numbers outside 0x4000-0x4FFF and a length past the datagram are dropped.
			if network == "udp" {
				u.write(channelData(0x3FFF, []byte("bad number"), pad))
				u.write(channelData(0x5000, []byte("bad number"), pad))
				bad := channelData(0x4000, []byte("short"), pad)
				bad[3] = 200
				u.write(bad)
				u.write(channelData(0x4001, []byte("unbound"), pad))
			}
			u.write(channelData(0x4000, []byte("hello by channel"), pad))
			if got := string(echo.wait(t, "channel data")); got != "hello by channel" {
				t.Fatalf("peer got %q (malformed ChannelData was relayed?)", got)
			}
			back := u.next(t)
			if back[0] != 0x40 || back[1] != 0x00 || !bytes.Contains(back, []byte("hello by channel")) {
				t.Fatalf("expected ChannelData back, got % x", back)
			}
		})
	}
	// The counter is bumped after the datagram has left, so it may trail
	// the echo the test already saw; it has no event to wait on.
	deadline := time.Now().Add(5 * time.Second)
	for counterValue(s.m.toPeerPackets) < 4 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if v := counterValue(s.m.toPeerPackets); v < 4 {
		t.Errorf("relayed packets to peers = %v", v)
	}
}

// next returns the next frame that is not a response to a request.
func (c *stunClient) next(t *testing.T) []byte {
	t.Helper()
	if len(c.pending) > 0 {
		b := c.pending[0]
		c.pending = c.pending[1:]
		return b
	}
	b, err := c.readFrame()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLifetimeAndQuota is item 32: LIFETIME 0xFFFFFFFF is capped, the 13th allocation of one user is
// refused with 486, and a Refresh with LIFETIME 0 frees a slot.
func TestLifetimeAndQuota(t *testing.T) {
	s := newTestServer(t, nil)
	var clients []*stunClient
	for i := 0; i < 12; i++ {
		u := dialSTUN(t, "udp", s.UDPAddr()).withCredentials("dave", time.Hour)
		r := u.request(stun.MethodAllocate, transport(protoUDP), lifetime(0xFFFFFFFF))
		if r.Type.Class != stun.ClassSuccessResponse {
			t.Fatalf("allocation %d: %d", i+1, errorCode(r))
		}
		if got := responseLifetime(t, r); got > time.Hour || got <= 0 {
			t.Fatalf("LIFETIME 0xFFFFFFFF granted %v", got)
		}
		clients = append(clients, u)
	}
	u := dialSTUN(t, "udp", s.UDPAddr()).withCredentials("dave", time.Hour)
	if r := u.request(stun.MethodAllocate, transport(protoUDP)); errorCode(r) != stun.CodeAllocQuotaReached {
		t.Fatalf("13th allocation: %v (%d), want 486", r.Type, errorCode(r))
	}
	if s.refusals(ReasonQuota) < 1 {
		t.Error("quota refusal not counted")
	}
	other := dialSTUN(t, "udp", s.UDPAddr()).withCredentials("erin", time.Hour)
	other.allocate(protoUDP)
	if got := counterValue(s.m.allocations); got != 13 {
		t.Errorf("allocations gauge %v, want 13", got)
	}
	if r := clients[0].request(stun.MethodRefresh, lifetime(0)); r.Type.Class != stun.ClassSuccessResponse {
		t.Fatalf("refresh 0: %d", errorCode(r))
	}
	if r := u.request(stun.MethodAllocate, transport(protoUDP)); r.Type.Class != stun.ClassSuccessResponse {
		t.Fatalf("allocation after a release: %d", errorCode(r))
	}
	// Unsupported transports and reserved ports are refused rather than mishandled.
	v := dialSTUN(t, "udp", s.UDPAddr()).withCredentials("frank", time.Hour)
	if r := v.request(stun.MethodAllocate, transport(99)); errorCode(r) != stun.CodeUnsupportedTransProto {
		t.Errorf("REQUESTED-TRANSPORT 99: %d, want 442", errorCode(r))
	}
	_ = fmt.Sprint()
}

func TestServicesList(t *testing.T) {
	s := newTestServer(t, nil)
	svcs := s.Services("alice@localhost", "turn.example")
	if len(svcs) != 3 {
		t.Fatalf("%d services: %+v", len(svcs), svcs)
	}
	for _, sv := range svcs[1:] {
		if _, err := ParseUsername(sv.Username, time.Now(), 24*time.Hour); err != nil || sv.Password != RESTPassword(testSecret, sv.Username) {
			t.Errorf("bad credential %+v: %v", sv, err)
		}
		if d := time.Until(sv.Expires); d < 23*time.Hour || d > 25*time.Hour {
			t.Errorf("expires in %v", d)
		}
	}
	if svcs[0].Type != "stun" || svcs[0].Username != "" || svcs[2].Transport != "tcp" {
		t.Errorf("unexpected list %+v", svcs)
	}
}
