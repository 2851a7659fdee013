package stream

import "encoding/xml"

// nsStack resolves prefixes; each open element pushes one frame of bindings.
type nsStack struct {
	frames [][]binding
}

type binding struct{ prefix, ns string }

func (s *nsStack) push(attrs []xml.Attr) error {
	var f []binding
	for _, a := range attrs {
		switch {
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			f = append(f, binding{"", a.Value})
		case a.Name.Space == "xmlns":
			p := a.Name.Local
			switch {
			case p == "xmlns":
				return ErrBadNamespacePrefix.WithText("the xmlns prefix cannot be declared")
			case p == "xml" && a.Value != NSXMLSpace:
				return ErrBadNamespacePrefix.WithText("the xml prefix cannot be rebound")
			case a.Value == "":
				return ErrBadNamespacePrefix.WithText("a prefix cannot be unbound")
			}
			f = append(f, binding{p, a.Value})
		}
	}
	for i := range f {
		for j := i + 1; j < len(f); j++ {
			if f[i].prefix == f[j].prefix {
				return ErrNotWellFormed.WithText("duplicate namespace declaration")
			}
		}
	}
	s.frames = append(s.frames, f)
	return nil
}

func (s *nsStack) pop() { s.frames = s.frames[:len(s.frames)-1] }

// NSXMLSpace is the namespace the xml prefix is always bound to.
const NSXMLSpace = "http://www.w3.org/XML/1998/namespace"

func (s *nsStack) lookup(prefix string) string {
	if prefix == "xml" {
		return NSXMLSpace
	}
	for i := len(s.frames) - 1; i >= 0; i-- {
		for _, b := range s.frames[i] {
			if b.prefix == prefix {
				return b.ns
			}
		}
	}
	return ""
}

func (s *nsStack) bound(prefix string) bool {
	if prefix == "xml" {
		return true
	}
	for i := len(s.frames) - 1; i >= 0; i-- {
		for _, b := range s.frames[i] {
			if b.prefix == prefix {
				return true
			}
		}
	}
	return false
}

func (s *nsStack) resolveElement(prefix string) (string, error) {
	if prefix != "" && !s.bound(prefix) {
		return "", ErrBadNamespacePrefix.WithText("unbound prefix %q", prefix)
	}
	return s.lookup(prefix), nil
}

// resolveAttr resolves an attribute prefix: unprefixed attributes are in no
// namespace (not the default one).
func (s *nsStack) resolveAttr(prefix string) (string, error) {
	if prefix == "" {
		return "", nil
	}
	if !s.bound(prefix) {
		return "", ErrBadNamespacePrefix.WithText("unbound prefix %q", prefix)
	}
	return s.lookup(prefix), nil
}
