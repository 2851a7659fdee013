package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/parley-im/parley/test/shaped/impair"
)

// Scenario is one shaped link for the receiver: a download limit (tc tbf on the host's end of its
// veth), changes of that limit during the run, and what the relay does to what it downloads.
type Scenario struct {
	Name  string
	About string
	Rate  int64  // download limit in bit/s; 0: none
	Steps []Step // changes of Rate, at shares of the run
	Down  impair.Profile
	// UpRate and Up do the same to what the receiver sends (tbf on the namespace's end); none of
	// issue 15's scenarios uses them.
	UpRate int64
	Up     impair.Profile
}

// Step changes the download limit once At (0..1) of the run has passed.
type Step struct {
	At   float64
	Rate int64
}

// StepTimes returns the Steps' times in a run of d.
func (s Scenario) StepTimes(d time.Duration) []time.Duration {
	out := make([]time.Duration, len(s.Steps))
	for i, st := range s.Steps {
		out[i] = time.Duration(st.At * float64(d))
	}
	return out
}

// bursty is the bursty-loss link: bad spells of 4 packets on average, in which 80% are lost, about
// one packet in 14 in such a spell; about 6% lost overall.
var bursty = &impair.GilbertElliott{P: 0.02, R: 0.25, LossGood: 0.001, LossBad: 0.8}

// Scenarios are issue 15's shaped links, plus the unshaped control.
var Scenarios = []Scenario{
	{Name: "none", About: "no shaping (control)"},
	{Name: "cap500k", About: "500 kbit/s", Rate: 500_000},
	{Name: "cap1m", About: "1 Mbit/s", Rate: 1_000_000},
	{Name: "cap3m", About: "3 Mbit/s", Rate: 3_000_000},
	{Name: "step", About: "3 Mbit/s, 500 kbit/s from 1/3 of the run, 3 Mbit/s again from 2/3", Rate: 3_000_000,
		Steps: []Step{{At: 1.0 / 3, Rate: 500_000}, {At: 2.0 / 3, Rate: 3_000_000}}},
	{Name: "loss5", About: "5% random loss", Down: impair.Profile{Loss: 0.05}},
	{Name: "loss15", About: "15% random loss", Down: impair.Profile{Loss: 0.15}},
	{Name: "delay200j30", About: "200 ms delay, ±30 ms jitter", Down: impair.Profile{Delay: 200 * time.Millisecond, Jitter: 30 * time.Millisecond}},
	{Name: "bursty", About: "bursty loss, " + bursty.String(), Down: impair.Profile{Bursty: bursty}},
}

// Find returns the scenario called name.
func Find(name string) (Scenario, error) {
	var names []string
	for _, s := range Scenarios {
		if s.Name == name {
			return s, nil
		}
		names = append(names, s.Name)
	}
	return Scenario{}, fmt.Errorf("no scenario %q (there are %s, and all)", name, strings.Join(names, ", "))
}
