package bridge

import (
	"testing"
	"time"
)

// Behind a 1 Mbit/s link with a short queue (tbf: 1500-byte burst, 3500-byte queue), key frames of 4-7 kB sent at
// once lose their tail at the queue; paced at 2.5 × the estimate they get through. The receiver must
// miss at most 2% of the video's packets while the sender makes a key frame every half second.
func TestPacerCarriesKeyFramesThroughAShortQueue(t *testing.T) {
	checkNoLeaks(t)
	tb, nets, _ := tbfRig(t, 1_000_000, 1_500, 3_500)
	s := newClient(t, tb, "paced", "sender", clientOpts{net: nets["sender"]})
	r := newClient(t, tb, "paced", "receiver", clientOpts{net: nets["receiver"], noSend: true, tccFeedback: true})
	v := slotOf(t, r, "sender-v0")
	er, err := tb.endpoint("paced", "receiver")
	must(t, err)
	eventually(t, "an estimate from feedback", func() bool { return er.tccReports.Load() > 20 })
	waitLong(t, 20*time.Second, "an estimate near the link's 1 Mbit/s", func() bool { return er.est.Estimate() < 1_300_000 })

	from, eg0 := len(r.rec.snapshot(v)), er.debug().Egress
	for range 10 {
		s.plis <- struct{}{}               // the sender jumps to its next key frame
		time.Sleep(500 * time.Millisecond) // the sender's pace, not a wait for an event
	}
	got := r.rec.snapshot(v)[from:]
	if len(got) < 100 {
		t.Fatalf("%d video packets in 5 s", len(got))
	}
	// Count the holes among the packets numbered from the first one in the window on (retransmissions of
	// older ones come too).
	seen := map[int]bool{}
	hi := 0
	for _, p := range got {
		if d := int(int16(p.SequenceNumber - got[0].SequenceNumber)); d >= 0 {
			seen[d] = true
			hi = max(hi, d)
		}
	}
	span := hi + 1
	missed := span - len(seen)
	eg1 := er.debug().Egress
	t.Logf("pacer: rate %d bit/s, %.0f packets dropped full, %d bytes waiting", er.paceRate.Load(), counterValue(tb.metrics.dropped.WithLabelValues(dropPacerFull)), er.pace.bytes)
	t.Logf("%d of %d video packets arrived; estimate %+v; in 5 s %d bytes sent, %d retransmitted", len(seen), span, er.est.Stats(),
		eg1.Bytes-eg0.Bytes, eg1.RetransmittedBytes-eg0.RetransmittedBytes)
	// Measured: 6-10 of about 186 lost without the pacer, 2 with it.
	if missed*50 > span { // more than 2%
		t.Errorf("%d of %d video packets lost behind the short queue", missed, span)
	}
	s.close()
	r.close()
	_ = tb.Close()
}
