package mcp

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
)

// guard refuses, before the MCP handler sees them, requests from a browser
// page that is not on this machine (403) and, with a token configured,
// requests that do not carry it (401).
func guard(token string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin, ok := r.Header["Origin"]; ok && !localOrigin(strings.Join(origin, ",")) {
			http.Error(w, "Forbidden: bpm accepts requests only from localhost origins", http.StatusForbidden)
			return
		}
		if token != "" && !bearer(r.Header.Get("Authorization"), token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="bpm"`)
			http.Error(w, "Unauthorized: send the configured mcp_token as Authorization: Bearer TOKEN", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// localOrigin reports whether origin is http(s)://localhost, 127.0.0.1 or
// [::1], on any port. "null" and anything else are not.
func localOrigin(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil {
		return false
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "" {
		return false
	}
	switch strings.ToLower(u.Hostname()) {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	return false
}

// bearer reports whether an Authorization header value carries token with
// the Bearer scheme (case-insensitive, as HTTP auth schemes are); the token
// is compared in constant time.
func bearer(header, token string) bool {
	scheme, got, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(token)) == 1
}
