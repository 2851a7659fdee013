package bot

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/parley-im/parley/internal/testmedia"
)

// TestActiveLayers: SenderSourceConstraints' maxHeight picks the encodings
// no taller than it; 0 none, -1 all, and the lowest when every one is
// taller (a receiver that wants less than the lowest still gets video).
func TestActiveLayers(t *testing.T) {
	heights := [3]int{180, 360, 720}
	for _, c := range []struct {
		max  int
		want [3]bool
	}{
		{-1, [3]bool{true, true, true}},
		{0, [3]bool{}},
		{90, [3]bool{true, false, false}},
		{180, [3]bool{true, false, false}},
		{359, [3]bool{true, false, false}},
		{360, [3]bool{true, true, false}},
		{720, [3]bool{true, true, true}},
		{1080, [3]bool{true, true, true}},
	} {
		if got := activeLayers(c.max, heights); got != c.want {
			t.Errorf("activeLayers(%d) = %v, want %v", c.max, got, c.want)
		}
	}
}

// TestCameraRestartsWithKeyFrame: an encoding that starts again (maxHeight
// rose) is reported as restarted, once; one that stops is not.
func TestCameraRestartsWithKeyFrame(t *testing.T) {
	fx, err := testmedia.Load()
	if err != nil {
		t.Fatal(err)
	}
	c := newCamera(fx)
	if c.heights != [3]int{180, 360, 720} {
		t.Fatalf("fixture heights %v", c.heights)
	}
	steps := []struct {
		max       int
		restarted bool
	}{{-1, true}, {-1, false}, {180, false}, {0, false}, {180, true}, {720, true}, {720, false}}
	for i, s := range steps {
		c.setMaxHeight(s.max)
		if _, r := c.nextLayers(); r != s.restarted {
			t.Errorf("step %d (max %d): restarted %v", i, s.max, r)
		}
	}
	if got := keyFrameFrom(fx.KeyFrames, 0); got != 0 {
		t.Errorf("keyFrameFrom(0) = %d", got)
	}
	if got := keyFrameFrom(fx.KeyFrames, 1); got != fx.KeyFrames[1] {
		t.Errorf("keyFrameFrom(1) = %d", got)
	}
	if got := keyFrameFrom(fx.KeyFrames, len(fx.Layers[0])-1); got != 0 {
		t.Errorf("keyFrameFrom(last) = %d, want a wrap to 0", got)
	}
}

// TestConstraintsMessage: the ReceiverVideoConstraints carries every field,
// so that a later one clears a stage; an endpoint on stage is its camera.
func TestConstraintsMessage(t *testing.T) {
	for _, c := range []struct {
		c    Constraints
		want string
	}{
		{DefaultConstraints(), `{"colibriClass":"ReceiverVideoConstraints","lastN":-1,"onStageSources":[],"defaultConstraints":{"maxHeight":720,"maxFrameRate":-1},"constraints":{}}`},
		{Constraints{MaxHeight: 180, LastN: 2, Stage: "77aa01bc"}, `{"colibriClass":"ReceiverVideoConstraints","lastN":2,"onStageSources":["77aa01bc-v0"],"defaultConstraints":{"maxHeight":180,"maxFrameRate":-1},"constraints":{"77aa01bc-v0":{"maxHeight":-1,"maxFrameRate":-1}}}`},
		{Constraints{MaxHeight: 0, LastN: -1, Stage: "77aa01bc-v1"}, `{"colibriClass":"ReceiverVideoConstraints","lastN":-1,"onStageSources":["77aa01bc-v1"],"defaultConstraints":{"maxHeight":0,"maxFrameRate":-1},"constraints":{"77aa01bc-v1":{"maxHeight":-1,"maxFrameRate":-1}}}`},
		{Constraints{MaxHeight: 180, LastN: -1, MaxFrameRate: 15}, `{"colibriClass":"ReceiverVideoConstraints","lastN":-1,"onStageSources":[],"defaultConstraints":{"maxHeight":180,"maxFrameRate":15},"constraints":{}}`},
	} {
		var got, want any
		json.Unmarshal(c.c.message(), &got)
		json.Unmarshal([]byte(c.want), &want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%+v: %s\nwant %s", c.c, c.c.message(), c.want)
		}
	}
	if err := (Constraints{MaxHeight: -2, LastN: -1}).Validate(); !errors.Is(err, ErrMaxHeight) {
		t.Errorf("max height -2: %v", err)
	}
	if err := (Constraints{MaxHeight: 180, LastN: -3}).Validate(); !errors.Is(err, ErrLastN) {
		t.Errorf("last-n -3: %v", err)
	}
	if err := (Constraints{MaxHeight: 180, LastN: -1, MaxFrameRate: -15}).Validate(); !errors.Is(err, ErrFrameRate) {
		t.Errorf("negative frame rate: %v", err)
	}
	if err := (Constraints{MaxHeight: 0, LastN: 0}).Validate(); err != nil {
		t.Errorf("no video at all: %v", err)
	}
}
