package app

import (
	"net"
	"strings"

	"github.com/parley-im/parley/internal/focus"
	"github.com/parley-im/parley/internal/xmpp/jid"
	"github.com/parley-im/parley/internal/xmpp/router"
)

// newFocus builds the conference focus and registers its two addresses:
// focus.D for conference requests and auth.D, the domain of its own JID,
// for what rooms send it.
func (a *App) newFocus() error {
	fc := focus.DefaultConfig(a.cfg.Domain)
	fc.PublicURL = func() string {
		if p := a.publicBase(); p != "" {
			return "wss://" + strings.TrimPrefix(p, "https://")
		}
		port := ""
		if a.httpLn != nil {
			_, port, _ = net.SplitHostPort(a.httpLn.Addr().String())
		} else {
			_, port, _ = net.SplitHostPort(a.cfg.HTTP)
		}
		return "wss://" + net.JoinHostPort(a.cfg.Domain, port)
	}
	fc.Limits = a.cfg.Focus
	fc.Authentication = a.restrictCreation()
	fc.Requester = func(from, room jid.JID) focus.Requester {
		p := a.peer(from)
		return focus.Requester{
			Addr:     p.Addr,
			MayStart: !fc.Authentication || p.Authenticated && (p.Token == nil || p.Token.AllowsRoom(room.Local)),
		}
	}
	// AV moderation is built after the focus (it watches the rooms) and
	// before anything is routed.
	fc.UnmuteAllowed = func(room, occupant jid.JID, medium string) bool {
		return a.AVModeration == nil || a.AVModeration.UnmuteAllowed(room, occupant, medium)
	}
	if len(a.cfg.RegionMap) > 0 {
		fc.Region = a.regionOf
	}
	f, err := focus.New(fc, a.Router, a.bridges, a.log)
	if err != nil {
		return err
	}
	a.Focus = f
	a.Router.AddComponent(fc.Service, router.ComponentFunc(f.RouteService))
	a.Router.AddComponent(f.UserDomain(), router.ComponentFunc(f.RouteUser))
	return nil
}

// restrictCreation reports whether only authenticated users start rooms (a
// secure domain): the MUC and the focus apply the same rule.
func (a *App) restrictCreation() bool { return a.cfg.MUC.RestrictCreation }

// publicBase is public-url as https://HOST[:PORT], or "" when unset (the
// bridge-channel URL is then wss://DOMAIN:PORT and config.js names the host
// each request came in on).
func (a *App) publicBase() string {
	p, _ := a.cfg.PublicBase() // validated by config.Load
	return p
}

// wsOrigins is the one Origin rule of both WebSocket endpoints,
// /xmpp-websocket and /colibri-ws: a page may open them from the host the
// request came in on (the WebSocket library's own check), from public-url's
// host, or from a host matching a [c2s] allowed-ws-origins pattern.
func (a *App) wsOrigins() []string {
	out := append([]string(nil), a.cfg.C2S.AllowedWSOrigins...)
	if p := a.publicBase(); p != "" {
		out = append(out, strings.TrimPrefix(p, "https://"))
	}
	return out
}
