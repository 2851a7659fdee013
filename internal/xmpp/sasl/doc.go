// Package sasl is the server side of XMPP authentication (RFC 6120 §6,
// RFC 4422): the mechanisms ANONYMOUS (RFC 4505), PLAIN (RFC 4616) and
// SCRAM-SHA-1 / SCRAM-SHA-256 (RFC 5802, RFC 7677; no -PLUS variants), plus
// a per-IP Limiter that rate-limits attempts and locks out repeated failures.
//
// Flow, as the c2s code drives it:
//
//	features: <mechanisms> lists Server.Mechanisms(encrypted)
//	C: <auth mechanism=M>text</auth>    → Server.Start(M, encrypted); Step(DecodePayload(text))
//	S: <challenge>EncodePayload(out)    ← while Step returns done=false
//	C: <response>text</response>        → Step(DecodePayload(text))
//	S: <success>EncodePayload(out)      ← done=true
//	S: <failure><condition/><text/>     ← err, an *Error named after RFC 6120 §6.5
//
// Step returns out == nil when there is no data: send the element with no
// text (an empty <challenge/> asks for the initial response a client left
// out, RFC 4422 §5; an empty <success/> carries no additional data). Step
// never returns empty non-nil data.
//
// A Session that failed, or finished, refuses further steps. SCRAM itself is
// github.com/xdg-go/scram; this package adds the XMPP rules around it:
// authzid must be empty or the user's own bare JID, channel binding is
// refused (we offer no -PLUS), input is bounded, and unknown users get
// made-up but stable credentials so the exchange fails at the proof exactly
// like a wrong password does, instead of revealing that the name is free.
package sasl
