package mcp

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"bpm/api"
	"bpm/testkit"
)

const sleeper = `
[process.app]
type = "command"
command = ["sleep", "1000"]
`

const initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}`

// do sends one raw HTTP request to url with the given headers ("Host"
// sets the Host header) and returns the response with its body read.
func do(t *testing.T, method, url, body string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

func TestNonLocalhostOriginIsRefusedOnEveryMethod(t *testing.T) {
	t.Parallel()
	b := startBPM(t, testkit.NewProject(t, sleeper), Options{})
	for _, origin := range []string{"http://evil.example", "https://evil.example:3001", "http://localhost.evil.example",
		"http://127.0.0.1.nip.io", "null", "file://", "http://[::2]:80"} {
		for _, method := range []string{http.MethodPost, http.MethodGet, http.MethodDelete, http.MethodOptions} {
			for _, url := range []string{b.url, b.http.URL + "/elsewhere"} {
				resp, _ := do(t, method, url, initialize, map[string]string{"Origin": origin})
				if resp.StatusCode != http.StatusForbidden {
					t.Errorf("%s %s with Origin %q: %d, want 403", method, url, origin, resp.StatusCode)
				}
			}
		}
	}
	for _, origin := range []string{"", "http://localhost:5173", "http://127.0.0.1", "https://[::1]:8443", "http://LOCALHOST:3000"} {
		header := map[string]string{}
		if origin != "" {
			header["Origin"] = origin
		}
		resp, body := do(t, http.MethodPost, b.url, initialize, header)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"serverInfo"`) {
			t.Errorf("initialize with Origin %q: %d %s, want 200 and the server's info", origin, resp.StatusCode, body)
		}
	}
}

func TestNonLocalhostHostIsRefused(t *testing.T) {
	t.Parallel()
	b := startBPM(t, testkit.NewProject(t, sleeper), Options{})
	port := b.http.Listener.Addr().(*net.TCPAddr).Port
	resp, _ := do(t, http.MethodPost, b.url, initialize, map[string]string{"Host": "evil.example:" + strconv.Itoa(port)})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("Host evil.example: %d, want 403 (DNS rebinding protection)", resp.StatusCode)
	}
	resp, _ = do(t, http.MethodPost, b.url, initialize, map[string]string{"Host": "localhost:" + strconv.Itoa(port)})
	if resp.StatusCode != http.StatusOK {
		t.Errorf("Host localhost: %d, want 200", resp.StatusCode)
	}
}

func TestOnlyMCPPathIsServed(t *testing.T) {
	t.Parallel()
	b := startBPM(t, testkit.NewProject(t, sleeper), Options{})
	for _, path := range []string{"/", "/elsewhere", "/mcp/extra"} {
		if resp, _ := do(t, http.MethodPost, b.http.URL+path, initialize, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("POST %s: %d, want 404", path, resp.StatusCode)
		}
	}
}

func TestBearerTokenIsRequiredWhenConfigured(t *testing.T) {
	t.Parallel()
	b := startBPM(t, testkit.NewProject(t, sleeper), Options{Token: "s3cret"})
	for _, tc := range []struct{ name, auth string }{
		{"missing", ""},
		{"wrong", "Bearer wrong"},
		{"prefix of the token", "Bearer s3cre"},
		{"not bearer", "Basic czNjcmV0"},
		{"bare token", "s3cret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			header := map[string]string{}
			if tc.auth != "" {
				header["Authorization"] = tc.auth
			}
			for _, method := range []string{http.MethodPost, http.MethodGet} {
				resp, _ := do(t, method, b.url, initialize, header)
				if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("%s: %d WWW-Authenticate %q, want 401 Bearer", method, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
				}
			}
		})
	}
	for _, auth := range []string{"Bearer s3cret", "bearer s3cret"} {
		resp, body := do(t, http.MethodPost, b.url, initialize, map[string]string{"Authorization": auth})
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"serverInfo"`) {
			t.Errorf("Authorization %q: %d %s, want 200", auth, resp.StatusCode, body)
		}
	}
	resp, _ := do(t, http.MethodPost, b.url, initialize, map[string]string{"Authorization": "Bearer s3cret", "Origin": "http://evil.example"})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("token but evil Origin: %d, want 403", resp.StatusCode)
	}

	if _, err := b.connect(nil, nil); err == nil {
		t.Errorf("the go-sdk client connected without the token")
	}
	cs, err := b.connect(nil, http.Header{"Authorization": {"Bearer s3cret"}})
	if err != nil {
		t.Fatalf("connect with the token: %v", err)
	}
	if out, _ := callOK[api.StatusOutput](t, cs, "get_status", nil); len(out.Processes) != 1 {
		t.Errorf("get_status with the token: %+v", out)
	}
}

func TestListenSaysThePortIsInUse(t *testing.T) {
	t.Parallel()
	l, err := Listen("127.0.0.1", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	_, err = Listen("127.0.0.1", port)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	if err == nil || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "already in use") {
		t.Errorf("second Listen on %s: %v, want an error naming the address and saying it is in use", addr, err)
	}
}

func TestLocalOrigin(t *testing.T) {
	t.Parallel()
	for origin, want := range map[string]bool{
		"http://localhost":              true,
		"http://localhost:3001":         true,
		"https://localhost:8443":        true,
		"http://127.0.0.1:5173":         true,
		"http://[::1]:3000":             true,
		"http://[::1]":                  true,
		"HTTP://LocalHost:1":            true,
		"http://localhost/":             true,
		"":                              false,
		"null":                          false,
		"localhost":                     false,
		"ws://localhost":                false,
		"http://localhost.evil.example": false,
		"http://evil.example#localhost": false,
		"http://user@localhost":         false,
		"http://127.0.0.2":              false,
		"http://0.0.0.0":                false,
		"http://localhost:notaport":     false,
		"http://localhost/path":         false,
	} {
		if got := localOrigin(origin); got != want {
			t.Errorf("localOrigin(%q) = %v, want %v", origin, got, want)
		}
	}
}
