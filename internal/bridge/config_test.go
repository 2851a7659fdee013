package bridge

import (
	"reflect"
	"regexp"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// TestConfigTOMLTags pins a kebab-case toml tag on every field: the lead's config file embeds Config as
// [bridge], and an untagged field would silently take its Go name there.
func TestConfigTOMLTags(t *testing.T) {
	kebab := regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	seen := map[string]string{}
	typ := reflect.TypeOf(Config{})
	for i := range typ.NumField() {
		f := typ.Field(i)
		tag := f.Tag.Get("toml")
		if !kebab.MatchString(tag) {
			t.Errorf("field %s: toml tag %q is not kebab-case", f.Name, tag)
		}
		if other, dup := seen[tag]; dup {
			t.Errorf("fields %s and %s share toml tag %q", other, f.Name, tag)
		}
		seen[tag] = f.Name
	}
}

// TestConfigTOMLDecode reads a [bridge]-style table over the defaults: durations as strings, the rest
// kept from Default.
func TestConfigTOMLDecode(t *testing.T) {
	const doc = `
id = "jvb-1"
media-addr = "0.0.0.0:10000"
public-ip = "203.0.113.7"
video-slots = 20
inactive-after = "8s"
connect-timeout = "1m"
ice-keepalive-interval = "1500ms"
packet-cache-size = 1024
`
	cfg := Default()
	md, err := toml.Decode(doc, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	if und := md.Undecoded(); len(und) != 0 {
		t.Fatalf("undecoded keys %v", und)
	}
	want := Default()
	want.ID, want.MediaAddr, want.PublicIP = "jvb-1", "0.0.0.0:10000", "203.0.113.7"
	want.VideoSlots, want.PacketCacheSize = 20, 1024
	want.InactiveAfter, want.ConnectTimeout, want.ICEKeepaliveInterval = 8*time.Second, time.Minute, 1500*time.Millisecond
	if cfg != want {
		t.Fatalf("decoded\n%+v\nwant\n%+v", cfg, want)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}
