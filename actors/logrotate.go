package actors

import (
	"errors"
	"io/fs"
	"os"
	"time"
)

// Rotation and room: a file past its size moves to .1 (older ones shift
// and the oldest beyond log_keep goes), and the oldest rotated files are
// deleted while the process's files would pass its share of log_total_mb.

// rotate renames kind's current file to .1, shifting the older ones and
// deleting what passes log_keep.
func (lf *logFiles) rotate(kind LogKind) error {
	kf := &lf.kinds[kind]
	lf.closeFile(kf)
	if lf.keep == 0 {
		kf.size = 0
		return ignoreMissing(os.Remove(lf.path(kind, 0)))
	}
	if len(kf.rotated) >= lf.keep {
		if err := ignoreMissing(os.Remove(lf.path(kind, lf.keep))); err != nil {
			return err
		}
		kf.rotated = kf.rotated[:lf.keep-1]
	}
	for i := len(kf.rotated); i >= 0; i-- {
		if err := ignoreMissing(os.Rename(lf.path(kind, i), lf.path(kind, i+1))); err != nil {
			return err
		}
	}
	kf.rotated = append([]oldFile{{size: kf.size, at: time.Now()}}, kf.rotated...)
	kf.size = 0
	return nil
}

// used is what all of the process's files hold.
func (lf *logFiles) used() int64 {
	var n int64
	for _, kf := range lf.kinds {
		n += kf.size
		for _, o := range kf.rotated {
			n += o.size
		}
	}
	return n
}

// makeRoom deletes files until n more bytes fit in the budget: the oldest
// rotated file of either kind first, then the other kind's current file,
// then kind's own. It reports whether n bytes fit.
func (lf *logFiles) makeRoom(kind LogKind, n int64) bool {
	for lf.used()+n > lf.budget {
		if !lf.dropOldest(kind) {
			return false
		}
	}
	return true
}

// dropOldest deletes one file as makeRoom says; false when none is left.
func (lf *logFiles) dropOldest(kind LogKind) bool {
	victim := -1
	for k, kf := range lf.kinds {
		if len(kf.rotated) == 0 {
			continue
		}
		if victim < 0 || kf.rotated[len(kf.rotated)-1].at.Before(lf.kinds[victim].rotated[len(lf.kinds[victim].rotated)-1].at) {
			victim = k
		}
	}
	if victim >= 0 {
		kf := &lf.kinds[victim]
		last := len(kf.rotated)
		os.Remove(lf.path(LogKind(victim), last))
		kf.rotated = kf.rotated[:last-1]
		return true
	}
	for _, k := range []LogKind{1 - kind, kind} {
		if kf := &lf.kinds[k]; kf.size > 0 {
			lf.closeFile(kf)
			os.Remove(lf.path(k, 0))
			kf.size, kf.partial = 0, false
			return true
		}
	}
	return false
}

func ignoreMissing(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
