package actors

import (
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"bpm/config"
)

// logFileRE matches the name of a file bpm writes under LOGDIR/NAME.
var logFileRE = regexp.MustCompile(`^(run|build)\.log(\.[0-9]+)?$`)

// logDirBudget is what each configured process's files may hold under
// log_dir (0 without log_dir). Every logbuffer is an actor of its own, so
// the cap is shared by division, not by asking each other: log_total_mb,
// less what other files in log_dir hold, split equally. The logs of
// processes no longer configured are such other files; bpm deletes them,
// oldest first, while they hold more than one process's share. Files bpm
// did not write are never deleted; they only shrink the shares.
func logDirBudget(cfg *config.Config) int64 {
	if cfg.LogDir == "" || len(cfg.Processes) == 0 {
		return 0
	}
	stale, other := otherLogDirFiles(cfg)
	share := cfg.LogTotalBytes / int64(len(cfg.Processes)+1)
	for other > share && len(stale) > 0 {
		if err := os.Remove(stale[0].path); err == nil {
			other -= stale[0].size
		}
		stale = stale[1:]
	}
	if other > share {
		slog.Warn("log_dir holds files bpm did not write; they count against log_total_mb",
			"dir", cfg.LogDir, "bytes", other, "log_total_bytes", cfg.LogTotalBytes)
	}
	return max(cfg.LogTotalBytes-other, 0) / int64(len(cfg.Processes))
}

// foundFile is a file under log_dir that no configured process owns.
type foundFile struct {
	path string
	size int64
	at   time.Time
}

// otherLogDirFiles returns the log files of processes no longer configured,
// oldest first, and the bytes of every file no configured process owns.
func otherLogDirFiles(cfg *config.Config) (stale []foundFile, other int64) {
	names := cfg.Names()
	root := cfg.LogDir
	if real, err := filepath.EvalSymlinks(root); err == nil {
		root = real // WalkDir does not enter a symlinked root
	}
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		proc, file, nested := strings.Cut(rel, string(filepath.Separator))
		bpms := nested && !strings.Contains(file, string(filepath.Separator)) && logFileRE.MatchString(file)
		if bpms && slices.Contains(names, proc) {
			return nil
		}
		other += info.Size()
		if bpms {
			stale = append(stale, foundFile{path: path, size: info.Size(), at: info.ModTime()})
		}
		return nil
	})
	slices.SortFunc(stale, func(a, b foundFile) int { return a.at.Compare(b.at) })
	return stale, other
}

// logShare gives a logbuffer its share of log_total_mb again (a reload
// added or removed processes).
type logShare struct{ bytes int64 }

// shareLogDir splits log_total_mb again among cfg's processes, after a
// reload added or removed some, and gives every logbuffer its share.
func (s *Supervisor) shareLogDir(ctx actor.Context, cfg *config.Config) {
	if cfg.LogDir == "" {
		return
	}
	share := logDirBudget(cfg)
	for _, refs := range s.procs {
		ctx.Send(refs.logs, logShare{bytes: share})
	}
}
