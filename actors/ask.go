package actors

import (
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Ask sends msg to pid and waits up to timeout for a reply of type T.
func Ask[T any](root *actor.RootContext, pid *actor.PID, msg any, timeout time.Duration) (T, error) {
	return resultOf[T](root.RequestFuture(pid, msg, timeout))
}

func resultOf[T any](f *actor.Future) (T, error) {
	var zero T
	res, err := f.Result()
	if err != nil {
		return zero, fmt.Errorf("no answer from bpm's actors: %w", err)
	}
	v, ok := res.(T)
	if !ok {
		return zero, fmt.Errorf("unexpected answer %T from bpm's actors", res)
	}
	return v, nil
}
