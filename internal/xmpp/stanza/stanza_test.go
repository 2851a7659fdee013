package stanza

import (
	"encoding/xml"
	"testing"
)

func TestSerialise(t *testing.T) {
	e := New(NSClient, "message", "to", `a"b'<&>`, "type", "chat")
	e.Attr = append(e.Attr, xmlLang("en"))
	e.Add(New(NSClient, "body").SetText("1 < 2 & \"q\"\r\n"), New("urn:x", "x").Add(New("urn:x", "y")))
	want := `<message xmlns="jabber:client" to="a&quot;b&apos;&lt;&amp;&gt;" type="chat" xml:lang="en">` +
		`<body>1 &lt; 2 &amp; &quot;q&quot;&#xD;` + "\n" + `</body><x xmlns="urn:x"><y/></x></message>`
	if got := e.String(); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if string(e.AppendTo(nil)) != want {
		t.Fatal("AppendTo differs")
	}
}

func TestErrorReply(t *testing.T) {
	iq := NewIQ("get", "1", "a@x/r", "b@x", New("urn:q", "query"))
	r := ErrorReply(iq, ErrItemNotFound.WithText("nope"))
	if r.Get("from") != "b@x" || r.Get("to") != "a@x/r" || r.Get("type") != "error" || r.Child("urn:q", "query") == nil {
		t.Fatalf("reply %s", r)
	}
	se := ErrorOf(r)
	if se.Condition != "item-not-found" || se.Type != Cancel || se.Text != "nope" {
		t.Fatalf("parsed %+v", se)
	}
	if ErrorReply(r, ErrBadRequest) != nil {
		t.Fatal("an error was answered with an error")
	}
	if Type(New(NSClient, "message")) != "normal" {
		t.Fatal("message type default")
	}
}

func xmlLang(v string) xml.Attr {
	return xml.Attr{Name: xml.Name{Space: NSXML, Local: "lang"}, Value: v}
}
