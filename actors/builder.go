package actors

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"bpm/actors/osproc"
	"bpm/config"
)

// buildTailLines is how many of a failed build's last lines the builder
// picks the error lines from.
const buildTailLines = 400

// maxErrorLines caps the error lines a failed build reports.
const maxErrorLines = 60

// Builder is the actor that runs one process's builds, one at a time, and
// streams their output to the process's logbuffer.
type Builder struct {
	cfg   *config.Config
	proc  *config.Process
	logs  *actor.PID
	guard *osproc.Guard // kills the build's group if bpm dies

	nextID int
	cur    *buildJob
}

type buildJob struct {
	req       BuildRequest
	replyTo   *actor.PID
	logID     int
	pid       int
	started   time.Time
	artifacts []cargoArtifact
	cancelled bool
	cancelers []*actor.PID
}

// cargoArtifact is the part of cargo's compiler-artifact message bpm needs.
type cargoArtifact struct {
	Reason string `json:"reason"`
	Target struct {
		Name string   `json:"name"`
		Kind []string `json:"kind"`
	} `json:"target"`
	Executable *string `json:"executable"`
}

// buildArtifact is an executable cargo reported for the build with log id
// id, sent by its stdout reader.
type buildArtifact struct {
	id int
	a  cargoArtifact
}

// buildExited reports the end of the build with log id id.
type buildExited struct {
	id   int
	info osproc.ExitInfo
}

// NewBuilder returns a builder for proc that logs to logs.
func NewBuilder(cfg *config.Config, proc *config.Process, logs *actor.PID) *Builder {
	return &Builder{cfg: cfg, proc: proc, logs: logs}
}

// Receive handles BuildRequest, CancelBuildRequest and the builder's own events.
func (b *Builder) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case reconfigure:
		// The next build uses the reloaded table; one under way goes on.
		b.cfg, b.proc = m.cfg, m.proc
	case BuildRequest:
		b.start(ctx, m)
	case buildArtifact:
		if b.cur != nil && b.cur.logID == m.id {
			b.cur.artifacts = append(b.cur.artifacts, m.a)
		}
	case buildExited:
		b.finish(ctx, m)
	case CancelBuildRequest:
		if b.cur == nil {
			ctx.Respond(CancelBuildReply{})
			return
		}
		b.cur.cancelled = true
		if ctx.Sender() != nil {
			b.cur.cancelers = append(b.cur.cancelers, ctx.Sender())
		}
		_ = osproc.SignalGroup(b.cur.pid, syscall.SIGKILL)
	case KillRequest:
		if b.cur != nil {
			b.cur.cancelled = true
			_ = osproc.SignalGroup(b.cur.pid, syscall.SIGKILL)
		}
	}
}

func (b *Builder) start(ctx actor.Context, req BuildRequest) {
	now := time.Now()
	reply := BuildReply{ID: req.ID, Mode: req.Mode, Started: now}
	if b.cur != nil {
		reply.Err = fmt.Errorf("build %s: a build is already running", b.proc.Name)
		ctx.Respond(reply)
		return
	}
	argv := b.cfg.BuildArgv(b.proc, req.Mode)
	if b.proc.Type == "go" {
		reply.Artifact = b.cfg.GoOutput(b.proc)
		if err := config.MkdirUnder(b.cfg.Dir, filepath.Dir(reply.Artifact)); err != nil {
			reply.Err = fmt.Errorf("build %s: %w", b.proc.Name, err)
			ctx.Respond(reply)
			return
		}
	}
	if argv == nil {
		ctx.Respond(reply)
		return
	}
	b.nextID++
	id := b.nextID
	root, self := ctx.ActorSystem().Root, ctx.Self()
	spec := spawnSpec{
		Argv: argv, Dir: b.proc.Dir, Env: b.proc.Env,
		Root: root, Logs: b.logs, Kind: KindBuild, LogID: id,
		OnStarted: func(pid int) { ctx.Send(b.logs, LogStart{Kind: KindBuild, ID: id, PID: pid, StartedAt: now}) },
		OnExit:    func(info osproc.ExitInfo) { root.Send(self, buildExited{id: id, info: info}) },
		Guard:     b.guard,
	}
	if b.proc.Type == "rust" {
		spec.KeepStdout = cargoFilter(func(a cargoArtifact) { root.Send(self, buildArtifact{id: id, a: a}) })
	}
	pid, err := spawn(spec)
	if err != nil {
		msg := fmt.Sprintf("cannot start %s: %v", argv[0], err)
		ctx.Send(b.logs, LogStart{Kind: KindBuild, ID: id, StartedAt: now})
		ctx.Send(b.logs, LogAppend{Kind: KindBuild, ID: id, Stream: Stderr, Text: msg, Time: now})
		reply.Err = fmt.Errorf("build %s: %s", b.proc.Name, msg)
		reply.ErrorLines = []string{msg}
		ctx.Respond(reply)
		return
	}
	b.cur = &buildJob{req: req, replyTo: ctx.Sender(), logID: id, pid: pid, started: now}
}

// cargoFilter returns the stdout filter of a cargo build: cargo's JSON
// messages are not logged (their diagnostics are rendered on stderr), and the
// executables they announce go to found.
func cargoFilter(found func(cargoArtifact)) func(line []byte) bool {
	return func(line []byte) bool {
		if len(line) == 0 || line[0] != '{' {
			return true
		}
		var a cargoArtifact
		if json.Unmarshal(line, &a) != nil {
			return true
		}
		if a.Reason == "compiler-artifact" && a.Executable != nil {
			found(a)
		}
		return false
	}
}

// CargoExecutable reads the stdout of p's cargo build (config.BuildArgv's
// JSON message format), copies the lines that are not cargo's messages to
// out, and returns the executable to run, chosen as bpm's builder chooses it.
func CargoExecutable(p *config.Process, stdout io.Reader, out io.Writer) (string, error) {
	var arts []cargoArtifact
	keep := cargoFilter(func(a cargoArtifact) { arts = append(arts, a) })
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		if keep(sc.Bytes()) {
			fmt.Fprintf(out, "%s\n", sc.Bytes())
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("build %s: reading cargo's output: %w", p.Name, err)
	}
	return pickArtifact(p, arts)
}

// finish answers the build whose leader exited: its group is already
// killed, so nothing it started runs on. A failed build's error lines come
// from its log, asked for before the closing line is logged.
func (b *Builder) finish(ctx actor.Context, m buildExited) {
	job := b.cur
	if job == nil || job.logID != m.id {
		return
	}
	b.cur = nil
	b.guard.Remove(job.pid)
	reply := BuildReply{ID: job.req.ID, Mode: job.req.Mode, Started: job.started,
		Seconds: m.info.At.Sub(job.started).Seconds()}
	done := func() {
		if reply.Err != nil && len(reply.ErrorLines) == 0 {
			reply.ErrorLines = []string{reply.Err.Error()}
		}
		if job.replyTo != nil {
			ctx.Send(job.replyTo, reply)
		}
		for _, c := range job.cancelers {
			if c != nil {
				ctx.Send(c, CancelBuildReply{})
			}
		}
	}
	defer ctx.Send(b.logs, LogAppend{Kind: KindBuild, ID: m.id, Stream: Stderr, Time: m.info.At,
		Text: fmt.Sprintf("[bpm] build %s finished: %s in %.1fs", job.req.Mode, m.info, reply.Seconds)})
	switch {
	case job.cancelled:
		reply.Err = fmt.Errorf("build %s: cancelled", b.proc.Name)
	case m.info.Code != 0:
		reply.Err = fmt.Errorf("build %s failed (%s)", b.proc.Name, m.info)
		f := ctx.RequestFuture(b.logs, TailRequest{Kind: KindBuild, ID: m.id, N: buildTailLines}, askTimeout)
		reenterAfter(ctx, f, func(res any, _ error) {
			if t, ok := res.(TailReply); ok {
				reply.ErrorLines = errorLines(t.Lines)
			}
			done()
		})
		return
	case b.proc.Type == "rust":
		reply.Artifact, reply.Err = pickArtifact(b.proc, job.artifacts)
	case b.proc.Type == "go":
		reply.Artifact = b.cfg.GoOutput(b.proc)
	}
	done()
}

// pickArtifact chooses the executable to run among those cargo built.
func pickArtifact(p *config.Process, arts []cargoArtifact) (string, error) {
	var names []string
	for _, a := range arts {
		if !slices.Contains(a.Target.Kind, "bin") {
			continue
		}
		if p.Bin != "" && a.Target.Name == p.Bin {
			return *a.Executable, nil
		}
		names = append(names, a.Target.Name)
	}
	switch {
	case p.Bin != "":
		return "", fmt.Errorf("build %s: cargo built no binary named %q (built: %s)", p.Name, p.Bin, strings.Join(names, ", "))
	case len(names) == 0:
		return "", fmt.Errorf("build %s: cargo built no binary; is this a binary crate?", p.Name)
	case len(names) > 1:
		return "", fmt.Errorf("build %s: cargo built several binaries (%s); set bin = \"NAME\" in [process.%s]",
			p.Name, strings.Join(names, ", "), p.Name)
	}
	for _, a := range arts {
		if slices.Contains(a.Target.Kind, "bin") {
			return *a.Executable, nil
		}
	}
	return "", nil
}

// errorLineRE recognises the first line of a compiler error: rustc's
// "error[E0425]: …", go's "./main.go:3:5: …", or a generic "error: …".
var errorLineRE = regexp.MustCompile(`(?i)^(error\b|\S+\.\w+:\d+(:\d+)?: )|\berror:`)

// errorLines picks a failed build's error lines out of its output: from the
// first error line on, at most maxErrorLines; the last lines when none looks
// like an error.
func errorLines(tail []string) []string {
	for i, l := range tail {
		if errorLineRE.MatchString(strings.TrimSpace(l)) {
			end := min(len(tail), i+maxErrorLines)
			return append([]string(nil), tail[i:end]...)
		}
	}
	start := max(0, len(tail)-20)
	return append([]string(nil), tail[start:]...)
}
