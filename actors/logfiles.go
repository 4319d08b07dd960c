package actors

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"bpm/config"
)

// Persistent logs (log_dir): each logbuffer appends its process's runs and
// builds to LOGDIR/NAME/run.log and build.log, one line per output line:
//
//	2026-11-25T10:00:00.123Z === run 3 pid 1234
//	2026-11-25T10:00:00.125Z out listening on :8080
//	2026-11-25T10:00:01.002Z err warning: slow
//
// A file past its size is renamed to .1 (the older ones shift to .2 …), and
// what all of the process's files hold together stays within its share of
// log_total_mb (logDirBudget). Only the logbuffer actor touches its files.

// stampLayout is the fixed-width UTC time that begins every line of a file.
const stampLayout = "2006-01-02T15:04:05.000Z"

// stampBytes is len(stampLayout); a line's tag follows at stampBytes+1.
const stampBytes = len(stampLayout)

// Line tags: a run or build boundary, and the two streams.
const (
	tagStart  = "==="
	tagStdout = "out"
	tagStderr = "err"
)

// retryWrites is how long persistent logging pauses after a write failed.
const retryWrites = 10 * time.Second

// checkFileEvery is how often an open file is checked to still be the one
// its path names: a removed log_dir, a `mv run.log` or a logrotate must not
// leave bpm writing to a file nobody can see.
const checkFileEvery = 2 * time.Second

// logFiles is one process's files under log_dir; nil when log_dir is unset.
type logFiles struct {
	dir     string // LOGDIR/NAME
	project string // the project directory: never re-created (config.MkdirUnder)
	name    string
	maxMB   int64 // log_max_mb in bytes
	maxFile int64 // a file is rotated before a write would take it past this
	keep    int   // rotated files kept per kind
	budget  int64 // bytes all of this process's files may hold
	kinds   [2]kindFile
	failed  bool // a write failed: lines are not written until retryAt
	retryAt time.Time
	lost    int // lines not written since the failure, or for want of room
	failErr error
	// replaced names a file found removed or replaced, for the note of the
	// flush that opened a new one.
	replaced string

	stampAt  int64 // the time stamp renders, unix nanoseconds
	stampBuf []byte
}

// kindFile is the current file of one kind and what was rotated from it.
type kindFile struct {
	f       *os.File // nil until the next write opens it
	size    int64
	rotated []oldFile // .1, .2 …: newest first
	buf     []byte    // the lines of one chunk, written at once
	partial bool      // the last write stopped inside a line
	checked time.Time // when f was last found to be the file its path names
}

// oldFile is a rotated file's size and when it was rotated.
type oldFile struct {
	size int64
	at   time.Time
}

// newLogFiles returns name's files under cfg.LogDir holding at most budget
// bytes, or nil when cfg keeps logs in memory only.
func newLogFiles(cfg *config.Config, name string, budget int64) *logFiles {
	if cfg.LogDir == "" {
		return nil
	}
	return &logFiles{
		dir:     filepath.Join(cfg.LogDir, name),
		project: cfg.Dir,
		name:    name,
		maxMB:   cfg.LogMaxBytes,
		maxFile: max(min(cfg.LogMaxBytes, budget/2), 1),
		keep:    cfg.LogKeep,
		budget:  budget,
	}
}

// share sets the process's share of log_total_mb and keeps its files within
// it at once; nil does nothing.
func (lf *logFiles) share(budget int64) {
	if lf == nil {
		return
	}
	lf.budget, lf.maxFile = budget, max(min(lf.maxMB, budget/2), 1)
	lf.makeRoom(KindRun, 0)
}

// path is the file of kind: current (i = 0) or rotated i.
func (lf *logFiles) path(kind LogKind, i int) string {
	p := filepath.Join(lf.dir, kind.String()+".log")
	if i > 0 {
		p += "." + strconv.Itoa(i)
	}
	return p
}

// scan learns what the files of an earlier session hold, deletes rotated
// files beyond log_keep, and trims them to the budget.
func (lf *logFiles) scan() {
	if err := config.MkdirUnder(lf.project, lf.dir); err != nil {
		lf.fail(err)
		return
	}
	for k := range lf.kinds {
		kind, kf := LogKind(k), &lf.kinds[k]
		if st, err := os.Stat(lf.path(kind, 0)); err == nil {
			kf.size = st.Size()
		}
		for i := 1; ; i++ {
			st, err := os.Stat(lf.path(kind, i))
			if err != nil {
				break
			}
			if i > lf.keep {
				os.Remove(lf.path(kind, i))
				continue
			}
			kf.rotated = append(kf.rotated, oldFile{size: st.Size(), at: st.ModTime()})
		}
	}
	lf.makeRoom(KindRun, 0)
}

// stamp returns the "TIME tag " that begins each line written at at.
func (lf *logFiles) stamp(at int64, stream uint8) []byte {
	if at != lf.stampAt || len(lf.stampBuf) == 0 {
		lf.stampAt = at
		lf.stampBuf = time.Unix(0, at).UTC().AppendFormat(lf.stampBuf[:0], stampLayout)
		lf.stampBuf = append(lf.stampBuf, " "+tagStdout+" "...)
	}
	tag := tagStdout
	if stream == 1 {
		tag = tagStderr
	}
	copy(lf.stampBuf[stampBytes+1:], tag)
	return lf.stampBuf
}

// begin writes the boundary line of a new run or build.
func (lf *logFiles) begin(m LogStart) string {
	kf := &lf.kinds[m.Kind]
	kf.buf = time.Unix(0, m.StartedAt.UnixNano()).UTC().AppendFormat(kf.buf[:0], stampLayout)
	kf.buf = fmt.Appendf(kf.buf, " %s %s %d pid %d\n", tagStart, m.Kind, m.ID, m.PID)
	if note := lf.flush(m.Kind); note != "" {
		return note
	}
	// Each new run says so while nothing reaches the disk, so that an
	// agent reading it learns why its logs will not survive a restart.
	switch {
	case lf.budget <= 0:
		return fmt.Sprintf("[bpm] log_dir: other files in %s fill log_total_mb, so nothing of this %s is written to disk", filepath.Dir(lf.dir), m.Kind)
	case lf.failed:
		return fmt.Sprintf("[bpm] log_dir: cannot write %s (%v); this %s is kept in memory only", lf.dir, lf.failErr, m.Kind)
	}
	return ""
}

// line writes one line of kind.
func (lf *logFiles) line(kind LogKind, stream uint8, at int64, text []byte) string {
	kf := &lf.kinds[kind]
	kf.buf = append(append(append(kf.buf[:0], lf.stamp(at, stream)...), text...), '\n')
	return lf.flush(kind)
}

// flush writes kf.buf of kind; it returns a note for the ring when writing
// has just failed, else "".
func (lf *logFiles) flush(kind LogKind) string {
	kf := &lf.kinds[kind]
	data := kf.buf
	if cap(kf.buf) > 4*chunkBytes {
		kf.buf = nil
	}
	if lf.failed && time.Now().Before(lf.retryAt) {
		lf.lost += bytes.Count(data, []byte{'\n'})
		return ""
	}
	lost := lf.lost
	if lost > 0 {
		note := append([]byte(nil), lf.stamp(time.Now().UnixNano(), 1)...)
		note = fmt.Appendf(note, "[bpm] %d lines were not written to this file (a write failed, or log_total_mb left no room)\n", lost)
		data = append(note, data...)
		lf.lost = 0
	}
	if err := lf.put(kind, data); err != nil {
		lf.lost = lost + bytes.Count(data, []byte{'\n'})
		return lf.fail(err)
	}
	if lf.failed {
		lf.failed = false
		slog.Info("log_dir: writing again", "process", lf.name, "lines_not_written", lost)
	}
	if path := lf.replaced; path != "" {
		lf.replaced = ""
		slog.Warn("log_dir: a log file was removed or replaced while bpm wrote it; writing a new one", "process", lf.name, "file", path)
		return fmt.Sprintf("[bpm] log_dir: %s was removed or replaced while bpm wrote it; lines from here on go to a new file", path)
	}
	return ""
}

// put appends data (whole lines) to kind's file, rotating at line
// boundaries so that no file passes maxFile, except a line longer than a
// file, which gets a file of its own.
func (lf *logFiles) put(kind LogKind, data []byte) error {
	kf := &lf.kinds[kind]
	for len(data) > 0 {
		piece := data
		if room := lf.maxFile - kf.size; int64(len(piece)) > room {
			cut := bytes.LastIndexByte(data[:max(room, 0)], '\n')
			switch {
			case cut >= 0:
				piece = data[:cut+1]
			case kf.size > 0:
				if err := lf.rotate(kind); err != nil {
					return err
				}
				continue
			default:
				piece = data[:bytes.IndexByte(data, '\n')+1]
			}
		}
		data = data[len(piece):]
		if !lf.makeRoom(kind, int64(len(piece))+1) { // +1: a newline ending a half-written line
			lf.lost += bytes.Count(piece, []byte{'\n'})
			continue
		}
		if err := lf.write(kind, piece); err != nil {
			return err
		}
	}
	return nil
}

// write appends p to kind's current file, opening it if needed.
func (lf *logFiles) write(kind LogKind, p []byte) error {
	kf := &lf.kinds[kind]
	if kf.f != nil && time.Since(kf.checked) >= checkFileEvery {
		lf.check(kind)
	}
	if kf.f == nil {
		if err := config.MkdirUnder(lf.project, lf.dir); err != nil {
			return err
		}
		f, err := os.OpenFile(lf.path(kind, 0), os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		kf.f, kf.checked = f, time.Now()
		if st, err := f.Stat(); err == nil {
			kf.size = st.Size() // it may have changed behind bpm's back
		}
		kf.partial = !endsInNewline(f, kf.size)
	}
	if kf.partial {
		p = append([]byte{'\n'}, p...)
	}
	n, err := kf.f.Write(p)
	kf.size += int64(n)
	if n > 0 {
		kf.partial = p[n-1] != '\n'
	}
	return err
}

// check closes kind's open file when its path no longer names it (removed,
// renamed, replaced), so that the next write makes a new one; the rotated
// files are learned again, since they may be gone too.
func (lf *logFiles) check(kind LogKind) {
	kf := &lf.kinds[kind]
	kf.checked = time.Now()
	open, err1 := kf.f.Stat()
	named, err2 := os.Stat(lf.path(kind, 0))
	if err1 == nil && err2 == nil && os.SameFile(open, named) {
		return
	}
	lf.closeFile(kf)
	kf.size, kf.partial, kf.rotated = 0, false, nil
	for i := 1; i <= lf.keep; i++ {
		st, err := os.Stat(lf.path(kind, i))
		if err != nil {
			break
		}
		kf.rotated = append(kf.rotated, oldFile{size: st.Size(), at: st.ModTime()})
	}
	lf.replaced = lf.path(kind, 0)
}

// endsInNewline reports whether f, of size bytes, is empty or ends in '\n'
// (a bpm killed in a write may have left half a line).
func endsInNewline(f *os.File, size int64) bool {
	var last [1]byte
	if size == 0 {
		return true
	}
	if _, err := f.ReadAt(last[:], size-1); err != nil {
		return true
	}
	return last[0] == '\n'
}

func (lf *logFiles) closeFile(kf *kindFile) {
	if kf.f != nil {
		kf.f.Close()
		kf.f = nil
	}
}

// fail reports a write failure once, through slog and as the note it
// returns, and pauses writing for retryWrites; the files are closed, so the
// next try opens them afresh.
func (lf *logFiles) fail(err error) string {
	lf.retryAt = time.Now().Add(retryWrites)
	for k := range lf.kinds {
		lf.closeFile(&lf.kinds[k])
	}
	if lf.failed {
		return ""
	}
	lf.failed, lf.failErr = true, err
	slog.Warn("log_dir: cannot write; lines are kept in memory only, trying again in 10 s", "process", lf.name, "err", err)
	return fmt.Sprintf("[bpm] log_dir: cannot write %s (%v); lines are kept in memory only until writing works again", lf.dir, err)
}

// close closes the open files (the logbuffer stops); nil does nothing.
func (lf *logFiles) close() {
	if lf == nil {
		return
	}
	for k := range lf.kinds {
		lf.closeFile(&lf.kinds[k])
	}
}
