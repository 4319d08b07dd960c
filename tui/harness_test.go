package tui

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/gdamore/tcell/v2"

	"bpm/actors"
	"bpm/config"
	"bpm/mcp"
)

func TestMain(m *testing.M) {
	// bpm's own log lines ([bpm] hello: started …) would bury test output.
	slog.SetDefault(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}

// fixture is the project every console test runs against: a process that
// writes to stdout and stderr and stays up, one that keeps writing, one that
// crashes (and, with an hour of backoff, stays in backoff), and one whose
// build fails. The builds of hello and broken wait while the project holds
// a file named "hold" (see holdBuilds), so that what the console shows
// during a build stays on screen until the test has seen it.
const fixture = `
release_crash_backoff_initial_seconds = 3600
release_crash_backoff_max_seconds = 3600

[process.hello]
type = "command"
build = ["sh", "-c", "echo building hello; while [ -e hold ]; do sleep 0.05; done"]
command = ["sh", "-c", "echo hello; echo oops >&2; echo 'literal [red]brackets[-] stay'; exec sleep 1000"]

[process.ticker]
type = "command"
command = ["sh", "-c", "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.1; done"]

[process.crashy]
type = "command"
command = ["sh", "-c", "echo about to fail; exit 3"]

[process.broken]
type = "command"
build = ["sh", "-c", "echo compiling; echo 'error: missing semicolon' >&2; while [ -e hold ]; do sleep 0.05; done; exit 1"]
command = ["sleep", "1000"]
`

// bpmServer is a real actor tree on a temp project with mcp.NewHandler
// served on a loopback socket that can be stopped and served again on the
// same port.
type bpmServer struct {
	t      *testing.T
	system *actor.ActorSystem
	sup    *actor.PID
	dir    string // the project directory
	token  string
	addr   string // host:port, fixed after the first serve
	url    string
	http   *http.Server
}

// startBPM runs the fixture project and serves MCP, with token when not
// empty. Everything is stopped when the test ends.
func startBPM(t *testing.T, token string) *bpmServer {
	t.Helper()
	return startProject(t, fixture, token)
}

// startProject is startBPM with project configuration cfg.
func startProject(t *testing.T, cfg, token string) *bpmServer {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, config.FileName), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	loaded, err := config.Load(dir)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	b := &bpmServer{t: t, system: actors.NewSystem(), dir: dir, token: token, addr: "127.0.0.1:0"}
	b.sup, err = actors.Start(b.system, actors.Options{Config: loaded})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.stopHTTP()
		if _, err := actors.Ask[actors.StopReply](b.system.Root, b.sup, actors.StopRequest{}, time.Minute); err != nil {
			t.Errorf("stop: %v", err)
		}
		b.system.Shutdown()
	})
	b.serve()
	return b
}

// holdBuilds makes the fixture's builds wait until the returned func is
// called (or the test ends), so a state that lasts as long as a build
// (building…, starting…) can be seen however loaded the machine is.
func (b *bpmServer) holdBuilds() (release func()) {
	b.t.Helper()
	hold := filepath.Join(b.dir, "hold")
	if err := os.WriteFile(hold, nil, 0o644); err != nil {
		b.t.Fatal(err)
	}
	release = func() {
		if err := os.Remove(hold); err != nil && !errors.Is(err, os.ErrNotExist) {
			b.t.Error(err)
		}
	}
	b.t.Cleanup(release)
	return release
}

// serve starts the MCP endpoint, on the same port as before when it ran
// already. A new handler knows none of the old sessions, as after a restart
// of bpm.
func (b *bpmServer) serve() {
	b.t.Helper()
	l, err := net.Listen("tcp", b.addr)
	if err != nil {
		b.t.Fatalf("listen %s: %v", b.addr, err)
	}
	b.addr = l.Addr().String()
	b.url = "http://" + b.addr + mcp.Path
	b.http = &http.Server{Handler: mcp.NewHandler(b.system.Root, b.sup, mcp.Options{Token: b.token})}
	go func() {
		if err := b.http.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			b.t.Errorf("serve: %v", err)
		}
	}()
}

// stopHTTP closes the endpoint: it stops listening, lets the calls in
// flight end (a call cut off trips a data race in the mcp package's
// abandoned futures, not what these tests are about), then closes every
// connection.
func (b *bpmServer) stopHTTP() {
	if b.http == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b.http.Shutdown(ctx)
	b.http.Close()
	b.http = nil
}

// proc asks the actors directly for a process's status (what get_status reports).
func (b *bpmServer) proc(name string) actors.ProcessStatus {
	b.t.Helper()
	st, err := actors.Ask[actors.StatusReply](b.system.Root, b.sup, actors.StatusRequest{}, 10*time.Second)
	if err != nil {
		b.t.Fatal(err)
	}
	for _, p := range st.Processes {
		if p.Name == name {
			return p
		}
	}
	b.t.Fatalf("no process %q", name)
	return actors.ProcessStatus{}
}

// console is a Console drawing on a simulation screen, run until the test ends.
type console struct {
	t    *testing.T
	sim  tcell.SimulationScreen
	c    *Console
	done chan struct{} // closed when Run returned
	err  error         // what Run returned
}

// startConsole runs a console against url on a w×h simulation screen,
// refreshing every 100ms.
func startConsole(t *testing.T, url string, opts Options, w, h int) *console {
	t.Helper()
	sim := tcell.NewSimulationScreen("UTF-8")
	opts.Screen = sim
	if opts.Refresh == 0 {
		opts.Refresh = 100 * time.Millisecond
	}
	u := &console{t: t, sim: sim, c: New(url, opts), done: make(chan struct{})}
	sim.SetSize(w, h) // after New: SetScreen initialises the screen to 80×25
	go func() {
		u.err = u.c.Run()
		close(u.done)
	}()
	t.Cleanup(func() {
		select {
		case <-u.done:
			return // quit by the test
		default:
		}
		u.sim.InjectKey(tcell.KeyRune, 'q', tcell.ModNone)
		if err := u.wait(10 * time.Second); err != nil {
			t.Errorf("console: %v", err)
		}
	})
	return u
}

// wait waits for Run to return and returns its error.
func (u *console) wait(within time.Duration) error {
	select {
	case <-u.done:
		return u.err
	case <-time.After(within):
		// The screen cannot be read: the application may have stopped.
		u.t.Fatalf("Run did not return within %s of quitting", within)
		return nil
	}
}

// rows reads the screen as text, one string per row. It reads on the
// application's goroutine, where every draw happens.
func (u *console) rows() []string {
	var rows []string
	u.c.app.QueueUpdate(func() {
		cells, w, h := u.sim.GetContents()
		for y := range h {
			var b strings.Builder
			for _, cell := range cells[y*w : (y+1)*w] {
				if len(cell.Runes) == 0 {
					b.WriteByte(' ')
				} else {
					b.WriteString(string(cell.Runes))
				}
			}
			rows = append(rows, b.String())
		}
	})
	return rows
}

func (u *console) text() string { return strings.Join(u.rows(), "\n") }

// styles are the styles of the first cell of every occurrence of s on
// screen, top to bottom, left to right.
func (u *console) styles(s string) []tcell.Style {
	var found []tcell.Style
	u.c.app.QueueUpdate(func() {
		cells, w, h := u.sim.GetContents()
		for y := range h {
			var row []rune
			for _, cell := range cells[y*w : (y+1)*w] {
				row = append(row, append(cell.Runes, ' ')[0])
			}
			line := string(row)
			for off := 0; ; {
				i := strings.Index(line[off:], s)
				if i < 0 {
					break
				}
				x := len([]rune(line[:off+i]))
				found = append(found, cells[y*w+x].Style)
				off += i + len(s)
			}
		}
	})
	return found
}

// style is the style of the first cell of the first occurrence of s.
func (u *console) style(s string) (tcell.Style, bool) {
	if all := u.styles(s); len(all) > 0 {
		return all[0], true
	}
	return tcell.Style{}, false
}

// fg is the foreground colour of the first occurrence of s.
func (u *console) fg(s string) tcell.Color {
	u.t.Helper()
	st, ok := u.style(s)
	if !ok {
		u.t.Fatalf("%q not on screen:\n%s", s, u.text())
	}
	fg, _, _ := st.Decompose()
	return fg
}

// hasFg reports whether some occurrence of s on screen is drawn in c (the
// same text may also stand in another panel, in another colour).
func (u *console) hasFg(s string, c tcell.Color) bool {
	for _, st := range u.styles(s) {
		if fg, _, _ := st.Decompose(); fg == c {
			return true
		}
	}
	return false
}

// waitFor polls the screen every 20ms until cond holds, failing after within.
func (u *console) waitFor(within time.Duration, what string, cond func(screen string) bool) string {
	u.t.Helper()
	deadline := time.Now().Add(within)
	for {
		screen := u.text()
		if cond(screen) {
			return screen
		}
		if time.Now().After(deadline) {
			u.t.Fatalf("timed out after %s waiting for %s; screen:\n%s", within, what, screen)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not a wait for a state
	}
}

// waitText waits until every s is on screen.
func (u *console) waitText(within time.Duration, s ...string) string {
	u.t.Helper()
	return u.waitFor(within, strings.Join(s, ", "), func(screen string) bool {
		for _, x := range s {
			if !strings.Contains(screen, x) {
				return false
			}
		}
		return true
	})
}

// waitMatch waits until re matches the screen.
func (u *console) waitMatch(within time.Duration, re string) string {
	u.t.Helper()
	r := regexp.MustCompile(re)
	return u.waitFor(within, "/"+re+"/", r.MatchString)
}

func (u *console) key(k tcell.Key) { u.sim.InjectKey(k, 0, tcell.ModNone) }

func (u *console) typ(s string) {
	for _, r := range s {
		u.sim.InjectKey(tcell.KeyRune, r, tcell.ModNone)
	}
}

// selectProcess moves the selection down until name is selected.
func (u *console) selectProcess(name string) {
	u.t.Helper()
	want := "Process Details: " + name + " "
	for range 10 {
		screen := u.waitMatch(within, `Process Details: \S+ `)
		if strings.Contains(screen, want) {
			return
		}
		before := regexp.MustCompile(`Process Details: \S+ `).FindString(screen)
		u.typ("j")
		u.waitFor(within, "the selection to move", func(s string) bool { return !strings.Contains(s, before) })
	}
	u.t.Fatalf("could not select %s:\n%s", name, u.text())
}

const within = 20 * time.Second
