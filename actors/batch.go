package actors

import (
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"bpm/config"
)

// batchTimeout bounds each process's part of a request for All: a cold
// build can take many minutes.
const batchTimeout = 30 * time.Minute

// stopResult is one process's answer to a stop of several.
type stopResult struct {
	name string
	err  error
}

// fanOut sends msg(name) to every process in dependency order: to each
// once all its dependencies have answered (a start or restart answers when
// its run is ready), so none waits on a dependency still being handled.
// A process whose dependency failed is not asked; its reply says why. The
// caller gets a BatchReply, in start order, once all have answered.
func (s *Supervisor) fanOut(ctx actor.Context, msg func(name string) any) {
	root, caller, cfg, self := ctx.ActorSystem().Root, ctx.Sender(), s.opts.Config, ctx.Self()
	names := cfg.StartOrder()
	for _, name := range names {
		s.deps.inBatch[name]++
	}
	type result struct {
		done  chan struct{}
		reply RestartReply
	}
	results := map[string]*result{}
	for _, name := range names {
		results[name] = &result{done: make(chan struct{})}
	}
	for _, name := range names {
		pid, deps, res := s.procs[name].proc, cfg.Process(name).DependsOn, results[name]
		go func() {
			defer close(res.done)
			defer root.Send(self, batchAnswered{name: name})
			for _, d := range deps {
				<-results[d].done
				if err := results[d].reply.Err; err != nil {
					res.reply = RestartReply{Process: name, Err: fmt.Errorf("%s: not asked, since its dependency %s failed", name, d)}
					return
				}
			}
			got, err := root.RequestFuture(pid, msg(name), batchTimeout).Result()
			r, ok := got.(RestartReply)
			if !ok {
				r = RestartReply{Process: name, Err: fmt.Errorf("%s: no answer: %v", name, err)}
			}
			res.reply = r
		}()
	}
	go func() {
		var reply BatchReply
		for _, name := range names {
			<-results[name].done
			reply.Replies = append(reply.Replies, results[name].reply)
		}
		if caller != nil {
			root.Send(caller, reply)
		}
	}()
}

// stopOrdered sends msg(name) to every process, each once all its
// dependants have answered, so dependants stop before what they depend on;
// processes that do not depend on each other stop at the same time. done
// gets the answers, in the order the stops were sent, from a goroutine.
func (s *Supervisor) stopOrdered(ctx actor.Context, msg func(name string) any, timeout func(*config.Process) time.Duration, done func([]stopResult)) {
	root, cfg := ctx.ActorSystem().Root, s.opts.Config
	order := cfg.StartOrder()
	stopped := map[string]chan struct{}{}
	for _, name := range order {
		stopped[name] = make(chan struct{})
	}
	results := make(chan stopResult, len(order))
	for i := len(order) - 1; i >= 0; i-- {
		name, p := order[i], cfg.Process(order[i])
		pid, wait := s.procs[name].proc, cfg.Dependants(name)
		go func() {
			defer close(stopped[name])
			for _, d := range wait {
				<-stopped[d]
			}
			res, err := root.RequestFuture(pid, msg(name), timeout(p)).Result()
			if r, ok := res.(StopProcessReply); ok {
				err = r.Err
			}
			results <- stopResult{name: name, err: err}
		}()
	}
	go func() {
		out := make([]stopResult, 0, len(order))
		for range order {
			out = append(out, <-results)
		}
		done(out)
	}()
}

// batchReplier answers the current caller with the stops' results as a
// BatchReply.
func (s *Supervisor) batchReplier(ctx actor.Context) func([]stopResult) {
	root, caller := ctx.ActorSystem().Root, ctx.Sender()
	return func(results []stopResult) {
		var reply BatchReply
		for _, r := range results {
			reply.Replies = append(reply.Replies, RestartReply{Process: r.name, Err: r.err})
		}
		if caller != nil {
			root.Send(caller, reply)
		}
	}
}
