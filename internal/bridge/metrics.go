package bridge

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the bridge's Prometheus collectors. Per-conference children are looked up once per
// conference (conferenceMetrics) so that the packet path only does atomic adds.
type metrics struct {
	packetsIn, bytesIn, packetsOut, bytesOut *prometheus.CounterVec // label: conference
	endpoints                                *prometheus.GaugeVec   // label: conference
	conferences                              prometheus.Gauge
	nacksIn                                  prometheus.Counter
	nacksOut                                 prometheus.Counter
	retransmits                              prometheus.Counter
	relayNACKsIn, relayNACKsOut              prometheus.Counter
	relayRetransmits                         prometheus.Counter
	keyframeReqIn                            prometheus.Counter
	keyframeReqOut                           prometheus.Counter
	dominantChanges                          prometheus.Counter
	silenceDiscarded                         prometheus.Counter
	dropped                                  *prometheus.CounterVec // label: reason
	rtt                                      prometheus.Histogram
	demuxed                                  *prometheus.CounterVec // label: path (demux.go)
	forwardDelay                             prometheus.Histogram
	tccFeedbackIn                            prometheus.Counter
	probeBytes                               prometheus.Counter
	estimate                                 prometheus.Histogram
	layerCaps                                prometheus.Counter
	allocTime                                prometheus.Histogram
}

// Reasons for dropping an incoming packet (label values of parley_bridge_dropped_packets_total).
const (
	dropMalformed   = "malformed"
	dropUnsignalled = "unsignalled_ssrc"
	dropSRTP        = "srtp_auth_or_replay"
	dropNotReady    = "not_ready"
	dropNACKLimit   = "nack_rate_limit"
	dropNACKFull    = "nack_link_full" // the receiver's link has no room for the retransmission (RoomFor)
	dropPacerFull   = "pacer_full"     // more video waited for a receiver's link than half a second of it
	dropNACKRepeat  = "nack_repeat"    // the packet was retransmitted less than a round trip ago
	dropNACKNoRTX   = "nack_no_rtx"    // the receiver negotiated no RTX (rtcp.go retransmit)
	dropOther       = "unknown_type"
	dropDuplicate   = "duplicate" // a repair the bridge already has, or that its receiver was sent less than a round trip ago
	// A peer bridge's NACKs over a relay that the bridge does not answer (relaynack.go): for an SSRC
	// that is not one of its local video streams that crossed that relay, for a sequence number that did
	// not cross it (or is no longer in the window or the packet cache), for a stream whose sender
	// signalled no RTX SSRC.
	dropRelayNACKUnknown = "relay_nack_unknown_ssrc"
	dropRelayNACKNotSent = "relay_nack_not_sent"
	dropRelayNACKNoRTX   = "relay_nack_no_rtx"
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "parley", "bridge"
	conf := []string{"conference"}
	m := &metrics{
		packetsIn: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "packets_received_total", Help: "RTP and RTCP packets received from endpoints."}, conf),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "bytes_received_total", Help: "SRTP and SRTCP bytes received from endpoints."}, conf),
		packetsOut: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "packets_sent_total", Help: "RTP and RTCP packets sent to endpoints."}, conf),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "bytes_sent_total", Help: "SRTP and SRTCP bytes sent to endpoints."}, conf),
		endpoints: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "endpoints", Help: "Allocated endpoints."}, conf),
		conferences: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "conferences", Help: "Conferences with at least one endpoint."}),
		nacksIn: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "nacks_received_total", Help: "Sequence numbers NACKed by receivers."}),
		nacksOut: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "nacks_sent_total", Help: "Sequence numbers NACKed toward senders (losses before the bridge)."}),
		retransmits: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "retransmissions_total", Help: "Packets retransmitted (RTX or plain) from the packet cache."}),
		relayNACKsIn: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "relay_nacks_received_total", Help: "Sequence numbers NACKed by peer bridges over relays (losses between the bridges)."}),
		relayNACKsOut: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "relay_nacks_sent_total", Help: "Sequence numbers of relayed streams NACKed toward peer bridges over relays."}),
		relayRetransmits: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "relay_retransmissions_total", Help: "Packets retransmitted (RTX) over relays from the packet cache."}),
		keyframeReqIn: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "keyframe_requests_received_total", Help: "PLI and FIR received from receivers."}),
		keyframeReqOut: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "keyframe_requests_sent_total", Help: "PLI sent to senders after throttling."}),
		dominantChanges: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "dominant_speaker_changes_total", Help: "Dominant speaker changes announced, all conferences."}),
		silenceDiscarded: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "silence_discarded_packets_total", Help: "Audio packets not forwarded because the sender's audio level said silence (after the first few of a run)."}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "dropped_packets_total", Help: "Incoming packets dropped, by reason."}, []string{"reason"}),
		rtt: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "rtt_seconds", Help: "Round-trip time to endpoints from RTCP receiver reports.",
			Buckets: []float64{.005, .01, .025, .05, .1, .2, .4, .8, 1.6}}),
		tccFeedbackIn: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "transport_cc_feedback_received_total", Help: "Transport-cc feedback packets from receivers about the bridge's packets."}),
		probeBytes: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "probe_bytes_sent_total", Help: "Bytes of padding sent to receivers to probe their bandwidth."}),
		estimate: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "bandwidth_estimate_bps", Help: "Receivers' bandwidth estimates, sampled at every allocation (10 per second per receiver).",
			Buckets: []float64{100e3, 250e3, 500e3, 1e6, 2e6, 3e6, 5e6, 10e6}}),
		layerCaps: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "bandwidth_layer_changes_total", Help: "Changes of the highest layer a receiver's bandwidth allows on one of its video slots (suspensions included)."}),
		allocTime: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "allocation_seconds", Help: "Time of one receiver's bandwidth allocation: its slots' sources collected, fitted to the estimate and applied.",
			Buckets: []float64{1e-6, 2e-6, 5e-6, 10e-6, 20e-6, 50e-6, 100e-6, 200e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3}}),
	}
	for _, c := range []prometheus.Collector{m.tccFeedbackIn, m.probeBytes, m.estimate, m.layerCaps, m.allocTime, m.packetsIn, m.bytesIn, m.packetsOut, m.bytesOut, m.endpoints,
		m.conferences, m.nacksIn, m.nacksOut, m.retransmits, m.relayNACKsIn, m.relayNACKsOut, m.relayRetransmits, m.keyframeReqIn, m.keyframeReqOut, m.dominantChanges, m.silenceDiscarded, m.dropped, m.rtt} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, err
			}
			return nil, err
		}
	}
	for _, r := range []string{dropMalformed, dropUnsignalled, dropSRTP, dropNotReady, dropNACKLimit, dropOther} {
		m.dropped.WithLabelValues(r)
	}
	if err := m.registerDemux(reg); err != nil {
		return nil, err
	}
	return m, nil
}

// Paths of an incoming datagram through the media socket's demultiplexer (label values of
// parley_bridge_demuxed_packets_total).
const (
	demuxDirect     = "direct"      // an endpoint's selected pair: handled on the socket's reader goroutine
	demuxICE        = "ice"         // STUN, or an address no endpoint has selected: to pion's UDP mux
	demuxICEDropped = "ice_dropped" // pion's queue was full
)

func (m *metrics) registerDemux(reg prometheus.Registerer) error {
	const ns, sub = "parley", "bridge"
	m.demuxed = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
		Name: "demuxed_packets_total", Help: "Datagrams read from the media socket, by where they went."},
		[]string{"path"})
	// Fine buckets below a millisecond: sfuload reads p50 and p99 from them.
	m.forwardDelay = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
		Name: "forward_delay_seconds",
		Help: "Time from reading an RTP packet off the media socket to handing its last forwarded copy to sendmmsg.",
		Buckets: []float64{2e-6, 4e-6, 6e-6, 8e-6, 10e-6, 15e-6, 20e-6, 30e-6, 40e-6, 50e-6, 75e-6, 100e-6,
			150e-6, 200e-6, 300e-6, 500e-6, 750e-6, 1e-3, 2e-3, 5e-3, 10e-3, 50e-3}})
	for _, c := range []prometheus.Collector{m.demuxed, m.forwardDelay} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	for _, p := range []string{demuxDirect, demuxICE, demuxICEDropped} {
		m.demuxed.WithLabelValues(p)
	}
	return nil
}

// conferenceMetrics are one conference's children of the labelled collectors.
type conferenceMetrics struct {
	packetsIn, bytesIn, packetsOut, bytesOut prometheus.Counter
	endpoints                                prometheus.Gauge
}

func (m *metrics) forConference(id string) conferenceMetrics {
	return conferenceMetrics{
		packetsIn:  m.packetsIn.WithLabelValues(id),
		bytesIn:    m.bytesIn.WithLabelValues(id),
		packetsOut: m.packetsOut.WithLabelValues(id),
		bytesOut:   m.bytesOut.WithLabelValues(id),
		endpoints:  m.endpoints.WithLabelValues(id),
	}
}

func (m *metrics) dropConference(id string) {
	m.packetsIn.DeleteLabelValues(id)
	m.bytesIn.DeleteLabelValues(id)
	m.packetsOut.DeleteLabelValues(id)
	m.bytesOut.DeleteLabelValues(id)
	m.endpoints.DeleteLabelValues(id)
}
