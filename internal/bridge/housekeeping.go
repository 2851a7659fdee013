package bridge

import (
	"strconv"
	"time"
)

// housekeeping runs on the bridge's housekeeping goroutine for each conference: connect timeouts,
// receiver reports toward senders (about once a second), connectivity status events (an endpoint that
// sent media and then went quiet for InactiveAfter is announced inactive, and active again when it
// resumes), the dominant speaker decision (speaker.go), what relays remember of video streams that
// are gone, and the relays' round trips (relaynack.go).
func (c *Conference) housekeeping(now time.Time) {
	members := c.members()
	var changed []*Endpoint
	for _, e := range members {
		if !e.connected.Load() {
			if now.Sub(e.created) > c.b.cfg.ConnectTimeout {
				e.expire("not connected within " + c.b.cfg.ConnectTimeout.String())
			}
			continue
		}
		if now.Sub(e.lastRR) >= time.Second {
			e.lastRR = now
			e.sendReceiverReports(now)
		}
		last := e.lastMedia.Load()
		if last == 0 {
			continue
		}
		active := now.UnixNano()-last < int64(c.b.cfg.InactiveAfter)
		if !e.hadMedia {
			e.hadMedia, e.statusActive = true, true
			continue
		}
		if active != e.statusActive {
			e.statusActive = active
			changed = append(changed, e)
		}
	}
	for _, e := range changed {
		msg := connectivityStatus{Class: classConnectivityStatus, Endpoint: e.id, Active: strconv.FormatBool(e.statusActive)}
		for _, r := range members {
			if r != e {
				r.ch.sendJSON(msg)
			}
		}
	}
	c.decideSpeaker(now, members)
	c.pruneRelayStreams()
	c.relayRTTs()
	c.mu.Lock()
	if c.senderLowering {
		c.senderConstraintsLocked(now.UnixNano())
	}
	c.mu.Unlock()
}
