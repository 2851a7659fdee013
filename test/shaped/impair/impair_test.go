package impair

import (
	"math"
	"testing"
	"time"
)

// lossPattern admits n packets 1 ms apart and returns which were lost.
func lossPattern(p Profile, n int) []bool {
	l := NewLink(p, 1)
	t0 := time.Unix(0, 0)
	lost := make([]bool, n)
	for i := range lost {
		_, ok := l.Admit(t0.Add(time.Duration(i) * time.Millisecond))
		lost[i] = !ok
	}
	return lost
}

// rates returns the share of lost packets and the share of packets lost right after a lost one.
func rates(lost []bool) (loss, afterLoss float64) {
	var n, pairs, both int
	for i, l := range lost {
		if !l {
			continue
		}
		n++
		if i+1 < len(lost) {
			pairs++
			if lost[i+1] {
				both++
			}
		}
	}
	return float64(n) / float64(len(lost)), float64(both) / float64(pairs)
}

// TestRandomLoss: independent loss at the set rate, and no bursts beyond chance (a loss does not make
// the next one likelier).
func TestRandomLoss(t *testing.T) {
	for _, want := range []float64{0.05, 0.15} {
		loss, after := rates(lossPattern(Profile{Loss: want}, 200_000))
		if math.Abs(loss-want) > 0.1*want {
			t.Errorf("Loss %.2f: lost %.4f of packets", want, loss)
		}
		if math.Abs(after-want) > 0.2*want {
			t.Errorf("Loss %.2f: after a loss %.4f are lost, want about %.2f (independent)", want, after, want)
		}
	}
}

// TestBurstyLoss: a Gilbert-Elliott chain loses its mean share, in bursts: after a lost packet the
// next one is lost far more often than on average.
func TestBurstyLoss(t *testing.T) {
	g := &GilbertElliott{P: 0.02, R: 0.25, LossGood: 0.001, LossBad: 0.8}
	loss, after := rates(lossPattern(Profile{Bursty: g}, 200_000))
	if want := g.MeanLoss(); math.Abs(loss-want) > 0.1*want {
		t.Errorf("lost %.4f of packets, want %.4f", loss, want)
	}
	// In the bad state a packet is lost with 0.8 and the state stays bad with 1-R = 0.75.
	if after < 0.5 || after < 5*loss {
		t.Errorf("after a loss %.3f are lost (mean %.3f): not bursty", after, loss)
	}
}

// TestDelayJitter: every packet is delayed by Delay ± Jitter, spread uniformly over that span.
func TestDelayJitter(t *testing.T) {
	const n = 50_000
	p := Profile{Delay: 200 * time.Millisecond, Jitter: 30 * time.Millisecond}
	l := NewLink(p, 7)
	t0 := time.Unix(0, 0)
	var sum, sq float64
	lo, hi := time.Hour, time.Duration(0)
	for i := range n {
		now := t0.Add(time.Duration(i) * time.Millisecond)
		at, ok := l.Admit(now)
		if !ok {
			t.Fatal("a profile without loss lost a packet")
		}
		d := at.Sub(now)
		lo, hi = min(lo, d), max(hi, d)
		ms := float64(d) / float64(time.Millisecond)
		sum += ms
		sq += ms * ms
	}
	mean := sum / n
	sd := math.Sqrt(sq/n - mean*mean)
	if lo < p.Delay-p.Jitter || hi > p.Delay+p.Jitter {
		t.Errorf("delays span %v..%v, want within %v ± %v", lo, hi, p.Delay, p.Jitter)
	}
	if hi-lo < 2*p.Jitter*9/10 {
		t.Errorf("delays span %v..%v: jitter not applied", lo, hi)
	}
	if math.Abs(mean-200) > 1 {
		t.Errorf("mean delay %.2f ms, want 200", mean)
	}
	// Uniform over ±30 ms: standard deviation 30/√3 ≈ 17.3 ms.
	if want := 30 / math.Sqrt(3); math.Abs(sd-want) > 1 {
		t.Errorf("delay standard deviation %.2f ms, want %.2f", sd, want)
	}
}

func TestZeroProfilePasses(t *testing.T) {
	if !(Profile{}).zero() {
		t.Fatal("the zero Profile should leave packets alone")
	}
	l := NewLink(Profile{}, 1)
	now := time.Unix(5, 0)
	for range 1000 {
		if at, ok := l.Admit(now); !ok || !at.Equal(now) {
			t.Fatalf("zero profile: at %v ok %v", at, ok)
		}
	}
}
