package bridge

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"

	"github.com/coder/websocket"
	"github.com/pion/datachannel"
	"github.com/pion/dtls/v3"
	"github.com/pion/sctp"

	"github.com/parley-im/parley/internal/pionlog"
)

// The bridge channel over SCTP (dialect §6.1, which LJM prefers): an SCTP association (RFC 8261) over
// the endpoint's DTLS connection, port 5000 in the offer's m=application line, and one data channel that
// the client opens in band (DCEP, RFC 8832: label "JVB data channel", protocol
// "http://jitsi.org/protocols/colibri"). Messages are the same JSON text as on the WebSocket and go
// through the same handlers; attaching the data channel replaces a WebSocket and the other way round.
// A second data channel while one is open is closed at once, a message over channelReadLimit closes the
// channel (threats §5.1 item 26).

// dcMaxBuffered is how many bytes may wait in SCTP toward a client before it counts as not reading.
const dcMaxBuffered = 1 << 20

// serveSCTP runs the endpoint's SCTP association until the DTLS connection ends. It owns all reads of
// dconn (the association's read loop), so its return is how the endpoint learns that DTLS closed.
func (e *Endpoint) serveSCTP(dconn *dtls.Conn) error {
	assoc, err := sctp.ServerWithOptions(
		sctp.WithNetConn(dconn),
		sctp.WithLoggerFactory(pionlog.New(e.log)),
		sctp.WithMaxReceiveBufferSize(4*channelReadLimit),
		sctp.WithMaxMessageSize(channelReadLimit),
	)
	if err != nil {
		return err // DTLS closed before (or without) SCTP
	}
	defer assoc.Close()
	var open atomic.Bool // a data channel is being served
	for {
		dc, err := datachannel.Accept(assoc, &datachannel.Config{LoggerFactory: pionlog.New(e.log)})
		if errors.Is(err, io.EOF) {
			return err // the association ended
		}
		if err != nil {
			e.log.Debug("bridge channel: data channel refused", "err", err) // no valid DATA_CHANNEL_OPEN
			continue
		}
		if !open.CompareAndSwap(false, true) {
			e.log.Debug("bridge channel: second data channel refused")
			_ = dc.Close()
			continue
		}
		c := &dcConn{dc: dc, out: make(chan []byte, channelQueue), done: make(chan struct{}), stopped: make(chan struct{})}
		e.b.wg.Add(1)
		go func() {
			defer e.b.wg.Done()
			e.serveDataChannel(c)
			open.Store(false)
		}()
	}
}

// serveDataChannel reads one data channel until it closes.
func (e *Endpoint) serveDataChannel(c *dcConn) {
	go c.writeLoop()
	if old := e.ch.attach(c); old != nil {
		old.close(websocket.StatusNormalClosure, "replaced")
	}
	e.onChannelOpen(c)
	buf := make([]byte, channelReadLimit)
	for {
		n, isString, err := c.dc.ReadDataChannel(buf)
		if err != nil {
			break // closed, or a message larger than buf (io.ErrShortBuffer)
		}
		if isString {
			e.onChannelMessage(buf[:n])
		}
	}
	e.ch.detach(c)
	c.close(websocket.StatusNormalClosure, "")
	<-c.stopped
}

// dcConn is the bridge channel over one data channel: a writer goroutine fed by a bounded queue, like
// wsConn.
type dcConn struct {
	dc      *datachannel.DataChannel
	out     chan []byte
	done    chan struct{} // closed by close
	once    sync.Once
	stopped chan struct{}
}

func (c *dcConn) writeLoop() {
	defer close(c.stopped)
	for {
		select {
		case msg := <-c.out:
			if c.dc.BufferedAmount() > dcMaxBuffered {
				c.close(websocket.StatusPolicyViolation, "too slow")
				continue
			}
			if _, err := c.dc.WriteDataChannel(msg, true); err != nil {
				c.close(websocket.StatusGoingAway, "write failed")
			}
		case <-c.done:
			_ = c.dc.Close()
			return
		}
	}
}

func (c *dcConn) send(msg []byte) {
	select {
	case c.out <- msg:
	case <-c.done:
	default:
		c.close(websocket.StatusPolicyViolation, "too slow")
	}
}

func (c *dcConn) close(websocket.StatusCode, string) { c.once.Do(func() { close(c.done) }) }
