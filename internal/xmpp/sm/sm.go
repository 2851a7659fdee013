// Package sm implements the bookkeeping of XEP-0198 Stream Management: the
// counters of handled stanzas and the queue of stanzas sent but not yet
// acknowledged, which is resent when a client resumes its stream.
//
// Flow: after binding, the client sends <enable resume='true'/>; the server
// answers <enabled id=… resume='true' max=…/>. Either side asks <r/> and the
// other answers <a h=…/> with the number of stanzas it has handled (mod 2^32).
// After a broken connection the client opens a new stream, authenticates and
// sends <resume previd=… h=…/>; the server answers <resumed previd=… h=…/>
// and resends every stanza after h.
package sm

import (
	"errors"
	"strconv"

	"github.com/parley-im/parley/internal/xmpp/stanza"
)

// NS is the XEP-0198 namespace.
const NS = "urn:xmpp:sm:3"

// ErrHandledTooHigh means the peer acknowledged stanzas never sent.
var ErrHandledTooHigh = errors.New("handled count too high")

// Item is one unacknowledged stanza: the element (to bounce it if the
// session ends) and its serialised bytes (to resend it).
type Item struct {
	El    *stanza.Element
	Bytes []byte
}

// Queue holds stanzas sent and not yet acknowledged. It is not safe for
// concurrent use; its owner (the session) locks around it.
type Queue struct {
	items []Item
	acked uint32 // h the peer last acknowledged
}

// Push appends a sent stanza.
func (q *Queue) Push(it Item) { q.items = append(q.items, it) }

// Len is the number of unacknowledged stanzas.
func (q *Queue) Len() int { return len(q.items) }

// Sent is the number of stanzas sent so far, mod 2^32.
func (q *Queue) Sent() uint32 { return q.acked + uint32(len(q.items)) }

// Ack drops the stanzas the peer acknowledges with h.
func (q *Queue) Ack(h uint32) error {
	n := h - q.acked // wraps correctly mod 2^32
	if int64(n) > int64(len(q.items)) {
		return ErrHandledTooHigh
	}
	clear(q.items[:n])
	q.items = q.items[n:]
	q.acked = h
	return nil
}

// Drain empties the queue and returns what was in it.
func (q *Queue) Drain() []Item {
	out := q.items
	q.items = nil
	return out
}

// Items returns the unacknowledged stanzas in order (shared, not copied).
func (q *Queue) Items() []Item { return q.items }

// Enabled builds <enabled/>.
func Enabled(id string, max int) *stanza.Element {
	e := stanza.New(NS, "enabled")
	if id != "" {
		e.Set("id", id).Set("resume", "true").Set("max", strconv.Itoa(max))
	}
	return e
}

// Ack builds <a h=…/>.
func AckElement(h uint32) *stanza.Element {
	return stanza.New(NS, "a", "h", strconv.FormatUint(uint64(h), 10))
}

// Request is the serialised <r/>.
var Request = []byte(`<r xmlns='urn:xmpp:sm:3'/>`)

// Resumed builds <resumed/>.
func Resumed(previd string, h uint32) *stanza.Element {
	return stanza.New(NS, "resumed", "previd", previd, "h", strconv.FormatUint(uint64(h), 10))
}

// Failed builds <failed/> with a stanza error condition and, when known, h.
func Failed(condition string, h *uint32) *stanza.Element {
	e := stanza.New(NS, "failed")
	if h != nil {
		e.Set("h", strconv.FormatUint(uint64(*h), 10))
	}
	return e.Add(stanza.New(stanza.NSStanzas, condition))
}

// ParseH parses an h attribute.
func ParseH(s string) (uint32, error) {
	v, err := strconv.ParseUint(s, 10, 32)
	return uint32(v), err
}
