package promtext

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Histogram is a Prometheus histogram's cumulative buckets, for quantiles
// over a run: read it before and after, Sub, then Quantile.
type Histogram struct {
	Bounds []float64 // upper bounds (seconds), ascending, +Inf last
	Counts []float64 // cumulative counts
}

// Sub returns h − before (the same buckets).
func (h Histogram) Sub(before Histogram) (Histogram, error) {
	if len(h.Bounds) != len(before.Bounds) {
		return Histogram{}, fmt.Errorf("histogram buckets changed")
	}
	out := Histogram{Bounds: h.Bounds, Counts: make([]float64, len(h.Counts))}
	for i := range h.Counts {
		out.Counts[i] = h.Counts[i] - before.Counts[i]
	}
	return out, nil
}

// Count is the number of observations.
func (h Histogram) Count() float64 {
	if len(h.Counts) == 0 {
		return 0
	}
	return h.Counts[len(h.Counts)-1]
}

// Quantile interpolates linearly inside the bucket that holds quantile q, as
// Prometheus's histogram_quantile does; a quantile in the +Inf bucket
// reports the last finite bound.
func (h Histogram) Quantile(q float64) time.Duration {
	total := h.Count()
	if total == 0 {
		return 0
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for i, c := range h.Counts {
		if c >= rank {
			upper := h.Bounds[i]
			if math.IsInf(upper, 1) {
				return time.Duration(lower * float64(time.Second))
			}
			frac := 1.0
			if c > below {
				frac = (rank - below) / (c - below)
			}
			return time.Duration((lower + (upper-lower)*frac) * float64(time.Second))
		}
		lower, below = h.Bounds[i], c
	}
	return 0
}

// GetHistogram fetches url (a /metrics page) with c and reads the histogram
// name (without _bucket) from it.
func GetHistogram(c *http.Client, url, name string) (Histogram, error) {
	resp, err := c.Get(url)
	if err != nil {
		return Histogram{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Histogram{}, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return ParseHistogram(resp.Body, name)
}

// ParseHistogram reads the histogram name (without _bucket, one label set)
// from a text exposition.
func ParseHistogram(r io.Reader, name string) (Histogram, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return Histogram{}, err
	}
	f := families[name]
	if f == nil || len(f.GetMetric()) != 1 || f.GetMetric()[0].GetHistogram() == nil {
		return Histogram{}, fmt.Errorf("no histogram %s", name)
	}
	var h Histogram
	ph := f.GetMetric()[0].GetHistogram()
	for _, b := range ph.GetBucket() {
		h.Bounds = append(h.Bounds, b.GetUpperBound())
		h.Counts = append(h.Counts, float64(b.GetCumulativeCount()))
	}
	if n := len(h.Bounds); n == 0 || !math.IsInf(h.Bounds[n-1], 1) {
		h.Bounds = append(h.Bounds, math.Inf(1)) // the +Inf bucket is the sample count
		h.Counts = append(h.Counts, float64(ph.GetSampleCount()))
	}
	return h, nil
}
