package alloc

// window is the mean of the estimates seen over the last span, kept in buckets so that adding one
// allocates nothing. The Allocator moves sources up against this mean rather than against the latest
// estimate: a single high sample of a noisy estimator cannot buy a layer that the next low one takes
// away again.
type window struct {
	width   int64 // bucket width in ns; span = width × windowBuckets
	buckets [2 * windowBuckets]bucket
}

// windowBuckets is how many buckets make the span.
const windowBuckets = 8

type bucket struct {
	idx int64 // which bucket of time (now / width) this one holds; 0 and n 0 for unused
	sum float64
	n   int
}

// add records estimate bwe at time now.
func (w *window) add(bwe, now int64) {
	if w.width <= 0 {
		return
	}
	idx := now / w.width
	b := &w.buckets[uint64(idx)%uint64(len(w.buckets))]
	if b.idx != idx || b.n == 0 {
		*b = bucket{idx: idx}
	}
	b.sum += float64(bwe)
	b.n++
}

// mean is the mean estimate over the span ending at now, ok false when none was recorded.
func (w *window) mean(now int64) (mean float64, ok bool) {
	if w.width <= 0 {
		return 0, false
	}
	idx := now / w.width
	var sum float64
	n := 0
	for i := range w.buckets {
		if b := &w.buckets[i]; b.n > 0 && b.idx <= idx && b.idx > idx-windowBuckets {
			sum += b.sum
			n += b.n
		}
	}
	if n == 0 {
		return 0, false
	}
	return sum / float64(n), true
}

// reset forgets every estimate (the estimate became untrusted).
func (w *window) reset() { w.buckets = [len(w.buckets)]bucket{} }
