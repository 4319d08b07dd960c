package tui

import (
	"context"
	"strings"
	"time"
)

// stopTimeout bounds a stop: bpm answers once the run is gone, after the
// process's stop_timeout_seconds at most (and a build's cancellation).
const stopTimeout = 5 * time.Minute

// control is one of the keys that act on the selected process.
type control struct {
	tool    string        // the MCP tool it calls
	busy    string        // Server Status while the call is under way
	timeout time.Duration // how long the console waits for bpm's answer
}

var (
	// restart (r): rebuild in dev mode while the old run serves, then swap.
	restartControl = control{tool: "restart", busy: "building…", timeout: restartTimeout}
	// stop (s): stop it and keep it down until start or restart.
	stopControl = control{tool: "stop", busy: "stopping…", timeout: stopTimeout}
	// start (S): start a stopped process again; it may need a build first.
	startControl = control{tool: "start", busy: "starting…", timeout: restartTimeout}
)

// act calls ctl's tool on the selected process. The call runs off the UI
// goroutine and may take minutes (a build); status polls go on meanwhile,
// and Server Status shows the result or bpm's error when it comes.
func (c *Console) act(ctl control) {
	name, cs := c.selected, c.session
	if name == "" {
		return
	}
	prefix := ctl.tool + " " + name
	if cs == nil {
		c.setMessage(levelBad, prefix+": not connected to bpm")
		return
	}
	c.setMessage(levelBusy, prefix+": "+ctl.busy)
	c.spawn(func(ctx context.Context) func() {
		text, err := callTool(ctx, cs, ctl.tool, map[string]string{"process": name}, ctl.timeout, nil)
		return func() {
			if err != nil {
				text := strings.TrimPrefix(err.Error(), ctl.tool+": ")
				if !strings.HasPrefix(text, prefix) {
					text = prefix + ": " + text
				}
				c.setMessage(levelBad, text)
			} else {
				c.setMessage(levelOK, text)
			}
			c.pollStatus()
			if name == c.selected && c.out.mode != modeSearch {
				c.fetchOutput()
			}
		}
	})
}
