package config

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-im/parley/internal/auth"
)

func TestAuthSections(t *testing.T) {
	if d := Default(); d.Auth.Mode != auth.ModeOpen || d.Auth.Guests || d.JWT.AppID != "" {
		t.Fatalf("defaults: %+v %+v", d.Auth, d.JWT)
	}
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	os.Mkdir(keys, 0o700)
	file := filepath.Join(dir, "parley.toml")
	os.WriteFile(file, []byte(`
[auth]
mode = "jwt"
guests = true
[jwt]
app-id = "my-app"
app-secret = "s3cret"
keys-dir = "`+keys+`"
accepted-issuers = ["my-app", "idp"]
accepted-audiences = ["parley"]
`), 0o600)
	cfg, err := Load([]string{"--config", file}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := auth.JWTConfig{AppID: "my-app", AppSecret: "s3cret", KeysDir: keys, AcceptedIssuers: []string{"my-app", "idp"}, AcceptedAudiences: []string{"parley"}}
	if cfg.Auth != (auth.Config{Mode: auth.ModeJWT, Guests: true}) || cfg.JWT.AppID != want.AppID || cfg.JWT.AppSecret != want.AppSecret ||
		cfg.JWT.KeysDir != keys || strings.Join(cfg.JWT.AcceptedIssuers, ",") != "my-app,idp" || strings.Join(cfg.JWT.AcceptedAudiences, ",") != "parley" {
		t.Fatalf("loaded %+v %+v", cfg.Auth, cfg.JWT)
	}

	for _, tc := range []struct{ toml, want string }{
		{"[auth]\nmode = \"tokens\"\n", `mode "tokens"`},
		{"[auth]\nmode = \"jwt\"\n", "app-id"},
		{"[auth]\nmode = \"jwt\"\n[jwt]\napp-id = \"a\"\n", "app-secret or keys-dir"},
		{"[auth]\nmode = \"jwt\"\n[jwt]\napp-id = \"a\"\nkeys-dir = \"" + filepath.Join(dir, "none") + "\"\n", "not a directory"},
		{"[jwt]\napp-secret = 7\n", "app-secret"},
		{"[auth]\nmode = \"accounts\"\n[jwt]\nissuer = \"x\"\n", `unknown key "jwt.issuer"`},
	} {
		f := filepath.Join(dir, "case.toml")
		os.WriteFile(f, []byte(tc.toml), 0o600)
		_, err := Load([]string{"--config", f}, func(string) string { return "" }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want an error containing %q", tc.toml, err, tc.want)
		}
	}
	// The [jwt] section is only checked in jwt mode.
	ok := filepath.Join(dir, "open.toml")
	os.WriteFile(ok, []byte("[auth]\nmode = \"accounts\"\n"), 0o600)
	if _, err := Load([]string{"--config", ok}, func(string) string { return "" }, io.Discard); err != nil {
		t.Fatal(err)
	}
}
