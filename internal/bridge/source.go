package bridge

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/parley-im/parley/internal/bridge/packetcache"
)

// source is one logical media source of a sender (a track: "<endpoint>-v0"), with one inStream per
// simulcast layer. Receivers' slots subscribe to sources, not to SSRCs.
type source struct {
	key       string // owner + "/" + name: identity across UpdateSources
	owner     *Endpoint
	name      string
	kind      string
	videoType string
	layers    []*inStream // simulcast layers, low to high; one for audio or non-simulcast video
	rtx       []*inStream // RTX streams repairing the layers (FID groups)

	// subscribers are the slots (of other endpoints) currently mapped to this source: a copy-on-write
	// snapshot replaced by Conference.reassignLocked and read on the packet path.
	subscribers atomic.Pointer[[]*slot]

	// lastKeyframeReq is when the bridge last sent a PLI for this source (unix ns), for throttling.
	lastKeyframeReq atomic.Int64

	// Layer selection; used only by the owner's reader goroutine.
	layerSeen []int64 // unix ns of the last packet per layer

	// current is the index into layers of the layer being forwarded, -1 before the first key frame.
	// Written by the owner's reader goroutine, read when sending a PLI.
	current atomic.Int32
}

// inStream is one incoming SSRC.
type inStream struct {
	ssrc  uint32
	src   *source
	layer int
	rtx   bool      // an RTX stream (RFC 4588); primary is the stream it repairs
	prim  *inStream // for rtx streams
	cache *packetcache.Cache
	nack  *nackTracker // video primaries; guarded by the owner's fbMu

	// Receive statistics for receiver reports (RFC 3550 §6.4.1, A.3). Written by the reader goroutine,
	// read by housekeeping.
	received atomic.Uint64
	extMax   atomic.Uint32 // extended highest sequence number
	baseSeq  atomic.Uint32 // first sequence number + 1 (0 = nothing yet)
	lastSR   atomic.Uint64 // middle 32 bits of the last SR's NTP time << 32 | arrival unix ms (low 32 bits)
	// Owned by housekeeping.
	priorExpected, priorReceived uint64
}

// noteSeq updates the extended highest sequence number with seq (reader goroutine only).
func (s *inStream) noteSeq(seq uint16) {
	s.received.Add(1)
	if s.baseSeq.Load() == 0 {
		s.baseSeq.Store(uint32(seq) + 1)
		s.extMax.Store(uint32(seq))
		return
	}
	hi := s.extMax.Load()
	if d := int16(seq - uint16(hi)); d > 0 {
		s.extMax.Store(hi + uint32(d))
	}
}

// chooseLayer implements "forward the highest simulcast layer the sender sends, switching only at a
// keyframe" for one packet of stream s. It reports whether the packet belongs to the forwarded layer, and
// whether a keyframe of a better layer should be requested.
func (src *source) chooseLayer(s *inStream, keyframe bool, now int64) (forward, wantKeyframe bool) {
	if len(src.layers) == 1 {
		src.current.Store(0)
		return true, false
	}
	src.layerSeen[s.layer] = now
	const stale = int64(500 * time.Millisecond)
	best := -1
	for i := len(src.layers) - 1; i >= 0; i-- {
		if now-src.layerSeen[i] < stale {
			best = i
			break
		}
	}
	cur := int(src.current.Load())
	if cur >= 0 && now-src.layerSeen[cur] >= stale {
		cur = -1 // the forwarded layer stopped: take the next key frame of any active layer
	}
	if keyframe && (s.layer == best || cur < 0) {
		cur = s.layer
	}
	src.current.Store(int32(cur))
	return s.layer == cur, best != cur
}

func (src *source) String() string { return fmt.Sprintf("%s(%s)", src.key, src.kind) }
