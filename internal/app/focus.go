package app

import (
	"net"

	"github.com/parley-im/parley/internal/focus"
	"github.com/parley-im/parley/internal/xmpp/router"
)

// newFocus builds the conference focus and registers its two addresses:
// focus.D for conference requests and auth.D, the domain of its own JID,
// for what rooms send it.
func (a *App) newFocus() error {
	fc := focus.DefaultConfig(a.cfg.Domain)
	fc.PublicURL = func() string {
		port := ""
		if a.httpLn != nil {
			_, port, _ = net.SplitHostPort(a.httpLn.Addr().String())
		} else {
			_, port, _ = net.SplitHostPort(a.cfg.HTTP)
		}
		return "wss://" + net.JoinHostPort(a.cfg.Domain, port)
	}
	f, err := focus.New(fc, a.Router, a.Bridge, a.log)
	if err != nil {
		return err
	}
	a.Focus = f
	a.Router.AddComponent(fc.Service, router.ComponentFunc(f.RouteService))
	a.Router.AddComponent(f.UserDomain(), router.ComponentFunc(f.RouteUser))
	return nil
}
