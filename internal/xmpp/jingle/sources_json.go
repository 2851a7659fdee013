package jingle

import (
	"encoding/json"
	"sort"
)

// Jitsi's compact source encoding (jitsi-dialect.md §5.3), used instead of <source/> elements for
// clients that advertise http://jitsi.org/json-encoded-sources:
//
//	{"sources": {"<owner>": [videoSources, videoGroups, audioSources, audioGroups]}}
//
// with a source {"s": ssrc, "n": name, "m": msid, "v": "d"} ("v" only for desktop video) and a group
// ["s"|"f", ssrc, …] (SIM or FID). Trailing empty arrays may be left out.

type jsonSource struct {
	SSRC uint32 `json:"s"`
	Name string `json:"n,omitempty"`
	MSID string `json:"m,omitempty"`
	Type string `json:"v,omitempty"`
}

type jsonMessage struct {
	Sources map[string][]json.RawMessage `json:"sources"`
}

// expandJSONSources adds the sources of a json-message to j's audio and video descriptions.
func expandJSONSources(j *Jingle, text string, lim Limits) error {
	var msg jsonMessage
	if err := json.Unmarshal([]byte(text), &msg); err != nil {
		return refuse("json-message: %v", err)
	}
	j.JSONSources = true
	owners := make([]string, 0, len(msg.Sources))
	for o := range msg.Sources {
		owners = append(owners, o)
	}
	sort.Strings(owners)
	for _, owner := range owners {
		lists := msg.Sources[owner]
		if len(lists) > 4 {
			return refuse("json-message: owner %.64q has %d lists", owner, len(lists))
		}
		for i, raw := range lists {
			if isEmptyJSONList(raw) {
				continue
			}
			media := MediaVideo
			if i >= 2 {
				media = MediaAudio
			}
			d := descriptionFor(j, media, lim)
			if d == nil {
				return refuse("json-message: more than %d contents", lim.MaxContents)
			}
			if i%2 == 0 {
				var srcs []jsonSource
				if err := json.Unmarshal(raw, &srcs); err != nil {
					return refuse("json-message: sources of %.64q: %v", owner, err)
				}
				if len(d.Sources)+len(srcs) > lim.MaxSources {
					return refuse("more than %d sources", lim.MaxSources)
				}
				for _, s := range srcs {
					src := Source{SSRC: s.SSRC, Name: s.Name, MSID: s.MSID, Owner: owner}
					switch s.Type {
					case "":
					case "d":
						src.VideoType = "desktop"
					default:
						return refuse("json-message: bad video type %.8q", s.Type)
					}
					d.Sources = append(d.Sources, src)
				}
				continue
			}
			var groups [][]json.RawMessage
			if err := json.Unmarshal(raw, &groups); err != nil {
				return refuse("json-message: groups of %.64q: %v", owner, err)
			}
			if len(d.SSRCGroups)+len(groups) > lim.MaxSources {
				return refuse("more than %d source groups", lim.MaxSources)
			}
			for _, g := range groups {
				if len(g) < 2 || len(g) > maxGroupSize+1 {
					return refuse("json-message: bad group")
				}
				var sem string
				if err := json.Unmarshal(g[0], &sem); err != nil {
					return refuse("json-message: bad group semantics")
				}
				grp := SSRCGroup{}
				switch sem {
				case "s":
					grp.Semantics = SemanticsSIM
				case "f":
					grp.Semantics = SemanticsFID
				default:
					return refuse("json-message: bad group semantics %.8q", sem)
				}
				for _, r := range g[1:] {
					var ssrc uint32
					if err := json.Unmarshal(r, &ssrc); err != nil {
						return refuse("json-message: bad SSRC in group")
					}
					grp.SSRCs = append(grp.SSRCs, ssrc)
				}
				d.SSRCGroups = append(d.SSRCGroups, grp)
			}
		}
	}
	return nil
}

// descriptionFor returns the description of j's content of kind media, adding the content (named
// after the media) or its description when missing; nil when that would exceed lim.MaxContents.
func descriptionFor(j *Jingle, media string, lim Limits) *Description {
	var c *Content
	for _, cc := range j.Contents {
		if cc.Kind() == media {
			c = cc
			break
		}
	}
	if c == nil {
		if len(j.Contents) >= lim.MaxContents {
			return nil
		}
		c = &Content{Name: media}
		j.Contents = append(j.Contents, c)
	}
	if c.Description == nil {
		c.Description = &Description{Media: media}
	}
	return c.Description
}

// jsonSourcesText moves the SSRC sources and SIM/FID groups of j's audio and video descriptions into
// the json-message text, returning the text and a copy of the contents without them. Contents left
// with nothing but a media kind are dropped, as they were added by expandJSONSources.
func (j *Jingle) jsonSourcesText() (string, []*Content) {
	type lists struct{ v, vg, a, ag []any }
	byOwner := map[string]*lists{}
	get := func(o string) *lists {
		if byOwner[o] == nil {
			byOwner[o] = &lists{v: []any{}, vg: []any{}, a: []any{}, ag: []any{}}
		}
		return byOwner[o]
	}
	var contents []*Content
	for _, c := range j.Contents {
		d := c.Description
		if d == nil || (d.Media != MediaAudio && d.Media != MediaVideo) {
			contents = append(contents, c)
			continue
		}
		cc := *c
		dd := *d
		dd.Sources, dd.SSRCGroups = nil, nil
		owner := map[uint32]string{}
		for _, s := range d.Sources {
			if s.RID != "" {
				dd.Sources = append(dd.Sources, s)
				continue
			}
			owner[s.SSRC] = s.Owner
			js := jsonSource{SSRC: s.SSRC, Name: s.Name, MSID: s.MSID}
			if s.VideoType == "desktop" {
				js.Type = "d"
			}
			l := get(s.Owner)
			if d.Media == MediaVideo {
				l.v = append(l.v, js)
			} else {
				l.a = append(l.a, js)
			}
		}
		for _, g := range d.SSRCGroups {
			var sem string
			switch g.Semantics {
			case SemanticsSIM:
				sem = "s"
			case SemanticsFID:
				sem = "f"
			default:
				dd.SSRCGroups = append(dd.SSRCGroups, g)
				continue
			}
			arr := []any{sem}
			for _, s := range g.SSRCs {
				arr = append(arr, s)
			}
			l := get(owner[g.SSRCs[0]])
			if d.Media == MediaVideo {
				l.vg = append(l.vg, arr)
			} else {
				l.ag = append(l.ag, arr)
			}
		}
		cc.Description = &dd
		moved := len(d.Sources) > len(dd.Sources) || len(d.SSRCGroups) > len(dd.SSRCGroups)
		if moved && dd.isBare() && cc.Transport == nil && cc.InitialLastN == nil &&
			cc.Creator == "" && cc.Senders == "" && cc.Name == d.Media {
			continue // expandJSONSources makes it again
		}
		contents = append(contents, &cc)
	}
	out := map[string][]any{}
	for o, l := range byOwner {
		arr := []any{l.v, l.vg, l.a, l.ag}
		for len(arr) > 0 && len(arr[len(arr)-1].([]any)) == 0 {
			arr = arr[:len(arr)-1]
		}
		out[o] = arr
	}
	b, _ := json.Marshal(map[string]any{"sources": out}) // maps marshal with sorted keys
	return string(b), contents
}

// isBare reports whether d holds nothing but its media kind.
func (d *Description) isBare() bool {
	return d.MaxPtime == 0 && len(d.PayloadTypes) == 0 && len(d.RTCPFB) == 0 && len(d.HdrExts) == 0 &&
		!d.ExtmapAllowMixed && !d.RTCPMux && len(d.Sources) == 0 && len(d.SSRCGroups) == 0 && len(d.RIDGroups) == 0
}

func isEmptyJSONList(raw json.RawMessage) bool {
	var l []json.RawMessage
	return json.Unmarshal(raw, &l) == nil && len(l) == 0
}
