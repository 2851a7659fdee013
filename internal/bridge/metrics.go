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
	keyframeReqIn                            prometheus.Counter
	keyframeReqOut                           prometheus.Counter
	dropped                                  *prometheus.CounterVec // label: reason
	rtt                                      prometheus.Histogram
}

// Reasons for dropping an incoming packet (label values of parley_bridge_dropped_packets_total).
const (
	dropMalformed   = "malformed"
	dropUnsignalled = "unsignalled_ssrc"
	dropSRTP        = "srtp_auth_or_replay"
	dropNotReady    = "not_ready"
	dropNACKLimit   = "nack_rate_limit"
	dropOther       = "unknown_type"
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
		keyframeReqIn: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "keyframe_requests_received_total", Help: "PLI and FIR received from receivers."}),
		keyframeReqOut: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "keyframe_requests_sent_total", Help: "PLI sent to senders after throttling."}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "dropped_packets_total", Help: "Incoming packets dropped, by reason."}, []string{"reason"}),
		rtt: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "rtt_seconds", Help: "Round-trip time to endpoints from RTCP receiver reports.",
			Buckets: []float64{.005, .01, .025, .05, .1, .2, .4, .8, 1.6}}),
	}
	for _, c := range []prometheus.Collector{m.packetsIn, m.bytesIn, m.packetsOut, m.bytesOut, m.endpoints,
		m.conferences, m.nacksIn, m.nacksOut, m.retransmits, m.keyframeReqIn, m.keyframeReqOut, m.dropped, m.rtt} {
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
	return m, nil
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
