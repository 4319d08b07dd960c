package actors

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"
	"time"

	"bpm/config"
)

// chunkOf returns a chunk of whole lines of about 60 bytes, at most
// chunkBytes long, like a reader sends.
func chunkOf(first int) []byte {
	var b bytes.Buffer
	for i := first; ; i++ {
		line := fmt.Sprintf("2026-11-25T10:00:00Z GET /api/items/%07d 200 1.2ms ok\n", i)
		if b.Len()+len(line) > chunkBytes {
			return b.Bytes()
		}
		b.WriteString(line)
	}
}

// millionLines is a ring holding 1,000,000 lines of about 60 bytes, one in
// 10,000 of them an error.
func millionLines(tb testing.TB) *ring {
	tb.Helper()
	r := newBoundedRing(1_000_000, 1<<31-1)
	at := time.Now().UnixNano()
	for i := range 1_000_000 {
		line := fmt.Appendf(nil, "2026-11-25T10:00:00Z GET /api/items/%07d 200 1.2ms ok", i)
		if i%10_000 == 0 {
			line = fmt.Appendf(nil, "2026-11-25T10:00:00Z ERROR item %07d: connection reset", i)
		}
		r.push(0, at, line, nil)
	}
	return &r
}

// Storing a chunk allocates nothing per line: a chunk of a thousand lines
// costs what a chunk of ten does.
func TestChunkAllocationsDoNotGrowWithItsLines(t *testing.T) {
	allocs := func(lines int) float64 {
		lb := NewLogBuffer("web", 100_000, 1, nil, nil)
		lb.open(LogStart{Kind: KindRun, ID: 1})
		data := bytes.Repeat([]byte("GET /api/items/42 200 1.2ms\n"), lines)
		return testing.AllocsPerRun(50, func() {
			lb.chunk(LogChunk{Kind: KindRun, ID: 1, Stream: Stdout, Data: data})
		})
	}
	if few, many := allocs(10), allocs(1000); many > few+2 {
		t.Errorf("allocations per chunk: %v for 10 lines, %v for 1000", few, many)
	}
}

// BenchmarkChunkAppend stores 64 KiB chunks of 60-byte lines and writes them
// through; ns/line is the logbuffer's cost per line.
func BenchmarkChunkAppend(b *testing.B) {
	lb := NewLogBuffer("web", 10000, 10, nil, nil)
	lb.open(LogStart{Kind: KindRun, ID: 1})
	data := chunkOf(0)
	lines := bytes.Count(data, []byte{'\n'})
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		lb.chunk(LogChunk{Kind: KindRun, ID: 1, Stream: Stdout, Data: data, At: time.Now()})
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*lines), "ns/line")
}

// BenchmarkRingMemory reports what 1,000,000 stored lines of about 60 bytes
// hold on the heap, against their bytes of text.
func BenchmarkRingMemory(b *testing.B) {
	var before, after runtime.MemStats
	for b.Loop() {
		runtime.GC()
		runtime.ReadMemStats(&before)
		r := millionLines(b)
		runtime.GC()
		runtime.ReadMemStats(&after)
		text := 0
		for i := range r.n {
			text += int(r.at(i).size)
		}
		heap := float64(after.HeapAlloc - before.HeapAlloc)
		b.ReportMetric(heap/(1<<20), "MiB")
		b.ReportMetric(heap/float64(text), "x-text")
		runtime.KeepAlive(r)
	}
}

// BenchmarkSearchMillion searches 1,000,000 lines as an agent would.
func BenchmarkSearchMillion(b *testing.B) {
	r := millionLines(b)
	for _, bc := range []struct {
		name string
		q    SearchRequest
	}{
		{"rare literal tail 10", SearchRequest{Pattern: `ERROR item \d+`, Tail: 10}},
		{"rare literal context 3", SearchRequest{Pattern: "connection reset", ContextLines: 3, Limit: 2000}},
		{"no literal tail 10", SearchRequest{Pattern: `\d{7}: c`, Tail: 10}},
		{"every line tail 10", SearchRequest{Pattern: "items", Tail: 10}},
		{"no pattern tail 100", SearchRequest{Tail: 100}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, _, _, err := searchRing(r, bc.q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkChunkAppendLogDir is BenchmarkChunkAppend with log_dir set: each
// chunk is also rendered with its time stamps and appended to run.log
// (rotating at 10 MiB, 5 kept, in a temporary directory).
func BenchmarkChunkAppendLogDir(b *testing.B) {
	cfg := &config.Config{LogDir: b.TempDir(), LogMaxBytes: 10 << 20, LogKeep: 5, LogTotalBytes: 500 << 20,
		Processes: []*config.Process{{Name: "web"}}}
	lb := NewLogBuffer("web", 10000, 10, nil, nil)
	lb.files = newLogFiles(cfg, "web", logDirBudget(cfg))
	lb.loadFiles()
	defer lb.files.close()
	lb.open(LogStart{Kind: KindRun, ID: 1})
	data := chunkOf(0)
	lines := bytes.Count(data, []byte{'\n'})
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		lb.chunk(LogChunk{Kind: KindRun, ID: 1, Stream: Stdout, Data: data, At: time.Now()})
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*lines), "ns/line")
}
