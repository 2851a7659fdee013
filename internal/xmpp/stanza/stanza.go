package stanza

// Kinds of stanza (RFC 6120 §8).
const (
	Message  = "message"
	Presence = "presence"
	IQ       = "iq"
)

// IsStanza reports whether e is a message, presence or iq in jabber:client.
func IsStanza(e *Element) bool {
	if e.Name.Space != NSClient {
		return false
	}
	switch e.Name.Local {
	case Message, Presence, IQ:
		return true
	}
	return false
}

// Type returns the type attribute, with RFC 6121's defaults: messages default
// to "normal" and presences to "" (available).
func Type(e *Element) string {
	t := e.Get("type")
	if t == "" && e.Name.Local == Message {
		return "normal"
	}
	return t
}

// NewIQ builds an IQ of type typ with the given payload.
func NewIQ(typ, id, from, to string, payload *Element) *Element {
	iq := New(NSClient, IQ, "type", typ, "id", id)
	iq.Set("from", from).Set("to", to)
	if payload != nil {
		iq.Add(payload)
	}
	return iq
}

// Result builds the result for request iq, swapping from and to.
func Result(iq *Element, payload *Element) *Element {
	return NewIQ("result", iq.Get("id"), iq.Get("to"), iq.Get("from"), payload)
}

// ErrorReply builds the error response to a stanza, swapping from and to and
// keeping the original payload as RFC 6120 §8.3.1 allows for IQs. Returns nil
// for stanzas that must never be answered with an error (errors themselves).
func ErrorReply(s *Element, err *Error) *Element {
	if s.Get("type") == "error" {
		return nil
	}
	r := &Element{Name: s.Name}
	r.Set("type", "error")
	if id := s.Get("id"); id != "" {
		r.Set("id", id)
	}
	r.Set("from", s.Get("to")).Set("to", s.Get("from"))
	if s.Name.Local == IQ {
		if p := s.FirstChild(); p != nil && s.Get("type") != "result" {
			r.Add(p)
		}
	}
	r.Add(err.Element())
	return r
}

// ErrorOf extracts the stanza error carried by an error-type stanza.
func ErrorOf(s *Element) *Error {
	el := s.Child(NSClient, "error")
	if el == nil {
		return nil
	}
	e := &Error{Type: el.Get("type")}
	for _, c := range el.Children {
		if c.Name.Space != NSStanzas {
			e.Extra = append(e.Extra, c)
			continue
		}
		if c.Name.Local == "text" {
			e.Text = c.Text
		} else {
			e.Condition = c.Name.Local
		}
	}
	return e
}
