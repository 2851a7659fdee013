package bridge

import (
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/parley-im/parley/internal/bridge/bwe"
)

// DebugState is what the bridge is doing for every receiver right now (sfu-quality.md §7.5 criterion
// 12): its estimate and allocation, and for each video slot the source, the limits and the layer it
// carries, so that a receiver's video can be explained from outside.
type DebugState struct {
	Time        time.Time         `json:"time"`
	Conferences []ConferenceDebug `json:"conferences"`
}

// ConferenceDebug is one conference in DebugState.
type ConferenceDebug struct {
	ID        string          `json:"id"`
	Dominant  string          `json:"dominantSpeaker,omitempty"`
	Endpoints []EndpointDebug `json:"endpoints"`
	Relays    []RelayDebug    `json:"relays,omitempty"` // to the conference's other bridges (relay.go)
}

// EndpointDebug is one endpoint as a receiver.
type EndpointDebug struct {
	ID        string `json:"id"`
	Connected bool   `json:"connected"`
	// BWE is the estimator's state; nil when the endpoint gives no transport-cc feedback (its video is
	// then limited by its constraints only).
	BWE       *bwe.Stats `json:"bwe,omitempty"`
	Feedback  int64      `json:"transportCCFeedback"`
	TargetBps int64      `json:"targetBps"` // what the allocation forwards, audio included
	IdealBps  int64      `json:"idealBps"`  // what it would forward with unlimited bandwidth
	RTTMillis float64    `json:"rttMs"`
	// RED says the endpoint accepted RED audio; REDLevel is how many earlier packets each repeats now.
	RED       bool     `json:"red"`
	REDLevel  int32    `json:"redLevel"`
	Forwarded []string `json:"forwardedSources"`
	// Egress is what the bridge has sent the endpoint since it joined (SRTP bytes), and of that how much
	// were retransmissions and padding probes: the media is the rest.
	Egress EgressDebug `json:"egress"`
	Slots  []SlotDebug `json:"videoSlots"`
}

// EgressDebug is EndpointDebug.Egress.
type EgressDebug struct {
	Bytes              int64 `json:"bytes"`
	RetransmittedBytes int64 `json:"retransmittedBytes"`
	PaddingBytes       int64 `json:"paddingBytes"`
}

// egressBytes counts what is sent toward an endpoint; sendMu guards it.
type egressBytes struct{ total, retransmitted, padding int64 }

// SlotDebug is one video slot of a receiver.
type SlotDebug struct {
	Name      string `json:"name"`
	Source    string `json:"source,omitempty"`
	MaxHeight int    `json:"maxHeight"` // from constraints and last-N: -1 unlimited, 0 off
	MaxLayer  int    `json:"maxLayer"`  // from bandwidth: -1 suspended, -2 not limited
	Layer     int    `json:"layer"`     // the layer being forwarded, -1 none
	// Temporal is the highest temporal layer forwarded (temporal.go), FPSTemporal and AllocTemporal
	// what the receiver's frame rate and bandwidth allow.
	Temporal      uint8   `json:"temporal"`
	FPSTemporal   uint8   `json:"fpsTemporal"`
	AllocTemporal uint8   `json:"allocTemporal"`
	LayerBps      []int64 `json:"layerBps,omitempty"`
	// TemporalBps is, for each layer with temporal layers, the rate of each (nil for one without).
	TemporalBps [][]int64 `json:"temporalBps,omitempty"`
}

// Debug returns the bridge's DebugState.
func (b *Bridge) Debug() DebugState {
	st := DebugState{Time: time.Now(), Conferences: []ConferenceDebug{}}
	for _, c := range b.conferenceList() {
		cd := ConferenceDebug{ID: c.id, Endpoints: []EndpointDebug{}}
		cd.Dominant, _ = c.speech.current()
		for _, r := range c.members() {
			cd.Endpoints = append(cd.Endpoints, r.debug())
		}
		cd.Relays = c.relaysDebug()
		st.Conferences = append(st.Conferences, cd)
	}
	slices.SortFunc(st.Conferences, func(a, b ConferenceDebug) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return st
}

func (r *Endpoint) debug() EndpointDebug {
	d := EndpointDebug{ID: r.id, Connected: r.connected.Load(), Feedback: r.tccReports.Load(),
		TargetBps: r.allocTarget.Load(), IdealBps: r.allocIdeal.Load(), RTTMillis: float64(r.rtt.Load()) / 1e6,
		RED: r.redPT != 0, REDLevel: r.redLevel.Load()}
	if r.connected.Load() && r.est != nil {
		s := r.est.Stats()
		d.BWE = &s
	}
	r.sendMu.Lock()
	d.Forwarded = r.forwardedLocked()
	d.Egress = EgressDebug{Bytes: r.egress.total, RetransmittedBytes: r.egress.retransmitted, PaddingBytes: r.egress.padding}
	for _, sl := range r.videoSlots {
		sd := SlotDebug{Name: sl.name, MaxHeight: sl.maxHeight, MaxLayer: sl.maxLayer, Layer: -1,
			Temporal: sl.maxTemporal, FPSTemporal: sl.fpsTemporal, AllocTemporal: sl.allocTemporal}
		if sl.maxLayer == noLayerCap {
			sd.MaxLayer = -2
		}
		if sl.src != nil {
			sd.Source = sl.src.name
			for _, s := range sl.src.layers {
				sd.LayerBps = append(sd.LayerBps, s.rate.bps.Load())
				var tids []int64
				if s.layered.Load() {
					for t := range s.tidRate {
						tids = append(tids, s.tidRate[t].bps.Load())
					}
				}
				sd.TemporalBps = append(sd.TemporalBps, tids)
			}
			if cur := sl.proj.stream; cur != nil {
				sd.Layer = cur.layer
			}
		}
		d.Slots = append(d.Slots, sd)
	}
	r.sendMu.Unlock()
	return d
}

// DebugHandler serves Debug as JSON (mount it where only operators reach it: it names every
// conference and participant).
func (b *Bridge) DebugHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(b.Debug())
	})
}
