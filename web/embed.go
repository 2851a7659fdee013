// Package webclient is Parley's browser client: TypeScript sources in src/,
// bundled by esbuild (build.mjs, `make web`) into dist/, which is committed
// so that `go build` needs no node. internal/web serves FS.
//
// dist/index.html is the single page for "/" and "/<Room>"; dist/static/
// holds the content-hashed script and style sheet it loads.
package webclient

import (
	"embed"
	"io/fs"
)

//go:embed dist
var dist embed.FS

// FS is the built client: index.html and static/.
func FS() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // dist is embedded at compile time
	}
	return sub
}
