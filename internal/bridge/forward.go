package bridge

import (
	"encoding/binary"
	"time"
)

// The packet path: one sender's reader goroutine decrypts a packet, checks it, notes it for feedback
// (fbMu), stores it for NACKs, picks the simulcast layer and hands it to every slot mapped to its source.
// Each receiver rewrites under its own sendMu and encrypts into the sender's send batch, which leaves in
// one sendmmsg per incoming packet (batch.go): no allocation, and no other lock per packet.

// rtpLayout locates the parts of an RTP packet (RFC 3550 §5.1, RFC 8285).
type rtpLayout struct {
	hdrLen int // fixed header + CSRCs + extension
	end    int // end of payload (start of padding)
}

// parseRTPLayout validates the header lengths of an RTP packet: version 2, CSRC list and extension
// inside the packet. With padding, the pad count must be non-zero and fit (CVE-2025-49140); padding is
// only checked on plaintext (checkPadding).
func parseRTPLayout(pkt []byte, checkPadding bool) (rtpLayout, bool) {
	if len(pkt) < 12 || pkt[0]>>6 != 2 {
		return rtpLayout{}, false
	}
	n := 12 + 4*int(pkt[0]&0x0f)
	if n > len(pkt) {
		return rtpLayout{}, false
	}
	if pkt[0]&0x10 != 0 { // X
		if n+4 > len(pkt) {
			return rtpLayout{}, false
		}
		n += 4 + 4*int(binary.BigEndian.Uint16(pkt[n+2:]))
		if n > len(pkt) {
			return rtpLayout{}, false
		}
	}
	end := len(pkt)
	if checkPadding && pkt[0]&0x20 != 0 {
		pad := int(pkt[len(pkt)-1])
		if pad == 0 || pad > end-n {
			return rtpLayout{}, false
		}
		end -= pad
	}
	return rtpLayout{hdrLen: n, end: end}, true
}

// handleRTP is the sender side of the packet path (reader goroutine only).
func (e *Endpoint) handleRTP(pkt []byte) {
	drop := func(reason string) { e.b.metrics.dropped.WithLabelValues(reason).Inc() }
	if !e.srtpReady.Load() {
		drop(dropNotReady)
		return
	}
	if _, ok := parseRTPLayout(pkt, false); !ok {
		drop(dropMalformed)
		return
	}
	// Unsignalled SSRCs are dropped before decryption, so they cannot grow SRTP state (threats §1.10).
	s := (*e.inbound.Load())[binary.BigEndian.Uint32(pkt[8:])]
	if s == nil {
		drop(dropUnsignalled)
		return
	}
	dec, err := e.srtpIn.DecryptRTP(e.decBuf[:0], pkt, &e.inHdr)
	if err != nil {
		drop(dropSRTP)
		return
	}
	lay, ok := parseRTPLayout(dec, true)
	if !ok {
		drop(dropMalformed)
		return
	}
	now := time.Now().UnixNano()
	e.lastMedia.Store(now)
	seq := binary.BigEndian.Uint16(dec[2:])
	s.noteSeq(seq)
	e.fbMu.Lock()
	e.recordTransportCCLocked(s.ssrc, now)
	if s.nack != nil {
		s.nack.note(seq, now)
	} else if s.rtx && s.prim != nil && s.prim.nack != nil && lay.end-lay.hdrLen >= 2 {
		s.prim.nack.note(binary.BigEndian.Uint16(dec[lay.hdrLen:]), now)
	}
	e.fbMu.Unlock()
	if s.rtx {
		// RFC 4588 §4: the payload starts with the original sequence number; rebuild the original packet.
		if lay.end-lay.hdrLen < 2 || s.prim == nil {
			drop(dropMalformed)
			return
		}
		osn := binary.BigEndian.Uint16(dec[lay.hdrLen:])
		if s.prim.cache != nil && s.prim.cache.Has(osn) {
			// The original came after all (it was late, not lost), or a sender re-sends what arrived
			// (RTX as padding): its receivers have it already.
			drop(dropDuplicate)
			return
		}
		n := copy(e.rtxBuf[:], dec[:lay.hdrLen])
		n += copy(e.rtxBuf[n:], dec[lay.hdrLen+2:lay.end])
		e.rtxBuf[0] &^= 0x20 // padding removed
		e.rtxBuf[1] = e.rtxBuf[1]&0x80 | PayloadTypeVP8
		binary.BigEndian.PutUint16(e.rtxBuf[2:], osn)
		binary.BigEndian.PutUint32(e.rtxBuf[8:], s.prim.ssrc)
		s, dec = s.prim, e.rtxBuf[:n]
		lay = rtpLayout{hdrLen: lay.hdrLen, end: n}
	}
	if s.src.kind == KindAudio && dec[1]&0x7f == PayloadTypeRED {
		// A sender's RED is reduced to its primary: each receiver gets the redundancy its link needs.
		if dec, lay, ok = unwrapRED(e.rtxBuf[:], dec, lay); !ok {
			drop(dropMalformed)
			return
		}
	}
	e.forwardFrom(s, dec, lay, now)
}

// inPacket is one plaintext packet on the packet path, parsed once by the sender's reader goroutine
// and handed to every slot its source is mapped onto.
type inPacket struct {
	s        *inStream
	buf      []byte // the whole plaintext packet
	lay      rtpLayout
	vp8      vp8Desc // when isVP8
	isVP8    bool    // false for audio and for video the bridge does not parse
	keyframe bool    // a point a slot can switch at: every audio packet, a VP8 key frame's packets
	resume   bool    // packets of the stream were discarded just before it (silence): slots re-base
	now      int64   // unix ns when it was read
}

func (p *inPacket) seq() uint16     { return binary.BigEndian.Uint16(p.buf[2:]) }
func (p *inPacket) ts() uint32      { return binary.BigEndian.Uint32(p.buf[4:]) }
func (p *inPacket) payload() []byte { return p.buf[p.lay.hdrLen:p.lay.end] }
func (p *inPacket) payloadLen() int { return p.lay.end - p.lay.hdrLen }

// desc is the packet's VP8 payload descriptor, nil when it has none.
func (p *inPacket) desc() *vp8Desc {
	if !p.isVP8 {
		return nil
	}
	return &p.vp8
}

// forwardFrom sends one plaintext packet of stream s to the slots mapped to its source.
func (e *Endpoint) forwardFrom(s *inStream, pkt []byte, lay rtpLayout, now int64) {
	p := &inPacket{s: s, buf: pkt, lay: lay, keyframe: true, now: now}
	if len(p.payload()) == 0 {
		return // padding only: nothing to forward (the bridge pads its own legs)
	}
	if e.via == nil { // once to each other bridge of the conference (relay.go), in the fan-out's batch
		if bt := e.conf.relayOut(pkt, e, s); bt != nil {
			defer flushPending(bt)
		}
	}
	src := s.src
	if src.kind == KindAudio {
		// Silence is not forwarded past the first few packets of a run (Jitsi's discard-silence): a
		// room of muted microphones would otherwise cost every receiver 50 packets a second each. The
		// slots re-base at the next sound, so receivers see a pause, not a loss.
		if e.noteAudioLevel(pkt, now) {
			if s.silentRun++; s.silentRun > silenceForwarded {
				e.b.metrics.silenceDiscarded.Inc()
				return
			}
		} else {
			p.resume = s.silentRun > silenceForwarded
			s.silentRun = 0
		}
	}
	if src.kind == KindVideo && pkt[1]&0x7f == PayloadTypeVP8 {
		var ok bool
		if p.vp8, ok = parseVP8(p.payload()); !ok {
			e.b.metrics.dropped.WithLabelValues(dropMalformed).Inc()
			return
		}
		p.isVP8, p.keyframe = true, p.vp8.keyframe
	}
	e.tapForward(src.kind, p.payload()) // before the cache: what a test's tap alters, a retransmission sends too
	if src.kind == KindVideo && s.cache != nil {
		s.cache.Store(p.seq(), pkt[:lay.end])
	}
	src.noteLayer(s, p.desc(), p.payloadLen(), now)
	wantKeyframe := false
	if subs := src.subscribers.Load(); subs != nil {
		wantKeyframe = e.fanOut(*subs, p, e.sendBatch()) // fanout.go
	}
	if wantKeyframe {
		src.requestKeyframe(now)
	}
}

// sendBatch returns the reader goroutine's send batch, or nil when the bridge's socket does not batch.
func (e *Endpoint) sendBatch() *sendBatch {
	if e.b.batch == nil {
		return nil
	}
	if e.out == nil {
		e.out = e.b.batch.newBatch() // once, at the endpoint's first forwarded packet
	}
	return e.out
}

// forward rewrites packet p onto slot sl of receiver r and sends it, or queues it on bt (the sender's
// batch) when both are there. It reports whether the slot is waiting for a key frame.
func (r *Endpoint) forward(sl *slot, p *inPacket, bt *sendBatch) (needKeyframe bool) {
	if sl.kind == KindVideo && !r.videoOn.Load() {
		return false // no video before the receiver's first constraints (dialect §6.1)
	}
	if bt != nil && bt.full() {
		bt.flush()
	}
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	s := p.s
	if sl.src != s.src || r.srtpOut == nil {
		return false
	}
	if sl.kind == KindVideo {
		// Each slot carries the layer its receiver's constraints and bandwidth allow (targetLayer),
		// and moves to another only at that layer's key frame, forwarding the old one until then.
		tgt := s.src.targetLayer(sl.maxHeight, sl.maxLayer, p.now)
		switch cur := sl.proj.stream; {
		case tgt < 0:
			sl.proj.reset() // off: numbering goes on at the next key frame once it is on again
			return false
		case s.layer == tgt: // project below forwards it, or switches to it at a key frame
		case cur.is(s):
			s.src.wantLayer(tgt)
			needKeyframe = true
		default:
			return false // a layer nobody on this slot needs
		}
	}
	if p.resume && sl.proj.stream.is(s) {
		sl.proj.reset() // audio re-bases at any packet: numbering runs on, time advances by the pause
	}
	if d := p.desc(); d != nil && d.hasTID && !sl.proj.temporal(s, p.seq(), d, sl.maxTemporal) {
		return needKeyframe // a frame above the slot's temporal layer: left out, numbering closed up
	}
	prevOut, started := sl.proj.lastSeq, sl.proj.started
	out, ok, need := sl.proj.project(s, p.seq(), p.ts(), p.desc(), p.keyframe, p.now)
	if !ok {
		if need {
			s.src.wantLayer(s.layer)
		}
		return need
	}
	if sl.kind == KindVideo && started && int16(out.seq-prevOut) < 0 {
		// A late packet, such as a repair from the sender or from a peer bridge: the receiver gets one
		// copy of it within a round trip, whether this or a retransmission that answered its NACK
		// (rtcp.go; either may come first).
		if sl.resent == nil {
			sl.resent = new(resendLog)
		}
		if sl.resent.tooSoon(out.seq, p.now, max(r.rtt.Load(), int64(minResendInterval))) {
			r.b.metrics.dropped.WithLabelValues(dropDuplicate).Inc()
			return needKeyframe
		}
	}
	// Video may have to wait for the receiver's link (pacer.go); audio never does.
	held := sl.kind == KindVideo && r.holdVideoLocked(p.payloadLen()+20, p.now)
	buf, tcc := r.packetBufferLocked(held)
	var n int
	if level := r.redLevel.Load(); sl.kind == KindAudio && r.redPT != 0 {
		// RED toward this receiver (red.go): redundancy when its link loses packets, and always
		// the RED payload type, so a change of level is not a change of codec.
		h := writeHeader(buf, p.buf, sl.ssrc, out, tcc)
		buf[1] = buf[1]&0x80 | r.redPT
		n = h + sl.red.writeRED(buf[h:], p.payload(), out.seq, out.ts, PayloadTypeOpus, int(level))
		sl.red.remember(out.seq, out.ts, p.payload())
	} else {
		n = buildRTP(buf, p.buf, p.lay, sl.ssrc, out, p.desc(), tcc)
	}
	switch {
	case held:
		r.queueLocked(buf[:n], false, sl.stream)
	case sl.kind == KindAudio:
		r.spendLocked(n, p.now)
		fallthrough
	default:
		r.sendPacketLocked(buf[:n], p.now, bt, sl.stream)
	}
	sl.packets++
	sl.octets += uint32(p.payloadLen())
	return needKeyframe
}

// sendPacketLocked encrypts one plaintext RTP packet for r and queues it on bt (when the socket batches
// and r's pair is known) or writes it at once, and records it for bandwidth estimation; sendMu is held.
func (r *Endpoint) sendPacketLocked(plain []byte, now int64, bt *sendBatch, stream uint16) {
	var enc []byte
	if dst := r.dst.Load(); bt != nil && dst != nil {
		var err error
		if enc, err = r.srtpOut.EncryptRTP(bt.buf(), plain, &r.outHdr); err != nil {
			return
		}
		bt.add(enc, dst)
		r.conf.m.packetsOut.Inc()
		r.conf.m.bytesOut.Add(float64(len(enc)))
	} else {
		var err error
		if enc, err = r.srtpOut.EncryptRTP(r.encBuf[:0], plain, &r.outHdr); err != nil {
			return
		}
		r.writeLocked(enc)
	}
	r.egress.total += int64(len(enc))
	r.noteSentLocked(plain, len(enc), now, false, stream)
}

// buildRTP writes the forwarded form of pkt into dst: a 12-byte header (no CSRCs; of the header
// extensions only the bridge's own transport-wide sequence number, when tcc.on: the sender's extensions
// describe the sender's leg), the payload with VP8 picture ID and TL0PICIDX rewritten, no padding. It
// returns the length.
func buildRTP(dst, pkt []byte, lay rtpLayout, ssrc uint32, out projected, d *vp8Desc, tcc transportSeq) int {
	h := writeHeader(dst, pkt, ssrc, out, tcc)
	n := h + copy(dst[h:], pkt[lay.hdrLen:lay.end])
	if d != nil {
		payload := dst[h:n]
		if d.picLen > 0 {
			writePicID(payload, d, out.pic)
		}
		if d.tl0Off > 0 {
			payload[d.tl0Off] = out.tl0
		}
	}
	return n
}

// writeHeader writes the forwarded header of pkt into dst (buildRTP) and returns its length.
func writeHeader(dst, pkt []byte, ssrc uint32, out projected, tcc transportSeq) int {
	dst[0] = 0x80
	dst[1] = pkt[1] // marker and payload type
	binary.BigEndian.PutUint16(dst[2:], out.seq)
	binary.BigEndian.PutUint32(dst[4:], out.ts)
	binary.BigEndian.PutUint32(dst[8:], ssrc)
	return 12 + tcc.write(dst)
}

// sendRetransmissionLocked encrypts and sends one retransmission, counted apart in the egress;
// sendMu is held.
func (r *Endpoint) sendRetransmissionLocked(plain []byte, now int64, stream uint16) {
	before := r.egress.total
	r.sendPacketLocked(plain, now, nil, stream)
	r.egress.retransmitted += r.egress.total - before
}

// requestKeyframe sends a PLI (RFC 4585 §6.3.1) for the layers slots wait for (wantLayer), or every
// layer when no slot named one, at most once per KeyframeInterval (sfu-quality.md §5.2).
func (src *source) requestKeyframe(now int64) {
	if src.kind != KindVideo {
		return
	}
	last := src.lastKeyframeReq.Load()
	if now-last < int64(src.owner.b.cfg.KeyframeInterval) || !src.lastKeyframeReq.CompareAndSwap(last, now) {
		return
	}
	src.owner.sendPLI(src)
}
