// Package jingle holds the Jingle elements of Jitsi's dialect (XEP-0166 with RTP, ICE-UDP, DTLS,
// SCTP, grouping, source and header-extension extensions; jitsi-dialect.md §5, §7.2-7.3, §11) as
// typed Go values, converts them to and from *stanza.Element, and translates them to and from SDP
// (github.com/pion/sdp/v3) the way lib-jitsi-meet does, so that the focus, the Go participant and the
// browser client share one reading of every message.
//
// # Message flow
//
//	focus (room@conference.D/focus)                      participant
//	  session-initiate ─────────────────────────────────►  Parse → ToSDP(Split) = remote offer
//	    contents audio, video, data; BUNDLE; codecs,         (one m-line per bridge source)
//	    hdrexts; bridge ICE/DTLS, candidates, web-socket;
//	    bridge sources (jvb-a0/jvb-v0, send slots)
//	  ◄──────────────────────────────────────────── result
//	  Parse ◄──────────────────────────── session-accept   answer SDP → FromSDP(Responder, ByKind)
//	    own sources (SIM/FID groups), ICE, fingerprint        + source names → Element
//	  Parse ◄──────────────────────────── transport-info   trickled candidates (ParseCandidate, SDP)
//	  Parse ◄──────────────────────── source-add/-remove   screen share on/off
//	  transport-info (ICE restart) ─────────────────────►  new bridge credentials, ice-generation
//	  session-terminate ◄──────────────────────────────►  reason, optional bridge-session restart
//
// Every Jingle IQ is acknowledged with a result; the focus replies to what Parse refuses with the
// *stanza.Error it returns (bad-request with a text), and to unknown sessions with ErrUnknownSession.
//
// # Validation
//
// Parse, FromSDP and ToSDP apply one set of rules (Jingle.Validate, Limits): nothing with a control
// character (CR, LF, NUL, …) can reach an SDP line, tokens have no spaces, payload types and header
// extension IDs do not collide, unknown header extensions are dropped, sources, groups, contents,
// m-lines and candidates are capped, and session-initiate/session-accept transports carry a SHA-2
// fingerprint with a role fit for the action (threats-and-tests §5.1 items 13-19, parsing part).
// What needs conference state (whose SSRC it is, who may send what) is the focus's job.
//
// # SDP mapping
//
// A content is an m-line whose mid is the content name (ToSDP without Split); senders map to the
// direction as seen from the side the SDP describes (SDPOptions.Responder). Payload types give
// a=rtpmap/a=fmtp/a=rtcp-fb, header extensions a=extmap, sources a=ssrc lines (msid, name,
// videoType), groups a=ssrc-group, rid sources a=rid and a=simulcast, the transport a=ice-ufrag,
// a=ice-pwd, a=fingerprint, a=setup and a=candidate, and the sctpmap a=sctp-port on m=application
// UDP/DTLS/SCTP webrtc-datachannel. The golden pairs in testdata (see its README) pin the format.
package jingle
