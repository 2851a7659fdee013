// Package bridge is Parley's videobridge (SFU): it receives each participant's media once and forwards
// it to the others, rewritten onto each receiver's fixed send slots. It has no XMPP inside; the focus
// drives it through a small message-shaped API (jitsi-dialect.md §5, §6, §11).
//
// # API and message flow
//
//	focus                                  bridge                                 client
//	AllocateEndpoint(conf, ep) ──────────► ICE ufrag/pwd, candidates, DTLS fingerprint (actpass),
//	                                       feedback sources, audio/video slots, channel path+pwd
//	   (Jingle session-initiate / session-accept with the client)
//	SetAnswer(ICE, DTLS active, sources) ► ICE checks (full, controlling) ◄──────► client (controlled)
//	                                       DTLS server on the selected pair, SRTP keys (RFC 5764)
//	                                       RTP/RTCP on one UDP port for every endpoint
//	UpdateSources / Expire                 bridge channel: GET /colibri-ws/<bridge>/<conf>/<ep>?pwd=…
//	                                       or the SCTP data channel over the endpoint's DTLS (port 5000)
//
// # Transport
//
// One UDP socket (Config.MediaAddr) serves every endpoint, read by one goroutine (recvmmsg(2) on Linux,
// demux.go): datagrams from an endpoint's selected ICE pair, other than STUN, go straight to that
// endpoint's packet path; STUN and everything else go to pion/ice's UDPMux, which routes STUN by the
// local ufrag and then each agent's candidate pairs by remote address (dialect §7.4). The transport of one
// endpoint is built from pion/ice, pion/dtls and pion/srtp directly rather than from a webrtc
// PeerConnection, because the bridge needs things a PeerConnection hides: its own SSRCs (slots) that are
// never negotiated per track, every RTCP packet terminated per leg, unsignalled SSRCs dropped before
// decryption, and a packet path without interceptors or per-packet allocation. The bridge is full ICE
// and controlling, the DTLS server (ECDHE with AES-GCM only, extended master secret required, the peer
// certificate pinned to the answer's fingerprint), and offers SRTP AEAD_AES_128_GCM before
// AES_CM_128_HMAC_SHA1_80, with a 64-packet replay window. Consent freshness (RFC 7675) is pion/ice's
// keepalive and failed timeout; a failed or closed transport expires the endpoint.
//
// # Forwarding (SSRC rewriting)
//
// Each receiver has AudioSlots + VideoSlots fixed SSRCs (video with an RTX SSRC). The conference maps
// other senders' sources onto free slots (recent speakers first, then join order) and announces the map
// on the bridge channel (VideoSourcesMap / AudioSourcesMap). The packet path runs on the socket's reader
// goroutine (or, before the sender's ICE pair is selected, on the sender's own reader goroutine;
// Endpoint.rxMu): check the header, drop unsignalled SSRCs, decrypt, store video in the packet cache,
// note which simulcast layers are being sent and their heights (from VP8 key frames), and hand the packet
// to each subscribed slot. Each slot carries the layer its receiver's ReceiverVideoConstraints allow (the
// highest no taller than the source's maxHeight, none for 0 or beyond lastN, allocate.go), moving to
// another layer only at that layer's key frame, which it asks the sender for. Each receiver rewrites
// SSRC, sequence number, timestamp and VP8 picture ID/TL0PICIDX (projection) so a slot is one continuous,
// decodable stream across switches, and switches a slot only at a key frame. Within a layer, a slot
// forwards the VP8 temporal layers within the receiver's maxFrameRate and its bandwidth (temporal.go):
// frames above them are left out and the numbering closed up over them. Header extensions and
// padding are not forwarded. The copies of one incoming packet leave together in one sendmmsg(2) call on
// the shared socket, addressed to each receiver's selected ICE pair (batch.go; through the ICE connection
// one by one where the platform or the socket cannot batch). With [bridge] fan-out-workers, a long
// subscriber list is cut into parts that fan-out workers forward beside the reader, which waits for them
// (fanout.go).
//
// # Dominant speaker
//
// The packet path reads the RFC 6464 audio level of each audio packet into the sender's level history;
// housekeeping scores the histories (Volfin–Cohen, as Jitsi does) and announces a new dominant speaker
// with DominantSpeakerEndpointChangeEvent to every endpoint, and the current one on each channel open
// (speaker.go). Receivers with lastN ≥ 0 get the video of the most recent speakers (after the sources
// they put on stage or selected), and when a receiver's slots are full a recent speaker takes the slot of
// the source ranked last (assign.go).
//
// # Concurrency
//
// Conference.mu guards membership, sources and slot assignment. Each endpoint's sendMu guards its send
// side (SRTP context, scratch buffers, slot projections) and is held only to rewrite, encrypt and write
// one packet; the lock order is Conference.mu before sendMu, and sendMu before a receiver's
// bridge-channel lock and the conference's speech lock (read to apply the receiver's constraints,
// allocate.go). Each endpoint's fbMu guards what its reader goroutine records for feedback
// (transport-wide sequence numbers, sequence gaps) and is never held with sendMu. The packet path
// otherwise reads only atomics and copy-on-write snapshots (the SSRC table, each source's subscriber
// list). What a snapshot reaches is not written after it is published: a source update (setSources)
// publishes a new SSRC table in which an unchanged source keeps its object and a changed one is a new
// source with new streams (inStream: SSRC, source, layer, primary); what a stream accumulates (receive
// statistics, packet cache, NACK state, when its layer was last heard and its height) is in its
// streamState, shared by its values in successive tables, and slot projections compare streams by it
// (inStream.is), so an update is not a switch. One housekeeping goroutine per bridge sends receiver
// reports, connectivity status events, decides the dominant speaker and expires endpoints that never
// connect (each endpoint's level history has its own lock, taken once per audio packet); one feedback
// goroutine sends transport-cc feedback and NACKs toward senders every 50 ms (feedback.go).
//
// # Bandwidth toward each receiver
//
// A receiver that accepted the transport-wide sequence number extension with transport-cc feedback
// (Answer.TransportCC) gets the bridge's own number on every packet sent to it, one counter across its
// slots, retransmissions and probes (congestion.go); its feedback feeds its estimator (package bwe:
// trendline delay detector, AIMD, loss cap, ALR, probe clusters). One congestion goroutine per bridge
// runs every 15 ms: it sends each receiver the padding its estimator asks for (padding-only packets on
// the bridge's own video source, jvb-v0) and, every 100 ms, measures every incoming layer's bit rate and
// re-allocates each receiver's video (bandwidth.go, package alloc: Jitsi's order — on stage, selected,
// speakers, the rest — with hysteresis) to the estimate minus its audio. The result caps each video slot
// (slot.maxLayer), which targetLayer applies per packet, switching at key frames; a source left with
// nothing is suspended and leaves ForwardedSources. Receivers without transport-cc are limited by their
// constraints only. GET /debug/bridge shows each receiver's estimate and layers (debug.go).
//
// # Relays
//
// A conference that spans bridges has one relay per other bridge (relay.go): an ICE + DTLS-SRTP
// transport between the bridges that carries each local sender's packets once, unchanged but for the
// SRTP, and brings the other bridge's senders in as relayed endpoints (sending only, no transport or
// slots of their own), whose sources fill local receivers' slots like local senders' sources.
//
// # Not yet
//
// RTX copies as probes (probes are padding only), VP9/AV1/H.264 layer parsing
// (forwarded without switch points), header-extension forwarding (audio level, mid).
package bridge
