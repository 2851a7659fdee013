package cluster

import (
	"errors"
	"strings"
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

// A conference stays on its bridge while that bridge is there, has room and does not drain, for
// participants of no region or of a region without a bridge; a participant of another bridge's region
// goes there (the conference spans), and so does everyone once the conference's bridge is full. Once
// its last endpoint on a bridge left, the conference is free of that bridge.
func TestConferenceSpansBridges(t *testing.T) {
	r := NewRegistry(nil)
	r.Heard(Heartbeat{Bridge: "a", Region: "eu"})
	r.Heard(Heartbeat{Bridge: "b", Region: "us"})
	r.Heard(Heartbeat{Bridge: "c", Region: "us", CPU: 0.05})
	first, _ := r.Select("conf", "eu")
	if first.Bridge != "a" {
		t.Fatalf("first participant from eu went to %s, want a", first.Bridge)
	}
	r.Placed("conf", "e1", first.Bridge)
	r.Heard(Heartbeat{Bridge: "a", Region: "eu", CPU: 0.6}) // busier now, still room
	for _, region := range []string{"", "ap"} {
		if hb, _ := r.Select("conf", region); hb.Bridge != "a" {
			t.Fatalf("participant of region %q went to %s, want the conference's bridge a", region, hb.Bridge)
		}
	}
	if hb, _ := r.Select("conf", "us"); hb.Bridge != "b" {
		t.Fatalf("participant from us went to %s, want b, the least loaded in us", hb.Bridge)
	}
	r.Placed("conf", "e2", "c") // say it went to c after all
	r.Heard(Heartbeat{Bridge: "b", Region: "us"})
	if hb, _ := r.Select("conf", "us"); hb.Bridge != "c" {
		t.Fatalf("participant from us went to %s, want c, the conference's bridge in us", hb.Bridge)
	}
	r.Heard(Heartbeat{Bridge: "a", Region: "eu", CPU: 0.9}) // full
	if hb, _ := r.Select("conf", ""); hb.Bridge != "c" {
		t.Fatalf("with a full, a participant of no region went to %s, want c, the conference's other bridge", hb.Bridge)
	}
	r.Gone("conf", "e2", "c")
	if hb, _ := r.Select("conf", ""); hb.Bridge != "b" {
		t.Fatalf("with a full and c left, a participant of no region went to %s, want b", hb.Bridge)
	}
	r.Heard(Heartbeat{Bridge: "a", Region: "eu"})
	r.Heard(Heartbeat{Bridge: "a", Region: "eu", Draining: true})
	if hb, _ := r.Select("conf", "eu"); hb.Bridge == "a" {
		t.Fatal("a draining bridge got a participant")
	}
	r.Gone("conf", "e1", "a")
	r.Heard(Heartbeat{Bridge: "a", Region: "eu", CPU: 0.01})
	r.Heard(Heartbeat{Bridge: "b", Region: "us", CPU: 0.3})
	if hb, _ := r.Select("conf", ""); hb.Bridge != "a" {
		t.Fatalf("an empty conference's next participant went to %s, want the least loaded a", hb.Bridge)
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

// TURNFor hands a client the TURN servers of its region, the least loaded first; every one when its
// region has none; never a draining bridge's, one without TURN or one with another secret.
func TestTURNFor(t *testing.T) {
	turn := &TURN{Host: "h", SecretID: "s", Services: []TURNService{{Type: "turn", Port: 3478, Transport: "udp"}}}
	r := NewRegistry(nil)
	for _, hb := range []Heartbeat{
		{Bridge: "eu1", Region: "eu", CPU: 0.5, TURN: turn},
		{Bridge: "eu2", Region: "eu", CPU: 0.1, TURN: turn},
		{Bridge: "eu3", Region: "eu", TURN: turn, Draining: true},
		{Bridge: "eu4", Region: "eu"},
		{Bridge: "us1", Region: "us", CPU: 0.3, TURN: turn},
		{Bridge: "ap1", Region: "ap", TURN: &TURN{Host: "h", SecretID: "other", Services: turn.Services}},
	} {
		r.Heard(hb)
	}
	ids := func(hbs []Heartbeat) string {
		var s []string
		for _, hb := range hbs {
			s = append(s, hb.Bridge)
		}
		return strings.Join(s, ",")
	}
	for region, want := range map[string]string{"eu": "eu2,eu1", "us": "us1", "ap": "eu2,us1,eu1", "": "eu2,us1,eu1"} {
		if got := ids(r.TURNFor(region, "s")); got != want {
			t.Errorf("region %q: %s, want %s", region, got, want)
		}
	}
}

// A heartbeat's TURN is handed to clients only when every field is something a client can use.
func TestTURNValid(t *testing.T) {
	ok := func() *TURN {
		return &TURN{Host: "turn.example.org", SecretID: "abc", Services: []TURNService{{Type: "turn", Port: 3478, Transport: "udp"}, {Type: "turns", Port: 443, Transport: "tcp"}}}
	}
	if !ok().valid() {
		t.Fatal("a good TURN is refused")
	}
	for name, edit := range map[string]func(*TURN){
		"host with a space": func(t *TURN) { t.Host = "a b" },
		"host with a slash": func(t *TURN) { t.Host = "a/b" },
		"no host":           func(t *TURN) { t.Host = "" },
		"no secret ID":      func(t *TURN) { t.SecretID = "" },
		"no services":       func(t *TURN) { t.Services = nil },
		"port 0":            func(t *TURN) { t.Services[0].Port = 0 },
		"port 70000":        func(t *TURN) { t.Services[0].Port = 70000 },
		"unknown type":      func(t *TURN) { t.Services[0].Type = "http" },
		"unknown transport": func(t *TURN) { t.Services[0].Transport = "sctp" },
		"too many services": func(t *TURN) {
			for range maxTURNServices {
				t.Services = append(t.Services, t.Services[0])
			}
		},
	} {
		tr := ok()
		edit(tr)
		if tr.valid() {
			t.Errorf("%s: accepted", name)
		}
	}
	if tr := ok(); func() bool { tr.Host = "2001:db8::1"; return !tr.valid() }() {
		t.Error("an IPv6 host is refused")
	}
}
