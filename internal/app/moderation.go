package app

import (
	"github.com/parley-im/parley/internal/xmpp/avmoderation"
	"github.com/parley-im/parley/internal/xmpp/disco"
)

// EndConferenceDomain and AVModerationDomain are the addresses of the
// moderation components, as Jitsi names them (jitsi-dialect.md §2.5, §4.8).
func EndConferenceDomain(domain string) string { return "endconference." + domain }
func AVModerationDomain(domain string) string  { return "avmoderation." + domain }

// newModeration builds the components moderators use ("end meeting for
// all", AV moderation), registers them with the router and advertises them
// on the domain's disco#info, where Jitsi clients look for them by identity
// type. It runs after the MUC and the focus exist and before anything is
// routed (the AV moderation component watches the rooms).
func (a *App) newModeration() {
	end := a.MUC.NewEndConference(EndConferenceDomain(a.cfg.Domain))
	a.Router.AddComponent(end.Domain(), end)
	a.Disco.AddIdentity(disco.Identity{Category: "component", Type: "end_conference", Name: end.Domain()})

	av := avmoderation.New(AVModerationDomain(a.cfg.Domain), a.MUC, a.Router, a.log)
	a.Router.AddComponent(av.Domain(), av)
	a.Disco.AddIdentity(disco.Identity{Category: "component", Type: "av_moderation", Name: av.Domain()})
	a.AVModeration = av
}
