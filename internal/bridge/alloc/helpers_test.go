package alloc

import (
	"fmt"
	"strings"
)

// The layers of Jitsi's BitrateControllerTest: LD 180p 150 kbit/s, SD 360p 500 kbit/s, HD 720p
// 2 Mbit/s, each at 30 fps, and in the per-temporal-layer variant 7.5/15/30 fps at 0.33/0.66/1.0 of it.
var (
	ladderHeights = [3]int{180, 360, 720}
	ladderBps     = [3]int64{150_000, 500_000, 2_000_000}
	temporalFPS   = [3]float64{7.5, 15, 30}
	temporalShare = [3]float64{0.33, 0.66, 1.0}
)

// ladder returns active layers for one source: one per encoding at full frame rate (what the bridge
// can forward today), or, with perTID, one per encoding and temporal layer. fps scales the frame rates
// (a screen share at 5 fps passes 5.0/30).
func ladder(perTID bool, fpsScale float64) []Layer {
	var ls []Layer
	for e := range 3 {
		if !perTID {
			ls = append(ls, Layer{Encoding: e, Temporal: 2, Height: ladderHeights[e], FPS: 30 * fpsScale, Bps: ladderBps[e], Active: true})
			continue
		}
		for t := range 3 {
			ls = append(ls, Layer{Encoding: e, Temporal: t, Height: ladderHeights[e], FPS: temporalFPS[t] * fpsScale,
				Bps: int64(float64(ladderBps[e]) * temporalShare[t]), Active: true})
		}
	}
	return ls
}

// cameras returns sources "A", "B", … owned by endpoints "a", "b", ….
func cameras(n int, perTID bool) []Source {
	src := make([]Source, n)
	for i := range src {
		src[i] = Source{ID: string(rune('A' + i)), Owner: string(rune('a' + i)), Layers: ladder(perTID, 1)}
	}
	return src
}

// layerName is Jitsi's short name for a layer: LD30, SD7.5, HD15.
func layerName(l Layer) string {
	q := map[int]string{180: "LD", 360: "SD", 720: "HD"}[l.Height]
	if q == "" {
		q = fmt.Sprint(l.Height, "p")
	}
	return fmt.Sprint(q, l.FPS)
}

// describe renders r compactly ("A:SD30 B:LD30"), sources in input order, those without a target left out.
func describe(src []Source, r *Result) string {
	var b strings.Builder
	for i, a := range r.Sources {
		if a.Target < 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s:%s", a.ID, layerName(src[i].Layers[a.Target]))
	}
	return b.String()
}

// target returns the layer source i targets, ok false for none.
func target(src []Source, r *Result, i int) (Layer, bool) {
	if t := r.Sources[i].Target; t >= 0 {
		return src[i].Layers[t], true
	}
	return Layer{}, false
}

// atLeast reports whether source i targets a layer at least h high at fps frames per second.
func atLeast(src []Source, r *Result, i, h int, fps float64) bool {
	l, ok := target(src, r, i)
	return ok && l.Height >= h && l.FPS >= fps
}
