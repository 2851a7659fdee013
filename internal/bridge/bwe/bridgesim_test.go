package bwe

import (
	"time"
)

// The bridge's sender model (internal/bridge): what the simulated sender does when s.bridge is set, as
// the bridge does toward a receiver in stage view whose senders are `parley bot`s.
//
//   - The allocation: every speaker's audio always; the stage's video at the best of the three simulcast
//     layers that fits what the estimate leaves of the audio, then up to three thumbnails at the lowest
//     layer once the stage has its middle one (the allocator's order; its hysteresis is left out, the
//     estimate is what is measured). target and ideal include the audio (bandwidth.go).
//   - The media: each video stream sends 30 frames a second, a key frame every 32 (internal/testmedia),
//     each frame's packets at once as a bot writes them; audio is 50 packets a second per speaker.
//   - The pacer (pacer.go): video leaves at 2.5 × the estimate (1.25 × while Losing) with a 20 ms burst
//     (at least 2500 bytes); audio spends its tokens and never waits. While a probe cluster is open it
//     lets video go at the cluster's rate (ProbeRate), and the waiting video is the probe. The congestion
//     loop calls ProbeBytes at every tick; while video waits it pads only during a cluster, what the
//     cluster still needs, before the pacer's turn (congestion.go, probe).
//   - Padding-only packets of at most 255 padding bytes: 313 bytes on the wire; smaller when ProbeBytes
//     asks, and then they spend the pacer's tokens.
//   - The congestion loop's 15 ms tick can come late by up to tickJitter (a loaded machine).
type bridgeModel struct {
	audio      int64   // all speakers' audio, bit/s
	layers     []int64 // the stage's simulcast layers, bit/s, low to high
	thumbs     int     // other senders, each a thumbnail at layers[0]
	keyScale   float64 // a key frame's size over the mean frame's
	tickJitter time.Duration

	streams []*videoStream
	q       []int // paced video packets waiting, sizes
	tokens  float64
	last    time.Duration
	skipped int // congestion ticks that sent no padding because video waited and no cluster was open
	nextAud time.Duration
}

type videoStream struct {
	bps       int64
	frame     int // frames sent
	nextFrame time.Duration
}

// stageModel is a receiver in stage view with four speakers, three of them thumbnails, the bots' media:
// layers of 170, 310 and 610 kbit/s (internal/testmedia) and Opus with RED at about 40 kbit/s each.
func stageModel() *bridgeModel {
	return &bridgeModel{audio: 160_000, layers: []int64{170_000, 310_000, 610_000}, thumbs: 3, keyScale: 8}
}

// allocate returns target and ideal for estimate est, and sets the streams' rates.
func (m *bridgeModel) allocate(est int64, now time.Duration) (target, ideal int64) {
	avail := est - m.audio
	stage := int64(0)
	for _, l := range m.layers {
		if l <= avail {
			stage = l
		}
	}
	if stage == 0 {
		stage = m.layers[0] // the stage keeps its lowest layer (KeepFor)
	}
	rates := []int64{stage}
	used := stage
	for range m.thumbs {
		r := int64(0)
		if len(m.layers) > 1 && stage >= m.layers[1] && used+m.layers[0] <= avail {
			r = m.layers[0]
		}
		used += r
		rates = append(rates, r)
	}
	for len(m.streams) < len(rates) {
		// Each sender's frames start at its own phase.
		m.streams = append(m.streams, &videoStream{nextFrame: now + time.Duration(len(m.streams))*7*time.Millisecond})
	}
	for i, r := range rates {
		m.streams[i].bps = r
	}
	ideal = m.audio + m.layers[len(m.layers)-1] + int64(m.thumbs)*m.layers[0]
	return used + m.audio, ideal
}

// paceRate is the pacer's rate in bytes per second.
func (s *sim) paceRate() float64 {
	if r := s.e.ProbeRate(); r > 0 {
		return float64(r) / 8
	}
	f := 2.5
	if s.e.Losing() {
		f = 1.25
	}
	return f * float64(s.e.Estimate()) / 8
}

func (s *sim) refill(rate float64) {
	m := s.bridge
	burst := max(rate*0.020, 2500)
	m.tokens = min(m.tokens+rate*(s.now-m.last).Seconds(), burst)
	m.last = s.now
}

// drain sends waiting video while tokens last; it reports whether video still waits.
func (s *sim) drain() bool {
	m := s.bridge
	s.refill(s.paceRate())
	for len(m.q) > 0 && m.tokens > 0 {
		m.tokens -= float64(m.q[0])
		s.send(m.q[0], false)
		m.q = m.q[1:]
	}
	return len(m.q) > 0
}

// video hands one video packet to the pacer.
func (s *sim) video(size int) {
	m := s.bridge
	if s.drain() || m.tokens <= 0 {
		m.q = append(m.q, size)
		return
	}
	m.tokens -= float64(size)
	s.send(size, false)
}

// bridgeStep is step's sender part in the bridge's model.
func (s *sim) bridgeStep() {
	m := s.bridge
	if s.now >= s.nextAlloc {
		s.target, s.ideal = m.allocate(s.e.Estimate(), s.now)
		s.nextAlloc = s.now + 100*time.Millisecond
	}
	for _, v := range m.streams {
		if s.now < v.nextFrame {
			continue
		}
		v.nextFrame += time.Second / 30
		if v.bps == 0 {
			continue
		}
		// 31 frames and one key frame of keyScale of them make 32 frames' worth of the rate.
		mean := float64(v.bps) / 8 / 30 * 32 / (31 + m.keyScale)
		size := mean * (0.8 + 0.4*s.rng.Float64())
		if v.frame%32 == 0 {
			size = mean * m.keyScale
		}
		v.frame++
		for n := int(size); n > 0; n -= 1200 {
			s.video(min(n, 1200) + 50)
		}
	}
	if s.now >= m.nextAud {
		// One packet per speaker every 20 ms; audio spends the pacer's tokens but never waits.
		size := int(m.audio/8/50/4) + 60 // RTP, extension, SRTP tag, UDP and IP headers
		for range 4 {
			s.refill(s.paceRate())
			m.tokens -= float64(size)
			s.send(size, false)
		}
		m.nextAud += 20 * time.Millisecond
	}
	s.drain()
	if s.now >= s.nextProbe {
		// As the bridge (congestion.go, probe): ProbeBytes at every tick, and the pacer at the rate of a
		// cluster that opened. A cluster's padding goes before the pacer's turn and spends its tokens; other
		// padding only when no video waits.
		n, size := s.e.ProbeBytes(simEpoch.Add(s.now), s.target, s.ideal)
		if size == 0 && s.drain() {
			m.skipped++
			n = 0
		}
		if n > 0 && s.honorProbes {
			// Without size, each packet counts its padding only; with it, each counts whole.
			for n > 0 {
				pad := min(n, 255)
				if size > 0 {
					pad = min(max(size-minPadPacket+1, 1), 255)
				}
				s.send(pad+minPadPacket-1, true)
				if size > 0 {
					m.tokens -= float64(pad + minPadPacket - 1)
					n -= pad + minPadPacket - 1
				} else {
					n -= pad
				}
			}
		}
		if size > 0 {
			s.drain()
		}
		s.nextProbe += 15 * time.Millisecond
		if m.tickJitter > 0 {
			s.nextProbe += time.Duration(s.rng.Int64N(int64(m.tickJitter)))
		}
	}
}
