package sm

import (
	"errors"
	"math"
	"testing"

	"github.com/parley-im/parley/internal/xmpp/stanza"
)

func TestQueueAckAndWrap(t *testing.T) {
	var q Queue
	q.acked = math.MaxUint32 - 1 // counters wrap at 2^32 (XEP-0198 §5)
	for range 4 {
		q.Push(Item{El: stanza.New(stanza.NSClient, "message")})
	}
	if q.Sent() != 2 || q.Len() != 4 {
		t.Fatalf("sent %d len %d", q.Sent(), q.Len())
	}
	if err := q.Ack(0); err != nil || q.Len() != 2 {
		t.Fatalf("ack across the wrap: %v, %d left", err, q.Len())
	}
	if err := q.Ack(3); !errors.Is(err, ErrHandledTooHigh) || q.Len() != 2 {
		t.Fatalf("ack beyond sent: %v", err)
	}
	if err := q.Ack(2); err != nil || q.Len() != 0 {
		t.Fatal(err)
	}
	if len(q.Drain()) != 0 {
		t.Fatal("drain")
	}
}
