// Package impair does to UDP datagrams what tc netem does to a link, in user space, for kernels built
// without netem: random loss, bursty loss (a Gilbert-Elliott chain), delay and jitter. A Link decides
// each packet's fate; a Relay (relay.go) sits between clients and a server address and applies one
// Link per direction and client.
//
// As netem's "delay D J" does, jitter draws each packet's delay on its own, so packets further apart
// than the jitter keep their order and closer ones may swap.
package impair

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Profile is what a link does to the packets of one direction. The zero Profile does nothing.
type Profile struct {
	Loss   float64         // probability that a packet is lost, each on its own
	Bursty *GilbertElliott // lost packets come in bursts; applies after Loss
	Delay  time.Duration   // added to every packet
	Jitter time.Duration   // each packet's delay is Delay ± up to Jitter, uniformly
}

func (p Profile) String() string {
	var parts []string
	if p.Loss > 0 {
		parts = append(parts, fmt.Sprintf("loss %.3g%%", p.Loss*100))
	}
	if p.Bursty != nil {
		parts = append(parts, p.Bursty.String())
	}
	if p.Delay > 0 || p.Jitter > 0 {
		parts = append(parts, fmt.Sprintf("delay %v ± %v", p.Delay, p.Jitter))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// zero reports whether p leaves packets alone.
func (p Profile) zero() bool {
	return p.Loss <= 0 && p.Bursty == nil && p.Delay <= 0 && p.Jitter <= 0
}

// GilbertElliott is a two-state loss chain: in the good state packets are lost with LossGood, in the
// bad one with LossBad; before each packet the chain moves good → bad with P and bad → good with R.
// Bad periods last 1/R packets on average, which is what makes the loss bursty (netem's "loss
// gemodel p r 1-h 1-k" in other words).
type GilbertElliott struct {
	P, R              float64
	LossGood, LossBad float64
}

// MeanLoss is the long-run share of lost packets: the bad state's share P/(P+R) at LossBad, the rest
// at LossGood.
func (g GilbertElliott) MeanLoss() float64 {
	bad := g.P / (g.P + g.R)
	return bad*g.LossBad + (1-bad)*g.LossGood
}

func (g GilbertElliott) String() string {
	return fmt.Sprintf("bursty loss %.3g%% (Gilbert-Elliott p %.3g r %.3g, loss %.3g/%.3g)",
		g.MeanLoss()*100, g.P, g.R, g.LossGood, g.LossBad)
}

// Link applies a Profile to one direction's packets, one packet at a time: a Relay calls it from the
// one goroutine that reads that direction.
type Link struct {
	p   Profile
	rng *rand.Rand
	bad bool // the Gilbert-Elliott chain's state
}

// NewLink is a Link with its own random source, so a seed repeats a run's losses.
func NewLink(p Profile, seed uint64) *Link {
	return &Link{p: p, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Admit decides the fate of a packet that arrives at now: lost (ok false), or due at at.
func (l *Link) Admit(now time.Time) (at time.Time, ok bool) {
	if l.p.Loss > 0 && l.rng.Float64() < l.p.Loss {
		return time.Time{}, false
	}
	if g := l.p.Bursty; g != nil {
		if l.bad {
			l.bad = l.rng.Float64() >= g.R
		} else {
			l.bad = l.rng.Float64() < g.P
		}
		loss := g.LossGood
		if l.bad {
			loss = g.LossBad
		}
		if l.rng.Float64() < loss {
			return time.Time{}, false
		}
	}
	d := l.p.Delay
	if l.p.Jitter > 0 {
		d += time.Duration((l.rng.Float64()*2 - 1) * float64(l.p.Jitter))
	}
	return now.Add(max(d, 0)), true
}
