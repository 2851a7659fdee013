package promtext

import (
	"strings"
	"testing"
	"time"
)

func TestHistogramQuantiles(t *testing.T) {
	const text = `# HELP parley_bridge_forward_delay_seconds x
# TYPE parley_bridge_forward_delay_seconds histogram
parley_bridge_forward_delay_seconds_bucket{le="1e-05"} 10
parley_bridge_forward_delay_seconds_bucket{le="2e-05"} 60
parley_bridge_forward_delay_seconds_bucket{le="0.0001"} 99
parley_bridge_forward_delay_seconds_bucket{le="+Inf"} 100
parley_bridge_forward_delay_seconds_sum 0.01
parley_bridge_forward_delay_seconds_count 100
`
	h, err := ParseHistogram(strings.NewReader(text), "parley_bridge_forward_delay_seconds")
	if err != nil {
		t.Fatal(err)
	}
	before := Histogram{Bounds: h.Bounds, Counts: []float64{0, 0, 0, 0}}
	d, err := h.Sub(before)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{
		{0.05, 5 * time.Microsecond},   // half-way through the first bucket
		{0.5, 18 * time.Microsecond},   // 40 of the 50 in (10 µs, 20 µs]
		{0.99, 100 * time.Microsecond}, // top of (20 µs, 100 µs]
		{1, 100 * time.Microsecond},    // +Inf reports the last finite bound
	} {
		if got := d.Quantile(c.q); got != c.want {
			t.Errorf("q%.2f = %v, want %v", c.q, got, c.want)
		}
	}
}
