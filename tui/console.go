// Package tui is bpm's operator console: an MCP client of a running bpm,
// drawn with tview. It holds nothing but what it shows; every panel is
// redrawn from the latest get_status and log search.
//
// All console state belongs to the tview application's goroutine. Calls to
// bpm run in goroutines and hand back a closure; one pump goroutine queues
// each closure with QueueUpdateDraw, so no lock is needed anywhere.
package tui

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/gdamore/tcell/v2"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/rivo/tview"

	"bpm/api"
)

// quitGrace is how long Run waits, after the screen is gone, for calls in
// flight to end before it cuts them off.
const quitGrace = time.Second

// DefaultURL is bpm's MCP endpoint with the default mcp_port.
const DefaultURL = "http://127.0.0.1:3001/mcp"

// Options configure a Console. The zero value draws on the terminal,
// sends no token and refreshes once a second.
type Options struct {
	// Screen to draw on; nil opens the terminal. Tests pass a
	// tcell.SimulationScreen.
	Screen tcell.Screen
	// Token, when set, is sent as "Authorization: Bearer TOKEN".
	Token string
	// Refresh is how often get_status and the selected tail are fetched.
	Refresh time.Duration
}

// Console is one operator console session against one bpm endpoint.
type Console struct {
	url     string
	refresh time.Duration
	hc      *http.Client
	app     *tview.Application
	ui      widgets

	ctx    context.Context // cancelled by quit: ends the pump, ticks and dialling
	cancel context.CancelFunc
	// calls is the context of tool calls: cancelled quitGrace after quit, so
	// the calls in flight usually end on their own (see Run).
	calls       context.Context
	cancelCalls context.CancelFunc
	inbox       chan func() // results of calls, for the pump
	wg          sync.WaitGroup

	// Owned by the application's goroutine from Run on.
	session    *sdk.ClientSession
	conn       connState
	dialing    bool
	status     *api.StatusOutput // latest get_status; nil before the first
	statusBusy bool
	selected   string // name of the selected process
	msg        message
	out        output
	width      int
	height     int
	searching  bool
	helpShown  bool
}

// New builds a console for the MCP endpoint at url. Nothing is dialled until Run.
func New(url string, opts Options) *Console {
	if opts.Refresh <= 0 {
		opts.Refresh = time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	calls, cancelCalls := context.WithCancel(context.Background())
	c := &Console{
		calls:       calls,
		cancelCalls: cancelCalls,
		url:         url,
		refresh:     opts.Refresh,
		hc:          newHTTPClient(opts.Token),
		app:         tview.NewApplication(),
		ctx:         ctx,
		cancel:      cancel,
		inbox:       make(chan func()),
		conn:        connState{state: connecting, since: time.Now()},
		out:         output{marks: map[string]mark{}},
	}
	if opts.Screen != nil {
		c.app.SetScreen(opts.Screen)
	}
	c.build()
	return c
}

// Run shows the console until q, Esc or Ctrl-C, then closes the session.
// It returns an error only when the terminal cannot be used.
func (c *Console) Run() error {
	pumped := make(chan struct{})
	go func() {
		defer close(pumped)
		c.pump()
	}()
	c.wg.Go(c.tick)
	c.dial()
	err := c.app.Run()
	quit := c.ctx.Err() != nil
	c.cancel()
	if quit {
		// The pump stopped the application; when the terminal failed
		// instead, the pump may be stuck in QueueUpdate and is left behind.
		<-pumped
	}
	// Calls in flight (a status poll, a search) get a moment to end on their
	// own: a call cut off makes the server abandon a request to its actors.
	// A restart in flight is cut off; bpm finishes it anyway.
	stop := time.AfterFunc(quitGrace, c.cancelCalls)
	c.wg.Wait()
	stop.Stop()
	c.cancelCalls()
	if c.session != nil {
		c.session.Close()
	}
	c.hc.CloseIdleConnections()
	return err
}

// quit ends Run. Called on the application's goroutine.
func (c *Console) quit() {
	c.cancel()
}

// pump runs the closures calls hand back on the application's goroutine.
// Once the console quits it stops the application itself, so no goroutine
// is ever left waiting in QueueUpdateDraw on an application that stopped.
func (c *Console) pump() {
	for {
		select {
		case f := <-c.inbox:
			c.app.QueueUpdateDraw(f)
		case <-c.ctx.Done():
			c.app.QueueUpdate(c.app.Stop)
			return
		}
	}
}

// post hands f to the pump; false when the console quit first.
func (c *Console) post(f func()) bool {
	select {
	case c.inbox <- f:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// spawn runs call in a goroutine and applies the closure it returns on the
// application's goroutine.
func (c *Console) spawn(call func(ctx context.Context) func()) {
	c.wg.Go(func() {
		if apply := call(c.calls); apply != nil {
			c.post(apply)
		}
	})
}

// tick asks for a refresh every c.refresh.
func (c *Console) tick() {
	t := time.NewTicker(c.refresh)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			c.post(c.poll)
		case <-c.ctx.Done():
			return
		}
	}
}

// poll fetches the status and, when following, the selected tail or build log.
func (c *Console) poll() {
	c.pollStatus()
	if c.out.mode != modeSearch && !c.out.paused && c.out.busy == 0 {
		c.fetchOutput()
	}
}

// keys handles a key before the focused widget sees it.
func (c *Console) keys(ev *tcell.EventKey) *tcell.EventKey {
	if ev.Key() == tcell.KeyCtrlC {
		c.quit()
		return nil
	}
	if c.searching {
		return ev // the input field's done handler takes Enter and Esc
	}
	if c.helpShown {
		c.showHelp(false)
		return nil
	}
	switch ev.Key() {
	case tcell.KeyEscape:
		c.quit()
	case tcell.KeyEnter:
		c.showTail()
	case tcell.KeyPgUp, tcell.KeyPgDn, tcell.KeyCtrlU, tcell.KeyCtrlD:
		c.scrollOutput(ev)
	case tcell.KeyEnd:
		c.follow()
	case tcell.KeyRune:
		return c.runeKey(ev)
	default:
		return ev
	}
	return nil
}

func (c *Console) runeKey(ev *tcell.EventKey) *tcell.EventKey {
	switch ev.Rune() {
	case 'q':
		c.quit()
	case 'r':
		c.act(restartControl)
	case 's':
		c.act(stopControl)
	case 'S':
		c.act(startControl)
	case 'b':
		c.showBuildLog()
	case '/':
		c.startSearch()
	case 'c':
		c.clearOutput()
	case '?':
		c.showHelp(true)
	case 'G':
		c.follow()
	default:
		return ev // j, k, g go to the process table
	}
	return nil
}

// scrollOutput scrolls the output panel and stops following the tail.
func (c *Console) scrollOutput(ev *tcell.EventKey) {
	switch ev.Key() {
	case tcell.KeyCtrlU:
		ev = tcell.NewEventKey(tcell.KeyPgUp, 0, tcell.ModNone)
	case tcell.KeyCtrlD:
		ev = tcell.NewEventKey(tcell.KeyPgDn, 0, tcell.ModNone)
	}
	c.ui.output.InputHandler()(ev, func(tview.Primitive) {})
	if c.out.mode != modeSearch {
		c.out.paused = true
		c.renderOutputTitle()
	}
}

// follow scrolls to the end and follows the tail again.
func (c *Console) follow() {
	c.out.paused = false
	c.ui.output.ScrollToEnd()
	if c.out.mode != modeSearch {
		c.out.shown = ""
		c.renderOutputTitle()
		c.fetchOutput()
	}
}

func (c *Console) showHelp(show bool) {
	c.helpShown = show
	if show {
		c.ui.root.ShowPage("help")
	} else {
		c.ui.root.HidePage("help")
	}
}
