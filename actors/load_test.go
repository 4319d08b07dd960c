package actors

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sync"
	"sync/atomic"
	"time"
)

// loadResult sums up an HTTP load run.
type loadResult struct {
	ok, failed int
	pids       map[string]int // "pid=N" found in the response body → count
	maxLatency time.Duration
	firstErr   string
}

// loader sends GET requests to url from several clients, each on a new
// connection (no keep-alive: every request goes through the listening
// socket), until stopped.
type loader struct {
	url     string
	clients int
	cancel  context.CancelFunc
	done    chan loadResult
	count   atomic.Int64
}

func startLoad(url string, clients int) *loader {
	ctx, cancel := context.WithCancel(context.Background())
	l := &loader{url: url, clients: clients, cancel: cancel, done: make(chan loadResult, 1)}
	go l.run(ctx)
	return l
}

func (l *loader) run(ctx context.Context) {
	var mu sync.Mutex
	res := loadResult{pids: map[string]int{}}
	var wg sync.WaitGroup
	for range l.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{
				Timeout:   10 * time.Second,
				Transport: &http.Transport{DisableKeepAlives: true},
			}
			for ctx.Err() == nil {
				start := time.Now()
				body, err := fetch(client, l.url)
				took := time.Since(start)
				mu.Lock()
				if err != nil {
					res.failed++
					if res.firstErr == "" {
						res.firstErr = err.Error()
					}
				} else {
					res.ok++
					if m := pidRE.FindStringSubmatch(body); m != nil {
						res.pids["pid="+m[1]]++
					}
				}
				res.maxLatency = max(res.maxLatency, took)
				mu.Unlock()
				l.count.Add(1)
			}
		}()
	}
	wg.Wait()
	l.done <- res
}

// pidRE finds the pid in a response: the fixtures answer "pid=N", the
// examples "… pid N …".
var pidRE = regexp.MustCompile(`pid[= ](\d+)`)

func fetch(client *http.Client, url string) (string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d", resp.StatusCode)
	}
	return string(b), nil
}

// waitRequests waits until at least n requests were made since start.
func (l *loader) waitRequests(n int64, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for l.count.Load() < n {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

func (l *loader) stop() loadResult {
	l.cancel()
	return <-l.done
}
