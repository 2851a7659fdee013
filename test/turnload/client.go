package main

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/pion/stun/v4"
)

// restCredential is the TURN REST API credential (draft-uberti-behave-turn-rest-00) both servers accept:
// username "expiry-unix-time:user", password base64(HMAC-SHA1(secret, username)).
func restCredential(secret, user string, lifetime time.Duration) (username, password string) {
	username = strconv.FormatInt(time.Now().Add(lifetime).Unix(), 10) + ":" + user
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(username))
	return username, base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// allocation is one UDP TURN allocation on its own client socket (its own 5-tuple), with channels bound
// toward the peers. Only the control messages go through this type; the load is written straight to
// conn as ChannelData.
type allocation struct {
	conn      *net.UDPConn
	server    *net.UDPAddr
	username  string
	password  string
	realm     string
	nonce     string
	integrity stun.MessageIntegrity
	relay     netip.AddrPort
	channels  []uint16 // channels[j] is bound to peer j
	buf       []byte
}

// setterFunc adapts a function to stun.Setter.
type setterFunc func(*stun.Message) error

func (f setterFunc) AddTo(m *stun.Message) error { return f(m) }

func rawAttr(t stun.AttrType, v []byte) stun.Setter {
	return setterFunc(func(m *stun.Message) error { m.Add(t, v); return nil })
}

// requestedTransportUDP is REQUESTED-TRANSPORT with protocol 17 (RFC 8656 §18.7).
var requestedTransportUDP = rawAttr(stun.AttrRequestedTransport, []byte{17, 0, 0, 0})

func peerAddress(p netip.AddrPort) stun.Setter {
	return setterFunc(func(m *stun.Message) error {
		return stun.XORMappedAddress{IP: p.Addr().AsSlice(), Port: int(p.Port())}.AddToAs(m, stun.AttrXORPeerAddress)
	})
}

func channelNumber(n uint16) stun.Setter {
	return rawAttr(stun.AttrChannelNumber, []byte{byte(n >> 8), byte(n), 0, 0})
}

func lifetime(d time.Duration) stun.Setter {
	v := make([]byte, 4)
	binary.BigEndian.PutUint32(v, uint32(d/time.Second))
	return rawAttr(stun.AttrLifetime, v)
}

// newAllocation opens a client socket on localIP and allocates a UDP relay on server, retrying the
// first request until deadline (the server may still be starting).
func newAllocation(localIP string, server *net.UDPAddr, username, password string, deadline time.Time) (*allocation, error) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(localIP)})
	if err != nil {
		return nil, err
	}
	_ = conn.SetReadBuffer(4 << 20)
	_ = conn.SetWriteBuffer(4 << 20)
	a := &allocation{conn: conn, server: server, username: username, password: password, buf: make([]byte, 1500)}
	for {
		err = a.allocate()
		if err == nil || !errors.Is(err, errTimeout) || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	return a, nil
}

var errTimeout = errors.New("no answer")

// roundTrip sends a request built from setters and returns the answer with the same transaction ID.
func (a *allocation) roundTrip(setters ...stun.Setter) (*stun.Message, error) {
	req, err := stun.Build(append([]stun.Setter{stun.TransactionID}, setters...)...)
	if err != nil {
		return nil, err
	}
	for try := 0; try < 3; try++ {
		if _, err := a.conn.WriteToUDP(req.Raw, a.server); err != nil {
			return nil, err
		}
		_ = a.conn.SetReadDeadline(time.Now().Add(time.Second))
		for {
			n, _, err := a.conn.ReadFromUDP(a.buf)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break
				}
				return nil, err
			}
			if !stun.IsMessage(a.buf[:n]) {
				continue
			}
			resp := &stun.Message{Raw: append([]byte(nil), a.buf[:n]...)}
			if err := resp.Decode(); err != nil || resp.TransactionID != req.TransactionID {
				continue
			}
			_ = a.conn.SetReadDeadline(time.Time{})
			return resp, nil
		}
	}
	return nil, errTimeout
}

// authenticated sends an authenticated request of method, learning realm and nonce from a 401 and
// renewing a stale nonce (438).
func (a *allocation) authenticated(method stun.Method, setters ...stun.Setter) (*stun.Message, error) {
	for try := 0; try < 3; try++ {
		s := append([]stun.Setter{stun.NewType(method, stun.ClassRequest)}, setters...)
		if a.nonce != "" {
			s = append(s, stun.NewUsername(a.username), stun.NewRealm(a.realm), stun.NewNonce(a.nonce), a.integrity)
		}
		s = append(s, stun.Fingerprint)
		resp, err := a.roundTrip(s...)
		if err != nil {
			return nil, err
		}
		if resp.Type.Class == stun.ClassSuccessResponse {
			return resp, nil
		}
		var code stun.ErrorCodeAttribute
		_ = code.GetFrom(resp)
		if code.Code != stun.CodeUnauthorized && code.Code != stun.CodeStaleNonce {
			return nil, fmt.Errorf("%v: %d %s", method, code.Code, code.Reason)
		}
		var realm stun.Realm
		var nonce stun.Nonce
		if err := nonce.GetFrom(resp); err != nil {
			return nil, fmt.Errorf("%v: %d without a nonce", method, code.Code)
		}
		if err := realm.GetFrom(resp); err == nil {
			a.realm = realm.String()
		}
		if a.nonce != "" && code.Code == stun.CodeUnauthorized {
			return nil, fmt.Errorf("%v: credentials refused (401)", method)
		}
		a.nonce = nonce.String()
		a.integrity = stun.NewLongTermIntegrity(a.username, a.realm, a.password)
	}
	return nil, fmt.Errorf("%v: authentication did not converge", method)
}

func (a *allocation) allocate() error {
	resp, err := a.authenticated(stun.MethodAllocate, requestedTransportUDP, lifetime(10*time.Minute))
	if err != nil {
		return err
	}
	var relay stun.XORMappedAddress
	if err := relay.GetFromAs(resp, stun.AttrXORRelayedAddress); err != nil {
		return fmt.Errorf("allocate: %w", err)
	}
	ip, _ := netip.AddrFromSlice(relay.IP)
	a.relay = netip.AddrPortFrom(ip.Unmap(), uint16(relay.Port))
	return nil
}

// bind binds the next channel number to peer (ChannelBind also installs the permission).
func (a *allocation) bind(peer netip.AddrPort) error {
	ch := uint16(0x4000 + len(a.channels))
	if _, err := a.authenticated(stun.MethodChannelBind, channelNumber(ch), peerAddress(peer)); err != nil {
		return fmt.Errorf("channel bind to %v: %w", peer, err)
	}
	a.channels = append(a.channels, ch)
	return nil
}

// release ends the allocation (Refresh with LIFETIME 0), best effort, and closes the socket.
func (a *allocation) release() {
	_, _ = a.authenticated(stun.MethodRefresh, lifetime(0))
	a.conn.Close()
}
