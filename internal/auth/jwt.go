package auth

// JWT verification for [auth] mode = "jwt" (jitsi-dialect.md §10), with
// github.com/golang-jwt/jwt/v5 doing the signature and time checks.
//
// What a token must be to pass Verify, in the order it is checked:
//
//   - at most MaxTokenBytes, three base64url parts, a JSON header and body;
//   - alg HS256 (only when [jwt] app-secret is set; the key is the secret) or
//     RS256/ES256 (only when [jwt] keys-dir is set; the key is the PEM file
//     <keys-dir>/<sha256-hex of kid>.pem, the kid header is required, and the
//     file name comes from the hash alone so a kid cannot name another path).
//     "none" and every other alg are refused, and an HS256 token is never
//     checked against a public key's bytes, nor an RS/ES token against the
//     secret (algorithm confusion);
//   - a valid signature;
//   - exp present and not past, nbf (if present) reached, both with Leeway;
//   - iss present and in accepted-issuers (default: [app-id]);
//   - aud present and in accepted-audiences (default "*": any);
//   - sub, when present, "*" or the server's domain (ASCII case-insensitive):
//     Parley has no tenants, so a token minted for another deployment that
//     shares the secret is refused; an absent sub is accepted, as Prosody
//     does without enable_domain_verification;
//   - room present: a room's local part (normalised like a JID localpart) or "*";
//   - context.user id, name, email and avatar, when present, strings (id may
//     be a number) of at most MaxClaimBytes with no control characters.
//
// The errors are values whose text is the client-visible reason, modelled on
// Prosody's token/util ("token required", "'kid' claim is missing",
// "Invalid issuer ('iss' claim)", "token expired"…); c2s sends it as the SASL
// <failure/> text.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// Mode is the [auth] mode.
type Mode string

// The modes of [auth] mode.
const (
	// ModeOpen: anyone may connect as a guest and start rooms (the default).
	ModeOpen Mode = "open"
	// ModeAccounts: a secure domain; only account holders start rooms,
	// guests join rooms that have been started.
	ModeAccounts Mode = "accounts"
	// ModeJWT: a valid token is required to connect, except guests when
	// [auth] guests = true.
	ModeJWT Mode = "jwt"
)

// Config is the [auth] section.
type Config struct {
	Mode Mode `toml:"mode"`
	// Guests lets clients without a token connect anonymously in jwt mode.
	Guests bool `toml:"guests"`
}

// DefaultConfig is open mode without the guests switch.
func DefaultConfig() Config { return Config{Mode: ModeOpen} }

// Validate refuses an unknown mode.
func (c Config) Validate() error {
	switch c.Mode {
	case ModeOpen, ModeAccounts, ModeJWT:
		return nil
	}
	return fmt.Errorf("auth: mode %q is not open, accounts or jwt", c.Mode)
}

// JWTConfig is the [jwt] section.
type JWTConfig struct {
	AppID     string `toml:"app-id"`
	AppSecret string `toml:"app-secret"` // HS256 key; empty: no HS256
	// KeysDir holds public keys (RS256, ES256) as <sha256-hex of kid>.pem,
	// the way Jitsi's ASAP key servers name them; empty: no RS256/ES256.
	KeysDir           string   `toml:"keys-dir"`
	AcceptedIssuers   []string `toml:"accepted-issuers"`   // default [app-id]
	AcceptedAudiences []string `toml:"accepted-audiences"` // default ["*"]
}

// Validate checks what jwt mode needs: an app id and a key source.
func (c JWTConfig) Validate() error {
	switch {
	case c.AppID == "":
		return errors.New("jwt: app-id is required in jwt mode")
	case c.AppSecret == "" && c.KeysDir == "":
		return errors.New("jwt: app-secret or keys-dir is required in jwt mode")
	}
	if c.KeysDir != "" {
		if fi, err := os.Stat(c.KeysDir); err != nil || !fi.IsDir() {
			return fmt.Errorf("jwt: keys-dir %q is not a directory", c.KeysDir)
		}
	}
	return nil
}

// Limits on what a token may carry.
const (
	MaxTokenBytes = 8 << 10 // whole compact token
	MaxClaimBytes = 256     // each context.user string, and kid
	maxKeyBytes   = 64 << 10
	// Leeway is the clock skew allowed on exp and nbf.
	Leeway = 30 * time.Second
)

// Reasons a token is refused; the text is what the client sees.
var (
	ErrTokenRequired    = errors.New("token required")
	ErrTokenTooLarge    = errors.New("token too large")
	ErrTokenMalformed   = errors.New("token is malformed")
	ErrAlgorithm        = errors.New("token signature algorithm not accepted")
	ErrKIDMissing       = errors.New("'kid' claim is missing")
	ErrKeyUnknown       = errors.New("no public key for the token's 'kid'")
	ErrSignature        = errors.New("token signature is invalid")
	ErrExpMissing       = errors.New("'exp' claim is missing")
	ErrExpired          = errors.New("token expired")
	ErrNotYetValid      = errors.New("token not valid yet ('nbf' claim)")
	ErrIssuerMissing    = errors.New("'iss' claim is missing")
	ErrAudienceMissing  = errors.New("'aud' claim is missing")
	ErrRoomMissing      = errors.New("'room' claim is missing")
	ErrContextUser      = errors.New("invalid 'context.user' claim")
	errVerifierNotReady = errors.New("token verification is not configured")
)

// Reasons with Prosody's own wording (jitsi-dialect.md §10), capital letter
// included, since Jitsi clients show them as they come.
var (
	//lint:ignore ST1005 Prosody's wording
	ErrIssuer = errors.New("Invalid issuer ('iss' claim)")
	//lint:ignore ST1005 Prosody's wording
	ErrAudience = errors.New("Invalid audience ('aud' claim)")
	//lint:ignore ST1005 Prosody's wording
	ErrSubject = errors.New("Invalid subject ('sub' claim)")
	//lint:ignore ST1005 Prosody's wording
	ErrRoom = errors.New("Invalid room ('room' claim)")
)

// Claims is what a verified token says about its holder.
type Claims struct {
	Room      string // a room's local part, or "*"
	Moderator bool   // context.user.moderator is true or "true"
	// From context.user; empty when absent.
	ID, Name, Email, Avatar string
	Expires                 time.Time
}

// AllowsRoom reports whether the token may enter the room whose local part
// is room.
func (c *Claims) AllowsRoom(room string) bool {
	return c != nil && (c.Room == "*" || c.Room == room)
}

// Verifier checks tokens against a JWTConfig. It is safe for concurrent use.
type Verifier struct {
	cfg       JWTConfig
	domain    string
	issuers   []string
	audiences []string
	methods   []string
	now       func() time.Time // tests move the clock
}

// NewVerifier returns a verifier for cfg; domain is the XMPP domain a sub
// claim may name.
func NewVerifier(cfg JWTConfig, domain string) (*Verifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	v := &Verifier{cfg: cfg, domain: domain, issuers: cfg.AcceptedIssuers, audiences: cfg.AcceptedAudiences, now: time.Now}
	if len(v.issuers) == 0 {
		v.issuers = []string{cfg.AppID}
	}
	if len(v.audiences) == 0 {
		v.audiences = []string{"*"}
	}
	if cfg.AppSecret != "" {
		v.methods = append(v.methods, jwt.SigningMethodHS256.Alg())
	}
	if cfg.KeysDir != "" {
		v.methods = append(v.methods, jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg())
	}
	return v, nil
}

// tokenClaims is the JSON body as decoded.
type tokenClaims struct {
	jwt.RegisteredClaims
	Room    *string `json:"room"`
	Context struct {
		User struct {
			ID        flexString `json:"id"`
			Name      flexString `json:"name"`
			Email     flexString `json:"email"`
			Avatar    flexString `json:"avatar"`
			Moderator any        `json:"moderator"`
		} `json:"user"`
	} `json:"context"`
}

// flexString takes a JSON string, number or null.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err == nil {
		*f = flexString(n.String())
		return nil
	}
	if string(b) == "null" {
		return nil
	}
	return ErrContextUser
}

// Verify checks token and returns its claims, or one of the Err values
// above (possibly wrapped) saying why not.
func (v *Verifier) Verify(token string) (*Claims, error) {
	if v == nil {
		return nil, errVerifierNotReady
	}
	switch {
	case token == "":
		return nil, ErrTokenRequired
	case len(token) > MaxTokenBytes:
		return nil, ErrTokenTooLarge
	}
	var tc tokenClaims
	p := jwt.NewParser(
		jwt.WithValidMethods(v.methods),
		jwt.WithLeeway(Leeway),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(v.now),
	)
	_, err := p.ParseWithClaims(token, &tc, v.key)
	if err != nil {
		return nil, v.reason(err)
	}
	return v.check(&tc)
}

// reason maps a jwt error to one of ours.
func (v *Verifier) reason(err error) error {
	for _, e := range []error{ErrKIDMissing, ErrKeyUnknown, ErrAlgorithm, ErrContextUser} {
		if errors.Is(err, e) {
			return e
		}
	}
	switch {
	case strings.Contains(err.Error(), "signing method"):
		// jwt's "signing method X is invalid" (not in WithValidMethods) and
		// "… is unavailable" (unknown alg) have no sentinel of their own.
		return ErrAlgorithm
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return ErrSignature
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return ErrExpMissing
	case errors.Is(err, jwt.ErrTokenExpired):
		return ErrExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return ErrNotYetValid
	}
	return ErrTokenMalformed
}

// key finds the verification key for t's algorithm. The parser has already
// refused algorithms outside v.methods; each algorithm only ever gets the
// key type it is for.
func (v *Verifier) key(t *jwt.Token) (any, error) {
	switch t.Method.Alg() {
	case jwt.SigningMethodHS256.Alg():
		if v.cfg.AppSecret == "" {
			return nil, ErrAlgorithm
		}
		return []byte(v.cfg.AppSecret), nil
	case jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg():
		if v.cfg.KeysDir == "" {
			return nil, ErrAlgorithm
		}
	default:
		return nil, ErrAlgorithm
	}
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return nil, ErrKIDMissing
	}
	if len(kid) > MaxClaimBytes {
		return nil, ErrKeyUnknown
	}
	sum := sha256.Sum256([]byte(kid))
	f, err := os.Open(filepath.Join(v.cfg.KeysDir, hex.EncodeToString(sum[:])+".pem"))
	if err != nil {
		return nil, ErrKeyUnknown
	}
	defer f.Close()
	pem, err := io.ReadAll(io.LimitReader(f, maxKeyBytes))
	if err != nil {
		return nil, ErrKeyUnknown
	}
	if t.Method.Alg() == jwt.SigningMethodRS256.Alg() {
		k, err := jwt.ParseRSAPublicKeyFromPEM(pem)
		if err != nil {
			return nil, ErrKeyUnknown
		}
		return k, nil
	}
	k, err := jwt.ParseECPublicKeyFromPEM(pem)
	if err != nil || k.Curve != elliptic.P256() {
		return nil, ErrKeyUnknown
	}
	return (*ecdsa.PublicKey)(k), nil
}

// check applies the claim rules jwt does not know.
func (v *Verifier) check(tc *tokenClaims) (*Claims, error) {
	if tc.Issuer == "" {
		return nil, ErrIssuerMissing
	}
	if !slices.Contains(v.issuers, tc.Issuer) && !slices.Contains(v.issuers, "*") {
		return nil, ErrIssuer
	}
	if len(tc.Audience) == 0 {
		return nil, ErrAudienceMissing
	}
	if !v.audienceOK(tc.Audience) {
		return nil, ErrAudience
	}
	if tc.Subject != "" && tc.Subject != "*" && !strings.EqualFold(tc.Subject, v.domain) {
		return nil, ErrSubject
	}
	if tc.Room == nil || *tc.Room == "" {
		return nil, ErrRoomMissing
	}
	c := &Claims{Room: "*"}
	if *tc.Room != "*" {
		// A JID localpart's rules (NormalizeUsername), so the claim
		// compares equal to the room's normalised local part.
		room, err := NormalizeUsername(*tc.Room)
		if err != nil {
			return nil, ErrRoom
		}
		c.Room = room
	}
	u := tc.Context.User
	for _, f := range []struct {
		name string
		in   flexString
		out  *string
	}{{"id", u.ID, &c.ID}, {"name", u.Name, &c.Name}, {"email", u.Email, &c.Email}, {"avatar", u.Avatar, &c.Avatar}} {
		if err := userString(string(f.in)); err != nil {
			return nil, fmt.Errorf("%w: %s %v", ErrContextUser, f.name, err)
		}
		*f.out = string(f.in)
	}
	switch m := u.Moderator.(type) {
	case bool:
		c.Moderator = m
	case string:
		c.Moderator = strings.EqualFold(m, "true")
	}
	if tc.ExpiresAt != nil {
		c.Expires = tc.ExpiresAt.Time
	}
	return c, nil
}

func (v *Verifier) audienceOK(aud jwt.ClaimStrings) bool {
	if slices.Contains(v.audiences, "*") {
		return true
	}
	for _, a := range aud {
		if slices.Contains(v.audiences, a) {
			return true
		}
	}
	return false
}

// userString bounds a context.user value and refuses control characters.
func userString(s string) error {
	if len(s) > MaxClaimBytes {
		return fmt.Errorf("longer than %d bytes", MaxClaimBytes)
	}
	if !utf8.ValidString(s) {
		return errors.New("not UTF-8")
	}
	for _, r := range s {
		// Cc, and Cf (bidi overrides, zero-width marks) except the
		// zero-width joiner that composed emoji need.
		if unicode.IsControl(r) || unicode.In(r, unicode.Cf) && r != '\u200d' {
			return errors.New("contains a control character")
		}
	}
	return nil
}
