package jingle

import (
	"strconv"
	"strings"
)

// SDP renders c as the value of an SDP candidate attribute, "candidate:…" (RFC 8839 §5.1), as used
// in a=candidate lines (without "a=") and in trickled RTCIceCandidate strings.
func (c Candidate) SDP() string {
	var b strings.Builder
	b.WriteString("candidate:")
	b.WriteString(c.Foundation)
	for _, f := range []string{strconv.Itoa(c.Component), strings.ToLower(c.Protocol),
		strconv.FormatUint(uint64(c.Priority), 10), c.IP, strconv.Itoa(c.Port), "typ", c.Type} {
		b.WriteByte(' ')
		b.WriteString(f)
	}
	if c.RelAddr != "" {
		b.WriteString(" raddr " + c.RelAddr + " rport " + strconv.Itoa(c.RelPort))
	}
	if c.TCPType != "" {
		b.WriteString(" tcptype " + c.TCPType)
	}
	b.WriteString(" generation " + strconv.Itoa(c.Generation))
	if c.Network != 0 {
		b.WriteString(" network-id " + strconv.Itoa(c.Network))
	}
	return b.String()
}

// ParseCandidate reads an SDP candidate ("candidate:…", with or without "a=") into a Candidate and
// validates it. Extensions other than raddr, rport, tcptype, generation and network-id are ignored;
// the Jingle id is left empty.
func ParseCandidate(s string) (Candidate, error) {
	s = strings.TrimPrefix(s, "a=")
	s = strings.TrimPrefix(s, "candidate:")
	f := strings.Fields(s)
	var c Candidate
	if len(s) > 1024 || len(f) < 8 || f[6] != "typ" || len(f)%2 != 0 {
		return c, refuse("malformed candidate")
	}
	num := func(v string, max uint64) (int, error) {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n > max {
			return 0, refuse("malformed candidate number %.16q", v)
		}
		return int(n), nil
	}
	var err error
	c.Foundation = f[0]
	if c.Component, err = num(f[1], 256); err != nil {
		return c, err
	}
	c.Protocol = strings.ToLower(f[2])
	prio, err := num(f[3], 1<<32-1)
	if err != nil {
		return c, err
	}
	c.Priority = uint32(prio)
	c.IP = f[4]
	if c.Port, err = num(f[5], 65535); err != nil {
		return c, err
	}
	c.Type = f[7]
	for i := 8; i+1 < len(f); i += 2 {
		v := f[i+1]
		switch f[i] {
		case "raddr":
			c.RelAddr = v
		case "rport":
			c.RelPort, err = num(v, 65535)
		case "tcptype":
			c.TCPType = v
		case "generation":
			c.Generation, err = num(v, 1<<16)
		case "network-id":
			c.Network, err = num(v, 1<<16)
		}
		if err != nil {
			return c, err
		}
	}
	if c.RelAddr == "" {
		c.RelPort = 0
	}
	if err := c.Validate(); err != nil {
		return c, err
	}
	return c, nil
}
