// Package bench holds bpm's end-to-end benchmark suite: real bpm, real
// children, and the peers (supervisord, PM2) running the same child, with
// one table of results against the targets of issue 9.
//
// It is behind the e2e build tag, so `go test ./...` does not run it:
//
//	just bench-e2e
//	go test -tags e2e -run TestE2E -v -timeout 30m ./bench/
//
// docs/benchmarks.md says how to install the peers and holds a run's table.
package bench
