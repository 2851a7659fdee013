package turn

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"

	"github.com/pion/stun/v4"
	"github.com/pion/turn/v5"
)

// The guard answers CreatePermission, ChannelBind and Connect requests for a refused peer with
// 403 Forbidden (RFC 8656 §9.2, §12.2, RFC 6062 §5.2) before pion/turn sees them. pion cannot do it
// itself: its PermissionHandler gets the peer's IP but not its port, so a ChannelBind or Connect to
// a port on this host other than the bridge's would be granted, and a refused ChannelBind is answered
// with a hardcoded 401 (pion/turn v5.1.3). Only requests that pion would accept as authenticated are
// answered here: same REST username check, same long-term key (RFC 8489 §9.2.2), same
// MESSAGE-INTEGRITY. Anything else goes to pion, which answers 401 with a nonce as before. pion's
// PermissionHandler (checkIP) and the per-packet port check on the relay socket stay as the backstop.
//
// The guard does not see pion's nonce key, so a request with a valid MESSAGE-INTEGRITY and a stale
// nonce gets 403 here where pion would say 438 first; a replayed request gets the same 403, no more,
// and only until its REST username expires.

// inboundMTU is pion's read buffer (ServerConfig.InboundMTU): a message of this size or more is
// dropped or closes the connection in pion, so the guard leaves it alone too.
const inboundMTU = 1600

// screened reports whether b, one UDP datagram or the header of one framed TCP message, may be a
// request the guard answers. It is the only check on the media path and reads four header fields.
// It classifies as pion does: a datagram whose first two bits are 01 is ChannelData (channel
// numbers 0x4000-0x7FFF), and the STUN message type's two leading bits are ignored.
func screened(b []byte) bool {
	if len(b) < stunHeader || b[0]&0xC0 == 0x40 || binary.BigEndian.Uint32(b[4:8]) != stunMagicCookie {
		return false
	}
	var t stun.MessageType
	t.ReadValue(binary.BigEndian.Uint16(b[0:2]))
	if t.Class != stun.ClassRequest {
		return false
	}
	switch t.Method {
	case stun.MethodCreatePermission, stun.MethodChannelBind, stun.MethodConnect:
		return true
	}
	return false
}

// screen decides one request that screened selected. It returns the 403 response to send in its
// place, or nil to hand the request to pion.
func (s *Server) screen(raw []byte, client net.Addr) []byte {
	m := &stun.Message{Raw: append([]byte(nil), raw...)} // Check writes into Raw
	if m.Decode() != nil || !m.Contains(stun.AttrMessageIntegrity) {
		return nil
	}
	for _, a := range m.Attributes {
		if a.Type.Required() && !a.Type.Known() {
			return nil // pion answers 420 Unknown Attribute first
		}
	}
	reason, peer := s.peerRefusal(m)
	if reason == "" {
		return nil
	}
	var username stun.Username
	var realm stun.Realm
	var nonce stun.Nonce
	if username.GetFrom(m) != nil || realm.GetFrom(m) != nil || nonce.GetFrom(m) != nil {
		return nil // pion answers 400
	}
	if _, err := ParseUsername(username.String(), s.now(), s.cfg.CredentialLifetime); err != nil {
		return nil // pion answers 401 and counts the credential refusal
	}
	key := stun.MessageIntegrity(turn.GenerateAuthKey(username.String(), realm.String(),
		RESTPassword(s.secret, username.String())))
	if key.Check(m) != nil {
		return nil
	}
	resp, err := stun.Build(stun.NewTransactionIDSetter(m.TransactionID),
		stun.NewType(m.Type.Method, stun.ClassErrorResponse), stun.CodeForbidden, key, stun.Fingerprint)
	if err != nil {
		return nil
	}
	s.m.refuse(reason)
	s.log.Debug("turn peer refused", "client", client.String(), "method", m.Type.Method.String(),
		"peer", peer.String(), "reason", reason)
	return resp.Raw
}

// peerRefusal applies the policy to the request's XOR-PEER-ADDRESS: per IP for CreatePermission
// (permissions are per IP, RFC 8656 §9; every address of the request must pass), per transport
// address for ChannelBind and Connect, which name the port too. A missing or malformed address is
// pion's to answer (400).
func (s *Server) peerRefusal(m *stun.Message) (string, netip.AddrPort) {
	if m.Type.Method != stun.MethodCreatePermission {
		var a stun.XORMappedAddress
		if a.GetFromAs(m, stun.AttrXORPeerAddress) != nil {
			return "", netip.AddrPort{}
		}
		ap := xorAddrPort(a)
		if !ap.IsValid() {
			return "", ap
		}
		return s.policy.check(ap), ap
	}
	var reason string
	var refused netip.AddrPort
	malformed := m.ForEach(stun.AttrXORPeerAddress, func(m *stun.Message) error {
		var a stun.XORMappedAddress
		if err := a.GetFromAs(m, stun.AttrXORPeerAddress); err != nil {
			return err
		}
		ap := xorAddrPort(a)
		if !ap.IsValid() {
			return errMalformedPeer
		}
		if r := s.policy.checkIP(ap.Addr()); r != "" && reason == "" {
			reason, refused = r, ap
		}
		return nil
	}) != nil
	if malformed {
		return "", netip.AddrPort{}
	}
	return reason, refused
}

var errMalformedPeer = errors.New("turn: malformed XOR-PEER-ADDRESS")

func xorAddrPort(a stun.XORMappedAddress) netip.AddrPort {
	ip, ok := netip.AddrFromSlice(a.IP)
	if !ok || a.Port < 0 || a.Port > 65535 {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ip, uint16(a.Port))
}

// guardPacketConn is the UDP listener as pion sees it: refused requests are answered and not passed on.
type guardPacketConn struct {
	net.PacketConn
	s *Server
}

func (c *guardPacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(p)
		if err != nil || n >= len(p) || n >= inboundMTU || !screened(p[:n]) {
			return n, addr, err
		}
		resp := c.s.screen(p[:n], addr)
		if resp == nil {
			return n, addr, nil
		}
		_, _ = c.PacketConn.WriteTo(resp, addr)
	}
}

// guardListener hands pion connections (TURN over TCP and TLS) wrapped in guardConn.
type guardListener struct {
	net.Listener
	s *Server
}

func (l *guardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newGuardConn(c, l.s), nil
}

// guardConn is one TURN connection over TCP or TLS as pion sees it. TURN frames STUN messages and
// ChannelData on the stream (RFC 8656 §12.5); guardConn follows the frames, passes them through as
// they arrive and holds back only a screened request until it is complete.
//
// Its framing must be pion's (turn.STUNConn), or a request could reach pion unseen. pion takes
// whatever it has buffered for a STUN message when bytes 4-8 are the magic cookie, before it looks
// for a channel number, so how it splits a ChannelData frame whose data begins with the cookie
// depends on how the stream was segmented. guardConn drops such frames, and STUN messages whose type
// and length read as the cookie (an error response type no client sends): everything else frames
// identically whatever pion has buffered (see FuzzGuardConnFraming).
type guardConn struct {
	net.Conn
	s *Server
	r *bufio.Reader
	// Read's state; pion reads each connection from one goroutine.
	left int    // bytes of the current frame still to pass through
	held []byte // a screened request that goes to pion after all
}

func newGuardConn(c net.Conn, s *Server) *guardConn {
	return &guardConn{Conn: c, s: s, r: bufio.NewReader(c)}
}

// errFraming ends a connection whose stream is neither STUN nor ChannelData, as pion would.
var errFraming = errors.New("turn: stream is not STUN or ChannelData")

type frameAction int

const (
	framePass frameAction = iota
	frameDrop
	frameScreen
)

func (c *guardConn) Read(p []byte) (int, error) {
	for len(p) > 0 {
		if len(c.held) > 0 {
			n := copy(p, c.held)
			c.held = c.held[n:]
			return n, nil
		}
		if c.left > 0 {
			n, err := c.r.Read(p[:min(len(p), c.left)])
			c.left -= n
			return n, err
		}
		size, act, err := c.next()
		if err != nil {
			return 0, err
		}
		switch act {
		case framePass:
			c.left = size
		case frameDrop:
			if _, err := c.r.Discard(size); err != nil {
				return 0, err
			}
		case frameScreen:
			msg := make([]byte, size)
			if _, err := io.ReadFull(c.r, msg); err != nil {
				return 0, err
			}
			if resp := c.s.screen(msg, c.RemoteAddr()); resp != nil {
				if _, err := c.Conn.Write(resp); err != nil {
					return 0, err
				}
				continue
			}
			c.held = msg
		}
	}
	return 0, nil
}

// next peeks at the frame that starts the unread stream and returns its size and what to do with it.
func (c *guardConn) next() (int, frameAction, error) {
	h, err := c.r.Peek(4)
	if err != nil {
		return 0, 0, err
	}
	if h[0]&0xC0 == 0x40 { // ChannelData, padded to 4 bytes on a stream
		size := 4 + (int(binary.BigEndian.Uint16(h[2:4]))+3)&^3
		if size >= 8 {
			if h, err = c.r.Peek(8); err != nil {
				return 0, 0, err
			}
			if binary.BigEndian.Uint32(h[4:8]) == stunMagicCookie {
				return size, frameDrop, nil
			}
		}
		return size, framePass, nil
	}
	if h, err = c.r.Peek(stunHeader); err != nil {
		return 0, 0, err
	}
	if binary.BigEndian.Uint32(h[4:8]) != stunMagicCookie {
		return 0, 0, errFraming
	}
	size := stunHeader + int(binary.BigEndian.Uint16(h[2:4]))
	switch {
	case binary.BigEndian.Uint32(h[0:4]) == stunMagicCookie:
		return size, frameDrop, nil
	case size < inboundMTU && screened(h):
		return size, frameScreen, nil
	}
	return size, framePass, nil
}
