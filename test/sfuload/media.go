package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"
)

// Payload types both SFUs see (Jicofo's defaults, which Parley's bridge forwards with).
const (
	ptVP8  = 100
	ptOpus = 111
)

// Every packet a sender writes ends with a 12-byte trailer: a marker and the send time in nanoseconds
// since the tool started (one clock for senders and receivers, which share this process). Neither SFU
// looks past the VP8 payload descriptor or into Opus, so the trailer arrives as it was sent.
const (
	trailerLen   = 12
	trailerMagic = 0x504c5944 // "PLYD"
	payloadMTU   = 1200 - 12 - trailerLen
)

var epoch = time.Now()

func nowNS() int64 { return int64(time.Since(epoch)) }

// fixtures are the bridge tests' pre-encoded media (internal/bridge/testdata): VP8 at 30 fps, Opus in
// 20 ms packets.
type fixtures struct {
	video [][]byte
	audio [][]byte
}

func loadFixtures(dir string) (*fixtures, error) {
	f := &fixtures{}
	vf, err := os.Open(filepath.Join(dir, "video.ivf"))
	if err != nil {
		return nil, err
	}
	defer vf.Close()
	ivf, _, err := ivfreader.NewWith(vf)
	if err != nil {
		return nil, err
	}
	for {
		frame, _, err := ivf.ParseNextFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		f.video = append(f.video, frame)
	}
	af, err := os.Open(filepath.Join(dir, "audio.ogg"))
	if err != nil {
		return nil, err
	}
	defer af.Close()
	ogg, _, err := oggreader.NewWith(af)
	if err != nil {
		return nil, err
	}
	for {
		page, hdr, err := ogg.ParseNextPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if hdr.GranulePosition != 0 {
			f.audio = append(f.audio, page)
		}
	}
	if len(f.video) == 0 || len(f.audio) == 0 {
		return nil, fmt.Errorf("fixtures in %s are empty", dir)
	}
	return f, nil
}

// packetRate is the RTP packets per second one sender's fixtures make (video packets per frame × 30 +
// 50 audio packets).
func (f *fixtures) packetRate() float64 {
	var pay codecs.VP8Payloader
	n := 0
	for _, fr := range f.video {
		n += len(pay.Payload(payloadMTU, fr))
	}
	return float64(n)/float64(len(f.video))*30 + 50
}

// stats are shared by every client of one run. Counting happens only while measuring is set.
type stats struct {
	measuring atomic.Bool
	sent      atomic.Int64 // packets written by senders
	recv      atomic.Int64 // packets read by receivers
	tracks    atomic.Int64 // receive tracks that got their first packet
	hist      [histBuckets]atomic.Uint64
	maxLat    atomic.Int64
}

// Latency histogram: 2 µs buckets up to 40 ms; later packets land in the last bucket.
const (
	histBucket  = 2 * time.Microsecond
	histBuckets = 20000
)

func (s *stats) observe(lat int64) {
	b := lat / int64(histBucket)
	b = min(max(b, 0), histBuckets-1)
	s.hist[b].Add(1)
	for {
		m := s.maxLat.Load()
		if lat <= m || s.maxLat.CompareAndSwap(m, lat) {
			return
		}
	}
}

// quantile returns the q-quantile of the observed latencies (upper bucket bound).
func (s *stats) quantile(q float64) time.Duration {
	var total uint64
	for i := range s.hist {
		total += s.hist[i].Load()
	}
	if total == 0 {
		return 0
	}
	want := uint64(q * float64(total))
	var acc uint64
	for i := range s.hist {
		acc += s.hist[i].Load()
		if acc > want {
			return time.Duration(i+1) * histBucket
		}
	}
	return time.Duration(histBuckets) * histBucket
}

// publisher sends the fixtures on a VP8 and an Opus track in real time until stop is closed.
type publisher struct {
	video, audio *webrtc.TrackLocalStaticRTP
}

func newPublisher(streamID string) (*publisher, error) {
	v, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", streamID)
	if err != nil {
		return nil, err
	}
	a, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", streamID)
	if err != nil {
		return nil, err
	}
	return &publisher{video: v, audio: a}, nil
}

// run paces video at 30 fps and audio at 50 packets/s. Each sender starts at a random frame so that
// senders' key frames do not line up.
func (p *publisher) run(fx *fixtures, st *stats, stop <-chan struct{}) {
	var pay codecs.VP8Payloader
	pay.EnablePictureID = true
	buf := make([]byte, 1500)
	var vseq, aseq uint16 = uint16(rand.Uint32()), uint16(rand.Uint32())
	vts, ats := rand.Uint32(), rand.Uint32()
	vi, ai := rand.IntN(len(fx.video)), 0
	vt := time.NewTicker(time.Second / 30)
	defer vt.Stop()
	at := time.NewTicker(20 * time.Millisecond)
	defer at.Stop()
	write := func(tr *webrtc.TrackLocalStaticRTP, pt byte, marker bool, seq uint16, ts uint32, payload []byte) {
		buf[0] = 0x80
		buf[1] = pt
		if marker {
			buf[1] |= 0x80
		}
		binary.BigEndian.PutUint16(buf[2:], seq)
		binary.BigEndian.PutUint32(buf[4:], ts)
		binary.BigEndian.PutUint32(buf[8:], 0) // the track sets its own SSRC
		n := 12 + copy(buf[12:], payload)
		binary.BigEndian.PutUint32(buf[n:], trailerMagic)
		binary.BigEndian.PutUint64(buf[n+4:], uint64(nowNS()))
		if _, err := tr.Write(buf[:n+trailerLen]); err == nil && st.measuring.Load() {
			st.sent.Add(1)
		}
	}
	for {
		select {
		case <-stop:
			return
		case <-vt.C:
			pkts := pay.Payload(payloadMTU, fx.video[vi])
			for i, pl := range pkts {
				write(p.video, ptVP8, i == len(pkts)-1, vseq, vts, pl)
				vseq++
			}
			vts += 3000
			vi = (vi + 1) % len(fx.video)
		case <-at.C:
			write(p.audio, ptOpus, false, aseq, ats, fx.audio[ai])
			aseq++
			ats += 960
			ai = (ai + 1) % len(fx.audio)
		}
	}
}

// receive reads one remote track until it ends, counting packets and their latency.
func receive(tr *webrtc.TrackRemote, st *stats) {
	buf := make([]byte, 1600)
	first := true
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			return
		}
		at := nowNS()
		if first {
			first = false
			st.tracks.Add(1)
		}
		if !st.measuring.Load() {
			continue
		}
		st.recv.Add(1)
		end := rtpPayloadEnd(buf[:n])
		if end >= 12+trailerLen && binary.BigEndian.Uint32(buf[end-trailerLen:]) == trailerMagic {
			sent := int64(binary.BigEndian.Uint64(buf[end-8:]))
			st.observe(at - sent)
		}
	}
}

// rtpPayloadEnd returns where the payload of an RTP packet ends (before padding), 0 when malformed.
func rtpPayloadEnd(p []byte) int {
	if len(p) < 12 {
		return 0
	}
	end := len(p)
	if p[0]&0x20 != 0 {
		end -= int(p[len(p)-1])
	}
	return end
}
