package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// csp allows the page's own files and API calls only: no inline script or
// style, no framing, no other origin.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// asset is one file of the console, ready to serve.
type asset struct {
	name  string
	data  []byte
	ctype string
	etag  string
}

// Handler serves the console: index.html at "/" (and "/index.html"),
// app.js and app.css beside it. Any other path is 404, directories are
// never listed, and only GET and HEAD are allowed. Mount it at the root or
// under a prefix with [http.StripPrefix]; the page calls the API at
// absolute paths (/security/..., /api/v1/...) on the same origin.
//
// Responses carry an ETag and Cache-Control: no-cache, so a browser
// revalidates cheaply and never runs a stale app.js after an upgrade,
// plus a Content-Security-Policy that forbids inline script.
func Handler() http.Handler {
	assets := make(map[string]*asset)
	for name, ctype := range map[string]string{
		"index.html": "text/html; charset=utf-8",
		"app.js":     "text/javascript; charset=utf-8",
		"app.css":    "text/css; charset=utf-8",
	} {
		data, err := fs.ReadFile(static, "static/"+name)
		if err != nil {
			// The files are embedded at build time: this cannot happen in
			// a binary that compiled.
			panic(fmt.Sprintf("console: embedded %s: %v", name, err))
		}
		sum := sha256.Sum256(data)
		assets[name] = &asset{
			name:  name,
			data:  data,
			ctype: ctype,
			etag:  `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`,
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if p == "" {
			// Mounted under a prefix and asked for the prefix itself: the
			// page's relative links need the trailing slash.
			uri, _, _ := strings.Cut(r.RequestURI, "?")
			base := path.Base(uri)
			if uri == "" || base == "/" || base == "." {
				http.NotFound(w, r)
				return
			}
			loc := base + "/"
			if r.URL.RawQuery != "" {
				loc += "?" + r.URL.RawQuery
			}
			w.Header().Set("Location", loc)
			w.WriteHeader(http.StatusMovedPermanently)
			return
		}
		name := strings.TrimPrefix(p, "/")
		if name == "" {
			name = "index.html"
		}
		a, ok := assets[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.ctype)
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", a.etag)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if a.name == "index.html" {
			h.Set("Content-Security-Policy", csp)
			h.Set("X-Frame-Options", "DENY")
		}
		http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.data))
	})
}
