package api

import "testing"

func TestLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1:55000": true,
		"127.0.0.1":       true,
		"localhost:55000": true,
		"[::1]:55000":     true,
		"127.8.9.10:1":    true,
		"evil.example":    false,
		"10.0.0.1:55000":  false,
		"[::2]:55000":     false,
		"":                false,
	} {
		if got := loopbackHost(host); got != want {
			t.Errorf("loopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}
