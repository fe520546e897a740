package console

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, c *http.Client, method, url string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestHandler(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/", Handler())
	mux.Handle("/console/", http.StripPrefix("/console", Handler()))
	mux.Handle("/console", http.StripPrefix("/console", Handler()))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	tests := []struct {
		method, path string
		code         int
		ctype        string
		body         string // a substring of the body
		location     string
		allow        string
	}{
		{"GET", "/", 200, "text/html; charset=utf-8", `<script src="app.js" defer></script>`, "", ""},
		{"GET", "/index.html", 200, "text/html; charset=utf-8", `id="login-user"`, "", ""},
		{"GET", "/app.js", 200, "text/javascript; charset=utf-8", "'use strict';", "", ""},
		{"GET", "/app.css", 200, "text/css; charset=utf-8", "tr.failed", "", ""},
		{"HEAD", "/app.js", 200, "text/javascript; charset=utf-8", "", "", ""},
		{"GET", "/console/", 200, "text/html; charset=utf-8", `id="login-form"`, "", ""},
		{"GET", "/console/app.css", 200, "text/css; charset=utf-8", "tr.failed", "", ""},
		{"GET", "/console", 301, "", "", "console/", ""},
		{"GET", "/console?x=1", 301, "", "", "console/?x=1", ""},
		{"GET", "/nope", 404, "", "", "", ""},
		{"GET", "/static/app.js", 404, "", "", "", ""},
		{"GET", "/static/", 404, "", "", "", ""},
		{"GET", "/app.js/", 404, "", "", "", ""},
		{"GET", "/index.html/", 404, "", "", "", ""},
		{"GET", "/console/static/", 404, "", "", "", ""},
		{"GET", "/.git/config", 404, "", "", "", ""},
		{"POST", "/", 405, "", "", "", "GET, HEAD"},
		{"DELETE", "/app.js", 405, "", "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			resp, body := get(t, noRedirect, tc.method, srv.URL+tc.path, nil)
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.code)
			}
			if tc.ctype != "" {
				if got := resp.Header.Get("Content-Type"); got != tc.ctype {
					t.Errorf("Content-Type %q, want %q", got, tc.ctype)
				}
				if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
					t.Errorf("X-Content-Type-Options %q, want nosniff", got)
				}
				if got := resp.Header.Get("Cache-Control"); got != "no-cache" {
					t.Errorf("Cache-Control %q, want no-cache", got)
				}
			}
			if !strings.Contains(body, tc.body) {
				t.Errorf("body lacks %q", tc.body)
			}
			if tc.method == "HEAD" && body != "" {
				t.Errorf("HEAD answered a body of %d bytes", len(body))
			}
			if tc.code == 404 && strings.Contains(body, "<a href") {
				t.Errorf("404 page looks like a directory listing: %q", body)
			}
			if got := resp.Header.Get("Location"); got != tc.location {
				t.Errorf("Location %q, want %q", got, tc.location)
			}
			if got := resp.Header.Get("Allow"); tc.allow != "" && got != tc.allow {
				t.Errorf("Allow %q, want %q", got, tc.allow)
			}
		})
	}
}

func TestHandlerHeaders(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()

	resp, _ := get(t, srv.Client(), "GET", srv.URL+"/", nil)
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("Content-Security-Policy %q allows unsafe sources", csp)
	}

	// The ETag lets a browser revalidate without downloading again.
	resp, _ = get(t, srv.Client(), "GET", srv.URL+"/app.js", nil)
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag on app.js")
	}
	resp, body := get(t, srv.Client(), "GET", srv.URL+"/app.js", map[string]string{"If-None-Match": etag})
	if resp.StatusCode != http.StatusNotModified || body != "" {
		t.Errorf("revalidation: status %d with %d bytes, want 304 and none", resp.StatusCode, len(body))
	}
	resp, _ = get(t, srv.Client(), "GET", srv.URL+"/app.css", nil)
	if resp.Header.Get("ETag") == etag {
		t.Error("app.css has app.js's ETag")
	}
}

// TestPageIsCSPClean checks what the Content-Security-Policy would
// otherwise break at run time: inline script, inline handlers, inline
// style, and resources from elsewhere.
func TestPageIsCSPClean(t *testing.T) {
	html, err := static.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`<script(\s[^>]*)?>[^<]+</script>`), // inline script
		regexp.MustCompile(`<script(?:\s[^>]*)?>`),             // checked below for src
		regexp.MustCompile(`(?i)\son[a-z]+\s*=`),               // inline handlers
		regexp.MustCompile(`(?i)\sstyle\s*=`),                  // inline style
		regexp.MustCompile(`(?i)(src|href)\s*=\s*"(https?:)?//`),
		regexp.MustCompile(`<style`),
	} {
		for _, m := range bad.FindAllString(string(html), -1) {
			if strings.HasPrefix(m, "<script") && strings.Contains(m, ` src="app.js"`) && !strings.Contains(m, "</script>") {
				continue
			}
			t.Errorf("index.html: %q", m)
		}
	}
}

// TestPageHasTheElementsAppJSUses catches a renamed id: every
// $('some-id') in app.js must exist in index.html.
func TestPageHasTheElementsAppJSUses(t *testing.T) {
	html, err := static.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	js, err := static.ReadFile("static/app.js")
	if err != nil {
		t.Fatal(err)
	}
	ids := regexp.MustCompile(`\$\('([A-Za-z0-9_-]+)'\)`).FindAllStringSubmatch(string(js), -1)
	if len(ids) < 20 {
		t.Fatalf("found only %d element ids in app.js", len(ids))
	}
	for _, m := range ids {
		if !strings.Contains(string(html), `id="`+m[1]+`"`) {
			t.Errorf("app.js uses #%s, which index.html lacks", m[1])
		}
	}
	for _, tab := range []string{"agents", "active", "runs", "allowlist", "run"} {
		if !strings.Contains(string(html), `id="tab-`+tab+`"`) || !strings.Contains(string(html), `data-tab="`+tab+`"`) {
			t.Errorf("index.html lacks the %s tab or its button", tab)
		}
	}
	// Data from the API must never reach the page as HTML.
	if m := regexp.MustCompile(`\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write`).FindString(string(js)); m != "" {
		t.Errorf("app.js writes HTML: %q", m)
	}
}
