package bwe

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"sync"
	"testing"
	"time"
)

// warm returns an estimator that has run 5 s on a simulated 2 Mbit/s link, and the simulation.
func warm(t *testing.T) *sim {
	s := newSim(t, Config{}, 2_000_000, 9)
	s.run(5*time.Second, nil)
	return s
}

func checkBounds(t *testing.T, e *Estimator, what string, before int64) {
	t.Helper()
	est := e.Estimate()
	if est < DefaultMin || est > DefaultMax {
		t.Fatalf("%s: estimate %d outside [%d, %d]", what, est, DefaultMin, DefaultMax)
	}
	if est > 2*before || est < before/2 {
		t.Fatalf("%s: estimate moved from %d to %d", what, before, est)
	}
}

func TestHostileFeedback(t *testing.T) {
	cases := []struct {
		name     string
		arrivals func(s *sim) []Arrival
	}{
		{"empty", func(*sim) []Arrival { return nil }},
		{"never sent", func(s *sim) []Arrival {
			var a []Arrival
			for i := 1; i <= 1000; i++ {
				a = append(a, Arrival{Seq: s.seq + uint16(i), Received: true, At: time.Duration(i)})
			}
			return a
		}},
		{"huge gap all lost", func(s *sim) []Arrival {
			var a []Arrival
			for i := 0; i < 65536; i++ {
				a = append(a, Arrival{Seq: uint16(i)})
			}
			return a
		}},
		{"arrival times far in the past", func(s *sim) []Arrival {
			var a []Arrival
			for i := 0; i < 50; i++ {
				a = append(a, Arrival{Seq: s.seq - uint16(i), Received: true, At: -time.Hour - time.Duration(i)*time.Millisecond})
			}
			return a
		}},
		{"extreme arrival times", func(s *sim) []Arrival {
			return []Arrival{{Seq: s.seq, Received: true, At: math.MaxInt64},
				{Seq: s.seq - 1, Received: true, At: math.MinInt64}, {Seq: s.seq - 2, Received: true, At: 0}}
		}},
		{"arrival times backwards", func(s *sim) []Arrival {
			var a []Arrival
			for i := 0; i < 50; i++ {
				a = append(a, Arrival{Seq: s.seq - 49 + uint16(i), Received: true, At: s.now + s.receiverClock - time.Duration(i)*20*time.Millisecond})
			}
			return a
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := warm(t)
			before := s.e.Estimate()
			s.e.OnFeedback(simEpoch.Add(s.now), c.arrivals(s))
			checkBounds(t, s.e, c.name, before)
			// The estimator still works afterwards.
			s.run(5*time.Second, nil)
			checkBounds(t, s.e, c.name+", then 5 s of normal traffic", before)
		})
	}
}

// Feedback delivered twice, or in the wrong order, counts each packet once.
func TestDuplicateAndReorderedFeedback(t *testing.T) {
	s := warm(t)
	for i := 0; i < 100; i++ {
		s.send(1000, false)
	}
	var fb []Arrival
	for i := 0; i < 100; i++ {
		fb = append(fb, Arrival{Seq: s.seq - 99 + uint16(i), Received: i%10 != 0, At: s.receiverClock + s.now + time.Duration(i)*time.Millisecond})
	}
	now := simEpoch.Add(s.now)
	s.e.OnFeedback(now, fb[50:])
	s.e.OnFeedback(now, fb[:50])
	lost, total := s.e.loss.lost, s.e.loss.total
	s.e.OnFeedback(now, fb)
	s.e.OnFeedback(now, fb[:50])
	if s.e.loss.lost != lost || s.e.loss.total != total {
		t.Fatalf("repeated feedback changed the loss counts from %d/%d to %d/%d", lost, total, s.e.loss.lost, s.e.loss.total)
	}
	// A packet reported lost and then received counts as received.
	fb[0].Received = true
	s.e.OnFeedback(now, fb[:1])
	if s.e.loss.lost != lost-1 || s.e.loss.total != total {
		t.Fatalf("late arrival of a lost packet: %d/%d, want %d/%d", s.e.loss.lost, s.e.loss.total, lost-1, total)
	}
}

func TestConfigDefaults(t *testing.T) {
	for _, c := range []struct{ in, want Config }{
		{Config{}, Config{DefaultInitial, DefaultMin, DefaultMax}},
		{Config{Initial: -1, Min: -1, Max: -1}, Config{DefaultInitial, DefaultMin, DefaultMax}},
		{Config{Initial: 100, Min: 50_000, Max: 40_000}, Config{50_000, 50_000, 50_000}},
		{Config{Initial: 1e9, Max: 5e6}, Config{5e6, DefaultMin, 5e6}},
	} {
		if got := c.in.normalized(); got != c.want {
			t.Errorf("%+v normalized to %+v, want %+v", c.in, got, c.want)
		}
	}
	if got := New(Config{}).Estimate(); got != DefaultInitial {
		t.Errorf("initial estimate %d, want %d", got, DefaultInitial)
	}
}

// FuzzOnFeedback: whatever the feedback says, the estimator does not panic and stays within its bounds.
func FuzzOnFeedback(f *testing.F) {
	f.Add([]byte{0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add(make([]byte, 110))
	f.Fuzz(func(t *testing.T, data []byte) {
		e := New(Config{})
		at := simEpoch
		for i := 0; i < 200; i++ {
			e.OnSent(uint16(i), 1200, at.Add(time.Duration(i)*time.Millisecond), i%7 == 0)
		}
		var arr []Arrival
		for len(data) >= 11 {
			arr = append(arr, Arrival{Seq: binary.BigEndian.Uint16(data), Received: data[2]&1 == 1,
				At: time.Duration(int64(binary.BigEndian.Uint64(data[3:])))})
			data = data[11:]
		}
		now := at.Add(time.Second)
		e.OnFeedback(now, arr)
		e.OnFeedback(now.Add(50*time.Millisecond), arr)
		_, _ = e.ProbeBytes(now.Add(60*time.Millisecond), 1e6, 3e6)
		if est := e.Estimate(); est < DefaultMin || est > DefaultMax {
			t.Fatalf("estimate %d outside the bounds", est)
		}
	})
}

// OnSent from one goroutine while feedback, probes and stats come from others (run with -race).
func TestConcurrentUse(t *testing.T) {
	e := New(Config{})
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		for i := 0; i < 20000; i++ {
			e.OnSent(uint16(i), 1200, simEpoch.Add(time.Duration(i)*100*time.Microsecond), false)
		}
	}()
	go func() {
		defer wg.Done()
		arr := make([]Arrival, 20)
		for i := 0; i < 1000; i++ {
			for j := range arr {
				seq := i*20 + j
				arr[j] = Arrival{Seq: uint16(seq), Received: true, At: time.Duration(seq) * 110 * time.Microsecond}
			}
			e.OnFeedback(simEpoch.Add(time.Duration(i)*2*time.Millisecond), arr)
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 1000; i++ {
			_, _ = e.ProbeBytes(simEpoch.Add(time.Duration(i)*2*time.Millisecond), 1e6, 3e6)
			_ = e.Stats()
		}
	}()
	wg.Wait()
	if est := e.Estimate(); est < DefaultMin || est > DefaultMax {
		t.Fatalf("estimate %d outside the bounds", est)
	}
}

// Stats reports what the allocator's metrics and debug JSON need, in words where it is a state.
func TestStats(t *testing.T) {
	s := newSim(t, Config{}, 3_000_000, 11)
	s.ideal = 300_000
	s.run(5*time.Second, nil)
	if st := s.e.Stats(); !st.AppLimited || st.AckedBps < 200_000 || st.AckedBps > 400_000 {
		t.Fatalf("sending 300 kbit/s under a 2.5 Mbit/s estimate: %+v, want app-limited with about 300 kbit/s acked", st)
	}
	s.ideal = 5_000_000
	probing := false
	s.run(3*time.Second, func() { probing = probing || s.e.Stats().Probing })
	if !probing {
		t.Fatal("the allocator wants 5 Mbit/s on a 3 Mbit/s link: no probe seen in 3 s")
	}
	b, err := json.Marshal(s.e.Stats())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if st, _ := m["delay_state"].(string); st != "normal" && st != "overusing" && st != "underusing" {
		t.Fatalf("delay_state %v in %s, want a word", m["delay_state"], b)
	}
}
