package main

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The SFU's own share of the latency, where the SFU measures it: Parley's bridge observes, for every
// forwarded RTP packet, the time from reading it off the socket to handing its copies to sendmmsg
// (parley_bridge_forward_delay_seconds). The tool reads that histogram before and after the window and
// takes quantiles of the difference.

// delayReporter is a target that measures its own added latency.
type delayReporter interface {
	forwardDelay() (histogram, error)
}

// histogram is a Prometheus histogram's cumulative buckets.
type histogram struct {
	bounds []float64 // upper bounds (seconds), ascending, +Inf last
	counts []float64 // cumulative counts
}

// sub returns h − before (the same buckets).
func (h histogram) sub(before histogram) (histogram, error) {
	if len(h.bounds) != len(before.bounds) {
		return histogram{}, fmt.Errorf("histogram buckets changed")
	}
	out := histogram{bounds: h.bounds, counts: make([]float64, len(h.counts))}
	for i := range h.counts {
		out.counts[i] = h.counts[i] - before.counts[i]
	}
	return out, nil
}

func (h histogram) count() float64 {
	if len(h.counts) == 0 {
		return 0
	}
	return h.counts[len(h.counts)-1]
}

// quantile interpolates linearly inside the bucket that holds quantile q, as Prometheus's
// histogram_quantile does; a quantile in the +Inf bucket reports the last finite bound.
func (h histogram) quantile(q float64) time.Duration {
	total := h.count()
	if total == 0 {
		return 0
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for i, c := range h.counts {
		if c >= rank {
			upper := h.bounds[i]
			if math.IsInf(upper, 1) {
				return time.Duration(lower * float64(time.Second))
			}
			frac := 1.0
			if c > below {
				frac = (rank - below) / (c - below)
			}
			return time.Duration((lower + (upper-lower)*frac) * float64(time.Second))
		}
		lower, below = h.bounds[i], c
	}
	return 0
}

// scrapeHistogram reads one histogram (name without _bucket) from a Prometheus text exposition.
func scrapeHistogram(url, name string) (histogram, error) {
	resp, err := http.Get(url)
	if err != nil {
		return histogram{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return histogram{}, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return parseHistogram(resp.Body, name)
}

func parseHistogram(r io.Reader, name string) (histogram, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return histogram{}, err
	}
	f := families[name]
	if f == nil || len(f.GetMetric()) != 1 || f.GetMetric()[0].GetHistogram() == nil {
		return histogram{}, fmt.Errorf("no histogram %s", name)
	}
	var h histogram
	ph := f.GetMetric()[0].GetHistogram()
	for _, b := range ph.GetBucket() {
		h.bounds = append(h.bounds, b.GetUpperBound())
		h.counts = append(h.counts, float64(b.GetCumulativeCount()))
	}
	if n := len(h.bounds); n == 0 || !math.IsInf(h.bounds[n-1], 1) {
		h.bounds = append(h.bounds, math.Inf(1)) // the +Inf bucket is the sample count
		h.counts = append(h.counts, float64(ph.GetSampleCount()))
	}
	return h, nil
}
