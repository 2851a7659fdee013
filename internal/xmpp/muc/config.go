package muc

import (
	"errors"
	"fmt"
)

// Config tunes the conference service. Defaults follow Jitsi's deployment
// (rooms unlocked, real JIDs visible, anyone may create a room) and the
// limits of reference/threats-and-tests.md §1.7.
type Config struct {
	// LockOnCreate holds a new room locked (XEP-0045 §10.1) until its owner
	// submits the configuration form. Off, as conferencing wants.
	LockOnCreate bool `toml:"lock-on-create"`
	// RestrictCreation is Jitsi's "secure domain": only authenticated users
	// (and the focus) create rooms; guests get not-allowed until the room
	// exists. Authenticated users who join become owners.
	RestrictCreation bool `toml:"restrict-creation"`
	// AutoOwner makes the first occupant an owner, and hands ownership to the
	// longest-present occupant when the last owner leaves (Jicofo's
	// AutoOwnerRoleManager). Ignored with RestrictCreation.
	AutoOwner bool `toml:"auto-owner"`
	// PublicRooms lists new rooms in disco#items. Off: listing every
	// conference invites room guessing (threats §1.1); owners may still make
	// a room public with muc#roomconfig_publicroom.
	PublicRooms bool `toml:"public-rooms"`
	// NickChange lets an occupant change its nickname (status 303). Jitsi's
	// clients never do; XEP-0045 clients do.
	NickChange bool `toml:"nick-change"`

	MaxOccupants       int `toml:"max-occupants"`        // per room, the focus not counted
	RoomsPerConnection int `toml:"rooms-per-connection"` // rooms one full JID may be in at once
	HistoryLength      int `toml:"history-length"`       // groupchat messages kept for new occupants
	MaxNickBytes       int `toml:"max-nick-bytes"`
	MaxRoomNameBytes   int `toml:"max-room-name-bytes"`
	MaxQueue           int `toml:"max-queue"` // stanzas waiting for one room before resource-constraint

	// Per occupant, token buckets (0 = unlimited). Presence beyond the rate
	// is coalesced (the latest is broadcast when the budget allows); messages
	// beyond it are refused with policy-violation. Unavailable presence is
	// never limited.
	PresencesPerSecond float64 `toml:"presences-per-second"`
	PresenceBurst      int     `toml:"presence-burst"`
	MessagesPerSecond  float64 `toml:"messages-per-second"`
	MessageBurst       int     `toml:"message-burst"`
	// Private messages that carry only end-to-end encryption keys
	// (urn:parley:e2ee:0, docs/e2ee.md) have a budget of their own: a key
	// leader seals each new epoch to every member, one message each, at once.
	KeyMessagesPerSecond float64 `toml:"key-messages-per-second"`
	KeyMessageBurst      int     `toml:"key-message-burst"`

	// Failed room-password attempts per client address (per account when the
	// address is unknown): a bucket of PasswordBurst refilled at
	// PasswordAttemptsPerMinute. An empty bucket answers not-authorized
	// without checking the password.
	PasswordAttemptsPerMinute float64 `toml:"password-attempts-per-minute"`
	PasswordBurst             int     `toml:"password-burst"`
}

// Default returns the production defaults.
func Default() Config {
	return Config{
		AutoOwner:                 true,
		NickChange:                true,
		MaxOccupants:              500,
		RoomsPerConnection:        10,
		HistoryLength:             20,
		MaxNickBytes:              64,
		MaxRoomNameBytes:          256,
		MaxQueue:                  4096,
		PresencesPerSecond:        4,
		PresenceBurst:             8,
		MessagesPerSecond:         3,
		MessageBurst:              6,
		KeyMessagesPerSecond:      100,
		KeyMessageBurst:           600,
		PasswordAttemptsPerMinute: 6,
		PasswordBurst:             5,
	}
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	switch {
	case c.MaxOccupants < 1:
		return errors.New("muc: max-occupants must be at least 1")
	case c.RoomsPerConnection < 1:
		return errors.New("muc: rooms-per-connection must be at least 1")
	case c.HistoryLength < 0 || c.HistoryLength > 1000:
		return errors.New("muc: history-length must be between 0 and 1000")
	case c.MaxNickBytes < 1 || c.MaxNickBytes > 1023:
		return errors.New("muc: max-nick-bytes must be between 1 and 1023")
	case c.MaxRoomNameBytes < 1 || c.MaxRoomNameBytes > 1023:
		return errors.New("muc: max-room-name-bytes must be between 1 and 1023")
	case c.MaxQueue < 16:
		return errors.New("muc: max-queue must be at least 16")
	}
	for _, r := range []struct {
		name  string
		rate  float64
		burst int
	}{
		{"presences-per-second", c.PresencesPerSecond, c.PresenceBurst},
		{"messages-per-second", c.MessagesPerSecond, c.MessageBurst},
		{"key-messages-per-second", c.KeyMessagesPerSecond, c.KeyMessageBurst},
		{"password-attempts-per-minute", c.PasswordAttemptsPerMinute, c.PasswordBurst},
	} {
		if r.rate < 0 {
			return fmt.Errorf("muc: %s must not be negative", r.name)
		}
		if r.rate > 0 && r.burst < 1 {
			return fmt.Errorf("muc: the burst for %s must be at least 1", r.name)
		}
	}
	return nil
}
