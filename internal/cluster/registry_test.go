package cluster

import (
	"errors"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/bridgeapi"
)

// fakeClock is a registry's time, moved by the test.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestSelect(t *testing.T) {
	tests := []struct {
		name    string
		bridges []Heartbeat
		region  string
		want    string
	}{
		{"least loaded", []Heartbeat{{Bridge: "a", CPU: 0.5}, {Bridge: "b", CPU: 0.2}}, "", "b"},
		{"endpoints break a tie", []Heartbeat{{Bridge: "a", Endpoints: 9}, {Bridge: "b", Endpoints: 3}}, "", "b"},
		{"region first", []Heartbeat{{Bridge: "a", Region: "eu", CPU: 0.5}, {Bridge: "b", Region: "us", CPU: 0.1}}, "eu", "a"},
		{"least loaded in the region", []Heartbeat{{Bridge: "a", Region: "eu", CPU: 0.5}, {Bridge: "b", Region: "us"}, {Bridge: "c", Region: "eu", CPU: 0.3}}, "eu", "c"},
		{"unknown region: least loaded", []Heartbeat{{Bridge: "a", Region: "eu", CPU: 0.5}, {Bridge: "b", Region: "us", CPU: 0.1}}, "ap", "b"},
		{"full region bridge: another with room", []Heartbeat{{Bridge: "a", Region: "eu", CPU: 0.9}, {Bridge: "b", Region: "us", CPU: 0.1}}, "eu", "b"},
		{"draining never", []Heartbeat{{Bridge: "a", Region: "eu", Draining: true}, {Bridge: "b", Region: "us", CPU: 0.7}}, "eu", "b"},
		{"all full: least loaded", []Heartbeat{{Bridge: "a", CPU: 0.95}, {Bridge: "b", CPU: 0.85}}, "", "b"},
	}
	for _, tc := range tests {
		r := NewRegistry(nil)
		for _, hb := range tc.bridges {
			r.Heard(hb)
		}
		got, err := r.Select("conf", tc.region)
		if err != nil || got.Bridge != tc.want {
			t.Errorf("%s: got %q (%v), want %q", tc.name, got.Bridge, err, tc.want)
		}
	}
	r := NewRegistry(nil)
	if _, err := r.Select("conf", ""); !errors.Is(err, bridgeapi.ErrNoBridge) {
		t.Errorf("no bridges: %v", err)
	}
	r.Heard(Heartbeat{Bridge: "a", Draining: true})
	if _, err := r.Select("conf", ""); !errors.Is(err, bridgeapi.ErrNoBridge) {
		t.Errorf("only a draining bridge: %v", err)
	}
}

// A conference stays on its bridge while that bridge is there and not draining, whatever the region
// and load of later participants; once its last endpoint left, it may go elsewhere.
func TestConferenceStaysOnItsBridge(t *testing.T) {
	r := NewRegistry(nil)
	r.Heard(Heartbeat{Bridge: "a", Region: "eu"})
	r.Heard(Heartbeat{Bridge: "b", Region: "us"})
	first, _ := r.Select("conf", "eu")
	r.Placed("conf", "e1", first.Bridge)
	r.Heard(Heartbeat{Bridge: "a", Region: "eu", CPU: 0.6}) // busier now, still room
	if hb, _ := r.Select("conf", "us"); hb.Bridge != "a" {
		t.Fatalf("second participant went to %s, want the conference's bridge a", hb.Bridge)
	}
	r.Placed("conf", "e2", "a")
	r.Gone("conf", "e1", "a")
	if hb, _ := r.Select("conf", "us"); hb.Bridge != "a" {
		t.Fatalf("with e2 still on a, the conference went to %s", hb.Bridge)
	}
	r.Gone("conf", "e2", "a")
	if hb, _ := r.Select("conf", "us"); hb.Bridge != "b" {
		t.Fatalf("an empty conference's next participant from us went to %s, want b", hb.Bridge)
	}
	r.Placed("conf", "e3", "b")
	r.Heard(Heartbeat{Bridge: "b", Region: "us", Draining: true})
	if hb, _ := r.Select("conf", "us"); hb.Bridge != "a" {
		t.Fatalf("the conference's bridge drains, got %s, want a", hb.Bridge)
	}
}

// A bridge is taken out once MissedAfter passed since its last heartbeat, not before; its
// conferences are free to go elsewhere.
func TestSweep(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	r := NewRegistry(clock.now)
	r.Heard(Heartbeat{Bridge: "a"})
	r.Heard(Heartbeat{Bridge: "b"})
	r.Select("conf", "")
	r.Placed("conf", "e1", "a")
	clock.advance(2 * time.Second)
	r.Heard(Heartbeat{Bridge: "b"})
	clock.advance(MissedAfter - 2*time.Second - time.Millisecond)
	if gone := r.Sweep(); len(gone) != 0 {
		t.Fatalf("swept %v before %v", gone, MissedAfter)
	}
	clock.advance(time.Millisecond)
	if gone := r.Sweep(); len(gone) != 1 || gone[0] != "a" {
		t.Fatalf("swept %v, want [a]", gone)
	}
	if _, ok := r.Lookup("a"); ok {
		t.Fatal("a still known")
	}
	if hb, _ := r.Select("conf", ""); hb.Bridge != "b" {
		t.Fatalf("the conference of a gone bridge went to %s, want b", hb.Bridge)
	}
}
