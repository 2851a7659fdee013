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

	// senderHeight is the SenderSourceConstraints maxHeight last sent to the owner (senderUnsent before
	// any); guarded by the conference's mu.
	senderHeight int
	// lowerTo is a lower height waiting since lowerSince (unix ns, 0 = none) to be sent; conference mu.
	lowerTo    int
	lowerSince int64

	// kfLayers is the set of layers (bit i = layers[i]) that slots wait for a key frame of; the next
	// keyframe request asks those, or every layer when it is empty.
	kfLayers atomic.Uint32
}

// inStream is one incoming SSRC as one snapshot of the endpoint's SSRC table (Endpoint.inbound) sees
// it: which source and layer it belongs to, and whether it repairs another. These fields are immutable
// once the table is published; a change of sources publishes a new table with new inStream values
// (Conference.setSources), so the packet path reads them without a lock. What the stream accumulates
// (statistics, packet cache, NACK state, when it was last heard and its height) lives in its
// streamState, which the inStream values of successive tables share while the SSRC stays with the same
// source in the same role.
type inStream struct {
	*streamState
	ssrc  uint32
	src   *source
	layer int
	rtx   bool      // an RTX stream (RFC 4588); primary is the stream it repairs
	prim  *inStream // for rtx streams: the primary in the same table
}

// newInStream makes a stream with new state; the packet cache and NACK state are added by setSources.
func newInStream(ssrc uint32, src *source, layer int) *inStream {
	return &inStream{streamState: &streamState{}, ssrc: ssrc, src: src, layer: layer}
}

// is reports whether s and o are the same stream: the same value, or the values of one stream in two
// snapshots of the SSRC table (the slot projections compare streams with it, so a source update does
// not look like a switch to another stream).
func (s *inStream) is(o *inStream) bool {
	return s == o || s != nil && o != nil && s.streamState != nil && s.streamState == o.streamState
}

// streamState is the state of one incoming stream that outlives a snapshot of the SSRC table.
type streamState struct {
	cache *packetcache.Cache // video primaries; set before the state is first published
	nack  *nackTracker       // video primaries; guarded by the owner's fbMu
	// Layer selection (owner's reader goroutine): when the stream's last packet came (unix ns) and the
	// frame height of its last key frame (0 before one).
	seen   atomic.Int64
	height atomic.Int32
	// bytes counts the plaintext bytes received (owner's reader goroutine adds, the allocation tick reads
	// it for the layer's bit rate).
	bytes atomic.Uint64
	rate  rateMeter // bit rate from bytes (congestion loop)
	// The same per VP8 temporal layer (temporal.go), once a frame above TL0 said the stream has them
	// (layered).
	tidBytes [maxTemporal + 1]atomic.Uint64
	tidRate  [maxTemporal + 1]rateMeter
	layered  atomic.Bool
	// silentRun counts consecutive audio packets whose level said silence (owner's reader goroutine).
	silentRun int

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

// staleLayer is how long a simulcast layer may send nothing before slots stop counting on it (a sender
// drops its higher layers when its bandwidth falls).
const staleLayer = int64(500 * time.Millisecond)

// noteLayer records a packet of stream s, size bytes of plaintext: the layer's byte count (its bit rate,
// for the allocator, and that of its temporal layers), when its layer was last heard and, from a key frame, its height (and that the
// layer's key frame came). Owner's reader goroutine only.
func (src *source) noteLayer(s *inStream, d *vp8Desc, size int, now int64) {
	s.bytes.Add(uint64(size))
	if d != nil && d.hasTID && d.tid <= maxTemporal {
		s.tidBytes[d.tid].Add(uint64(size))
		if d.tid > 0 && !s.layered.Load() {
			s.layered.Store(true)
		}
	}
	if len(src.layers) == 1 {
		return
	}
	s.seen.Store(now)
	if d != nil && d.keyframe {
		if d.height > 0 {
			s.height.Store(int32(d.height))
		}
		if s.layer < 32 && src.kfLayers.Load()&(1<<s.layer) != 0 {
			src.kfLayers.And(^uint32(1 << s.layer)) // it came: nobody needs to ask for it again
		}
	}
}

// noLayerCap is a slot's maxLayer while bandwidth does not limit it.
const noLayerCap = 1 << 30

// targetLayer is the layer a slot limited to maxHeight and, by its receiver's bandwidth, to layers up to
// maxLayer should carry (dialect §11.4): the highest active layer within both; when every active layer
// is above them, the lowest of those (the height constraint is soft, and the allocator caps a source at
// its lowest layer rather than at nothing only when that layer fits); -1 for maxHeight 0 (hard: no
// video), maxLayer < 0 (suspended for bandwidth) or when no layer is active. maxHeight < 0 is unlimited.
// Owner's reader goroutine only.
func (src *source) targetLayer(maxHeight, maxLayer int, now int64) int {
	if maxHeight == 0 || maxLayer < 0 {
		return -1
	}
	if len(src.layers) == 1 {
		return 0
	}
	lowest := -1
	for i := len(src.layers) - 1; i >= 0; i-- {
		if now-src.layers[i].seen.Load() >= staleLayer {
			continue
		}
		if i <= maxLayer && (maxHeight < 0 || src.layerHeight(i) <= maxHeight) {
			return i
		}
		lowest = i
	}
	return lowest
}

// layerHeight is layer i's frame height: as its last key frame said, or before one the usual ladder of
// a 720p camera sending three layers each half the height of the next (180/360/720).
func (src *source) layerHeight(i int) int {
	if h := src.layers[i].height.Load(); h > 0 {
		return int(h)
	}
	return 720 >> (len(src.layers) - 1 - i)
}

// wantLayer marks layer i as waited for by a slot, for the next keyframe request.
func (src *source) wantLayer(i int) {
	if i >= 0 && i < 32 {
		src.kfLayers.Or(1 << i)
	}
}

func (src *source) String() string { return fmt.Sprintf("%s(%s)", src.key, src.kind) }
