package bot

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// The focus offers only the bridge's feedback sources (jvb-a0, jvb-v0); the
// bridge's send slots are not in the offer. As lib-jitsi-meet does with SSRC
// rewriting (jitsi-dialect.md §5.5, §6.2), the bot learns each slot's SSRC
// from the sources maps and adds it to its remote description then: one
// more m-line per slot, sent by the bridge, in a local renegotiation the
// focus never sees (the slot is the bridge's, the bot's answer for it only
// receives). The slot keeps its m-line for the rest of the session; whose
// media it carries is what the maps say last.

// errNoTemplate: the offer has no m-line of the kind a sources map names.
var errNoTemplate = errors.New("bot: the offer has no m-line of that kind")

// addRemoteSection returns the offer with one more m-line of kind ("audio",
// "video") on which the bridge sends ssrc (with rtx as its RTX partner when
// not zero), its mid and the offer's new version. The m-line copies the
// first one of its kind without its sources and direction, is sendonly on
// the bridge's side and joins the BUNDLE group.
func addRemoteSection(offer, kind string, ssrc, rtx uint32) (string, string, error) {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(offer); err != nil {
		return "", "", err
	}
	var tmpl *sdp.MediaDescription
	for _, m := range sd.MediaDescriptions {
		if m.MediaName.Media == kind {
			tmpl = m
			break
		}
	}
	if tmpl == nil {
		return "", "", fmt.Errorf("%w: %s", errNoTemplate, kind)
	}
	mid := strconv.Itoa(len(sd.MediaDescriptions))
	for _, m := range sd.MediaDescriptions {
		if v, _ := m.Attribute("mid"); v == mid {
			return "", "", fmt.Errorf("bot: mid %s is taken", mid)
		}
	}
	add := &sdp.MediaDescription{
		MediaName:             tmpl.MediaName,
		MediaTitle:            tmpl.MediaTitle,
		ConnectionInformation: tmpl.ConnectionInformation,
		Bandwidth:             tmpl.Bandwidth,
	}
	add.MediaName.Formats = append([]string(nil), tmpl.MediaName.Formats...)
	for _, a := range tmpl.Attributes {
		switch a.Key {
		case "ssrc", "ssrc-group", "mid", "msid", "rid", "simulcast", "sendrecv", "sendonly", "recvonly", "inactive":
			continue
		}
		add.Attributes = append(add.Attributes, a)
	}
	add.Attributes = append(add.Attributes, sdp.NewAttribute("mid", mid), sdp.NewPropertyAttribute("sendonly"))
	msid := fmt.Sprintf("remote-%s-%d remote-%s-%d", kind, ssrc, kind, ssrc)
	if rtx != 0 {
		add.Attributes = append(add.Attributes, sdp.NewAttribute("ssrc-group", fmt.Sprintf("FID %d %d", ssrc, rtx)))
	}
	for _, s := range []uint32{ssrc, rtx} {
		if s == 0 {
			continue
		}
		add.Attributes = append(add.Attributes,
			sdp.NewAttribute("ssrc", fmt.Sprintf("%d cname:jvb", s)),
			sdp.NewAttribute("ssrc", fmt.Sprintf("%d msid:%s", s, msid)))
	}
	sd.MediaDescriptions = append(sd.MediaDescriptions, add)
	for i, a := range sd.Attributes {
		if a.Key == "group" && strings.HasPrefix(a.Value, "BUNDLE") {
			sd.Attributes[i].Value += " " + mid
		}
	}
	sd.Origin.SessionVersion++
	b, err := sd.Marshal()
	return string(b), mid, err
}

// addRemoteSources gives every SSRC a sources map names that the session
// does not know yet its own m-line (addRemoteSection) in one local
// renegotiation. It runs on the bridge channel's reader, one map at a time.
func (m *session) addRemoteSources(kind string, mapped []mappedSource) error {
	offer := m.offerSDP
	var added []uint32
	for _, s := range mapped {
		if s.SSRC == 0 || m.known[s.SSRC] || slices.Contains(added, s.SSRC) {
			continue
		}
		next, _, err := addRemoteSection(offer, kind, s.SSRC, s.RTX)
		if err != nil {
			return err
		}
		offer = next
		added = append(added, s.SSRC)
	}
	if len(added) == 0 {
		return nil
	}
	if err := m.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return fmt.Errorf("bot: remote sources: %w", err)
	}
	answer, err := m.pc.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("bot: remote sources: %w", err)
	}
	if err := m.pc.SetLocalDescription(answer); err != nil {
		return fmt.Errorf("bot: remote sources: %w", err)
	}
	m.offerSDP = offer
	for _, x := range added {
		m.known[x] = true // only now: a refused offer is tried again with the next map
	}
	return nil
}

// mappedSource is one entry of a VideoSourcesMap or AudioSourcesMap.
type mappedSource struct {
	Source string `json:"source"`
	Owner  string `json:"owner"`
	SSRC   uint32 `json:"ssrc"`
	RTX    uint32 `json:"rtx"`
}
