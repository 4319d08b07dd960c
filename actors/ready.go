package actors

import (
	"net"
	"net/http"
	"time"

	"bpm/config"
)

// probeInterval is how often an http or tcp ready check is tried.
const probeInterval = 100 * time.Millisecond

// probeReady tries rc's http or tcp check every probeInterval until it
// passes, then calls ready once. Closing cancel ends it early. owner, when
// not 0, is the pid of the run that must itself have accepted the probe.
func probeReady(rc *config.Ready, owner int, cancel <-chan struct{}, ready func()) {
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(probeInterval)
	defer tick.Stop()
	for {
		if probeOnce(client, rc) {
			ready()
			return
		}
		select {
		case <-cancel:
			return
		case <-tick.C:
		}
	}
}

func probeOnce(client *http.Client, rc *config.Ready) bool {
	if rc.TCP != "" {
		c, err := net.DialTimeout("tcp", rc.TCP, time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}
	resp, err := client.Get(rc.HTTP)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 300
}
