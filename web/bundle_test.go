package webclient

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// sourcesHash mirrors sourcesHash in build.mjs: sha256 over
// "path\n" + hex(sha256(content)) + "\n" for each input, sorted by path.
func sourcesHash(t *testing.T) string {
	t.Helper()
	files := []string{"build.mjs", "package-lock.json", "tsconfig.json"}
	err := filepath.WalkDir("src", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files = append(files, filepath.ToSlash(p))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(filepath.FromSlash(f))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		h.Write([]byte(f + "\n" + hex.EncodeToString(sum[:]) + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestBundleFresh fails when the committed dist/ was built from other
// sources than those in src/: run `make web` and commit dist/.
func TestBundleFresh(t *testing.T) {
	want := sourcesHash(t)
	have, err := fs.ReadFile(FS(), "sources.sha256")
	if err != nil {
		t.Fatalf("dist/sources.sha256: %v (run make web)", err)
	}
	if got := strings.TrimSpace(string(have)); got != want {
		t.Fatalf("web/dist is stale: built from sources %s, sources are now %s; run make web", got, want)
	}
}

// TestBundleComplete checks that index.html loads files that exist.
func TestBundleComplete(t *testing.T) {
	index, err := fs.ReadFile(FS(), "index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, attr := range []string{`src="/`, `href="/`} {
		for _, part := range strings.Split(string(index), attr)[1:] {
			ref := part[:strings.IndexByte(part, '"')]
			if _, err := fs.Stat(FS(), ref); err != nil {
				t.Errorf("index.html refers to /%s: %v", ref, err)
			}
		}
	}
	if strings.Contains(string(index), "{{") {
		t.Error("index.html has unfilled placeholders")
	}
}

// TestUnit runs the client's unit tests (type check, then node --test over
// test/*.test.ts) when node and the packages are installed; under CI they
// must be.
func TestUnit(t *testing.T) {
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join("node_modules", "esbuild"))
	}
	if err != nil {
		msg := "node or web/node_modules missing: run make deps"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "build.mjs", "--test")
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("web unit tests: %v", err)
	}
}
