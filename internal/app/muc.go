package app

import (
	"context"
	"net/netip"

	"github.com/parley-im/parley/internal/auth"
	"github.com/parley-im/parley/internal/focus"
	"github.com/parley-im/parley/internal/xmpp/disco"
	"github.com/parley-im/parley/internal/xmpp/jid"
	"github.com/parley-im/parley/internal/xmpp/muc"
)

// MUCDomain is where rooms live: conference.<domain> (dialect §1.1).
func MUCDomain(domain string) string { return "conference." + domain }

// newMUC builds the conference service and registers it with the router.
func (a *App) newMUC() error {
	// The focus joins rooms as focus@auth.<domain>/focus; no client can
	// hold a JID at that domain (the router stamps from).
	fc := focus.DefaultConfig(a.cfg.Domain)
	focusJID, err := jid.Parse(fc.UserJID)
	if err != nil {
		return err
	}
	svc, err := muc.New(muc.Options{
		Domain:    MUCDomain(a.cfg.Domain),
		Config:    a.cfg.MUC,
		Router:    a.Router,
		Logger:    a.log,
		Peer:      a.peer,
		IsFocus:   func(j jid.JID) bool { return j.Bare() == focusJID.Bare() },
		FocusNick: fc.Nick,
	})
	if err != nil {
		return err
	}
	a.MUC = svc
	a.Router.AddComponent(svc.Domain(), svc)
	// The lobby (jitsi-dialect.md §4.5) at lobby.<domain>, advertised on the
	// domain as Prosody's mod_muc_lobby_rooms does, so that stock Jitsi
	// clients find it.
	lobby, err := svc.EnableLobby(LobbyDomain(a.cfg.Domain))
	if err != nil {
		return err
	}
	a.Router.AddComponent(lobby.Domain(), lobby)
	a.Disco.AddIdentity(disco.Identity{Category: "component", Type: muc.LobbyIdentityType, Name: lobby.Domain()})
	return nil
}

// LobbyDomain is where rooms' lobbies live: lobby.<domain> (dialect §4.5).
func LobbyDomain(domain string) string { return "lobby." + domain }

// peer tells the MUC who is behind a real JID. A c2s session that reports
// Anonymous() and RemoteAddr() is asked; otherwise an account of that name
// in the store makes the user authenticated (guests' local parts are fresh
// UUIDs) and the address stays unknown.
func (a *App) peer(real jid.JID) muc.Peer {
	var p muc.Peer
	if real.Domain != a.cfg.Domain || real.Local == "" {
		return p
	}
	s := a.Router.Lookup(real)
	if x, ok := s.(interface{ RemoteAddr() netip.Addr }); ok {
		p.Addr = x.RemoteAddr()
	}
	if x, ok := s.(interface{ Token() *auth.Claims }); ok {
		if c := x.Token(); c != nil {
			// A token user (jwt mode) is authenticated although the server
			// invented its node (jitsi-dialect.md §10).
			p.Authenticated = true
			p.Token = &muc.Token{Room: c.Room, Moderator: c.Moderator, ID: c.ID, Name: c.Name, Email: c.Email, Avatar: c.Avatar}
			return p
		}
	}
	if x, ok := s.(interface{ Anonymous() bool }); ok {
		p.Authenticated = !x.Anonymous()
		return p
	}
	exists, err := a.store.UserExists(context.Background(), real.Local)
	p.Authenticated = err == nil && exists
	return p
}
