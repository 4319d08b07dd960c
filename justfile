# Thin wrappers over plain go commands: nothing here is needed to build or test.

# Run bpm on the demo project (MCP on http://127.0.0.1:3001/mcp).
run dir="examples/hello":
    go run . {{dir}}

# The test suite, as CI runs it.
test:
    go test -race -count=1 ./...

# Formatting and static checks.
lint:
    gofmt -l . | tee /dev/stderr | (! read)
    go vet ./...

# Benchmarks (log buffer, search).
bench:
    go test -run '^$' -bench . -benchmem ./...

# The operator console, against a running bpm.
tui url="http://127.0.0.1:3001/mcp":
    go run . tui {{url}}

# Failed requests and the longest request during a restart under load, with
# and without the socket hand-off (docs/zero-downtime.md).
bench-restart:
    go test -run '^$' -bench RestartUnderLoad -benchtime 20x ./actors/

# End-to-end benchmarks against the raw pipe, supervisord and PM2, one table
# at the end (docs/benchmarks.md); BPM_BENCH_OUT=FILE also writes it there.
bench-e2e:
    go test -tags e2e -run TestE2E -v -timeout 30m ./bench/

# Validate a project's .mcp-run and print the resolved plan.
check dir=".":
    go run . check {{dir}}

# Build the binary into ./bpm.
build:
    go build -o bpm .
