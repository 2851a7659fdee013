package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/internal/xmpp/xmpptest"
)

// TestSmallClass runs a teacher and three students against an in-process
// server for a few seconds: every student decodes the teacher on stage
// taller than the thumbnails, the teacher sees every student, and the
// students send only the layer anyone asks for of them.
func TestSmallClass(t *testing.T) {
	if testing.Short() {
		t.Skip("runs four bots for a quarter of a minute")
	}
	srv := xmpptest.Start(t, nil)
	o := Options{Server: "https://" + srv.HTTP, Students: 3, LastN: -1, ThumbHeight: 180, ThumbFPS: 15, Speakers: 2,
		Duration: 3 * time.Second, JoinGap: 50 * time.Millisecond, Log: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := Measure(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res.print(&out)
	t.Logf("\n%s", out.String())
	if len(res.Receivers) != 4 || res.SentPPS == 0 || !strings.Contains(out.String(), "stage: ") {
		t.Fatalf("%d receivers, %.0f packets/s", len(res.Receivers), res.SentPPS)
	}
	if res.Allocs == 0 || res.AllocP99 <= 0 {
		t.Errorf("no allocation times from the bridge (parley_bridge_allocation_seconds): %d allocations", int(res.Allocs))
	}
	teacher := res.Receivers[0]
	if teacher.Thumbnails != 3 || teacher.StageFrames != 0 {
		t.Errorf("teacher received %d thumbnails (want 3) and %d stage frames (want none): %+v", teacher.Thumbnails, teacher.StageFrames, teacher)
	}
	for _, r := range res.Receivers[1:] {
		if r.StageFrames == 0 || r.StageHeight <= 180 || r.Thumbnails != 2 {
			t.Errorf("student %s: %d stage frames at %dp, %d thumbnails; want the teacher taller than 180p and 2 thumbnails", r.Endpoint, r.StageFrames, r.StageHeight, r.Thumbnails)
		}
		// Thumbnails at 15 fps: about half the stage's frames each.
		if per := float64(r.ThumbFrames) / float64(r.Thumbnails); per > 0.7*float64(r.StageFrames) || per < 0.3*float64(r.StageFrames) {
			t.Errorf("student %s: %.0f frames per thumbnail beside %d of the stage; want about half", r.Endpoint, per, r.StageFrames)
		}
	}
	for _, rep := range res.Reports[1:] {
		for _, e := range rep.Sent.Encodings {
			if e.Active && e.Height > 180 {
				t.Errorf("student %s sends its %dp layer, which nobody asks for", rep.Endpoint, e.Height)
			}
		}
		for ep, r := range rep.Received {
			for name, s := range r.Sources {
				if s.Video != nil && s.Video.Height > 180 && ep != res.Reports[0].Endpoint {
					t.Errorf("student %s gets %s at %dp as a thumbnail", rep.Endpoint, name, s.Video.Height)
				}
			}
		}
	}
}
