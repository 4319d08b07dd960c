package actors

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"bpm/config"
)

// buildTailLines is how many lines of a build the builder keeps to pick the
// error lines from when it fails.
const buildTailLines = 400

// maxErrorLines caps the error lines a failed build reports.
const maxErrorLines = 60

// Builder is the actor that runs one process's builds, one at a time, and
// streams their output to the process's logbuffer.
type Builder struct {
	cfg   *config.Config
	proc  *config.Process
	logs  *actor.PID
	guard *Guard // kills the build's group if bpm dies

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
	tail      []string
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

// buildOutput is a line of the running build, sent by its reader goroutines.
type buildOutput struct {
	id     int
	stream string
	text   string
}

// buildExited reports the end of the build with log id id.
type buildExited struct {
	id   int
	info exitInfo
}

// NewBuilder returns a builder for proc that logs to logs.
func NewBuilder(cfg *config.Config, proc *config.Process, logs *actor.PID) *Builder {
	return &Builder{cfg: cfg, proc: proc, logs: logs}
}

// Receive handles BuildRequest, CancelBuildRequest and the builder's own events.
func (b *Builder) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case BuildRequest:
		b.start(ctx, m)
	case buildOutput:
		b.output(ctx, m)
	case buildExited:
		b.finish(ctx, m)
	case CancelBuildRequest:
		if b.cur == nil {
			ctx.Respond(CancelBuildReply{})
			return
		}
		b.cur.cancelled = true
		b.cur.cancelers = append(b.cur.cancelers, ctx.Sender())
		_ = signalGroup(b.cur.pid, syscall.SIGKILL)
	case KillRequest:
		if b.cur != nil {
			b.cur.cancelled = true
			_ = signalGroup(b.cur.pid, syscall.SIGKILL)
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
		if err := os.MkdirAll(filepath.Dir(reply.Artifact), 0o755); err != nil {
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
	pid, err := spawn(spawnSpec{
		Argv: argv,
		Dir:  b.proc.Dir,
		Env:  b.proc.Env,
		OnLine: func(stream, text string) {
			root.Send(self, buildOutput{id: id, stream: stream, text: text})
		},
		OnExit:       func(info exitInfo) { root.Send(self, buildExited{id: id, info: info}) },
		WaitForPipes: true,
	})
	ctx.Send(b.logs, LogStart{Kind: KindBuild, ID: id, PID: pid, StartedAt: now})
	if err != nil {
		msg := fmt.Sprintf("cannot start %s: %v", argv[0], err)
		ctx.Send(b.logs, LogAppend{Kind: KindBuild, ID: id, Stream: Stderr, Text: msg, Time: now})
		reply.Err = fmt.Errorf("build %s: %s", b.proc.Name, msg)
		reply.ErrorLines = []string{msg}
		ctx.Respond(reply)
		return
	}
	b.guard.Add(pid)
	b.cur = &buildJob{req: req, replyTo: ctx.Sender(), logID: id, pid: pid, started: now}
}

func (b *Builder) output(ctx actor.Context, m buildOutput) {
	if b.proc.Type == "rust" && m.stream == Stdout && strings.HasPrefix(m.text, "{") {
		// cargo's JSON messages: keep the artifacts, log nothing (the
		// diagnostics are rendered on stderr).
		var a cargoArtifact
		if json.Unmarshal([]byte(m.text), &a) == nil {
			if a.Reason == "compiler-artifact" && a.Executable != nil && b.cur != nil && b.cur.logID == m.id {
				b.cur.artifacts = append(b.cur.artifacts, a)
			}
			return
		}
	}
	ctx.Send(b.logs, LogAppend{Kind: KindBuild, ID: m.id, Stream: m.stream, Text: m.text, Time: time.Now()})
	if b.cur != nil && b.cur.logID == m.id {
		b.cur.tail = append(b.cur.tail, m.text)
		if len(b.cur.tail) > buildTailLines {
			b.cur.tail = b.cur.tail[len(b.cur.tail)-buildTailLines:]
		}
	}
}

func (b *Builder) finish(ctx actor.Context, m buildExited) {
	job := b.cur
	if job == nil || job.logID != m.id {
		return
	}
	b.cur = nil
	// A build leaves nothing running behind it.
	_ = signalGroup(job.pid, syscall.SIGKILL)
	b.guard.Remove(job.pid)
	reply := BuildReply{ID: job.req.ID, Mode: job.req.Mode, Started: job.started,
		Seconds: m.info.At.Sub(job.started).Seconds()}
	switch {
	case job.cancelled:
		reply.Err = fmt.Errorf("build %s: cancelled", b.proc.Name)
	case m.info.Code != 0:
		reply.ErrorLines = errorLines(job.tail)
		reply.Err = fmt.Errorf("build %s failed (%s)", b.proc.Name, m.info)
	case b.proc.Type == "rust":
		reply.Artifact, reply.Err = pickArtifact(b.proc, job.artifacts)
	case b.proc.Type == "go":
		reply.Artifact = b.cfg.GoOutput(b.proc)
	}
	if reply.Err != nil && len(reply.ErrorLines) == 0 {
		reply.ErrorLines = []string{reply.Err.Error()}
	}
	ctx.Send(b.logs, LogAppend{Kind: KindBuild, ID: m.id, Stream: Stderr, Time: m.info.At,
		Text: fmt.Sprintf("[bpm] build %s finished: %s in %.1fs", job.req.Mode, m.info, reply.Seconds)})
	if job.replyTo != nil {
		ctx.Send(job.replyTo, reply)
	}
	for _, c := range job.cancelers {
		ctx.Send(c, CancelBuildReply{})
	}
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
