// Package turn is Parley's embedded STUN/TURN server (RFC 8489, RFC 8656, RFC 6062 TCP relays, RFC 6156
// IPv6), built on pion/turn. It knows nothing of XMPP: the app hands Services to XEP-0215.
//
// Flow: a client gets a REST credential over XEP-0215 (username "expiry:userid", password
// base64(HMAC-SHA1(secret, username)), draft-uberti-behave-turn-rest-00) → Allocate on UDP or TCP
// :3478, TLS :5349 or TLS on the HTTPS port (ShareTLS) → 401 with realm and nonce → Allocate with
// MESSAGE-INTEGRITY → relay address → CreatePermission / ChannelBind (UDP) or Connect (TCP) for the
// bridge's media address → media flows client ⇄ relay socket ⇄ bridge.
//
// The peer policy (threats-and-tests.md §1.4) is deny by default: a relay reaches the bridge's media
// address(es) and the CIDRs of --turn-allow-peers, nothing else. IPv4-in-IPv6 forms are normalised
// first (Normalise); special-purpose ranges are refused unless an allow-peers prefix no wider than the
// range lists them; on this server's own addresses only the bridge's media ports are reachable.
// Refusals are 403 on CreatePermission, ChannelBind and Connect, answered by the guard (guard.go) in
// front of pion, which sees the port where pion's PermissionHandler sees only the IP: a CreatePermission
// for this host's IP is granted (TURN permissions are per IP), a ChannelBind or Connect to another of
// its ports is not, and datagrams to or from its other ports are dropped on the relay socket. Each
// refusal is counted in parley_turn_refusals_total.
package turn
