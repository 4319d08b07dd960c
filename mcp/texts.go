package mcp

import (
	"context"
	"fmt"
	"time"

	"bpm/actors"
)

// resolve names the process a call is about: name, or the only one.
func (s *server) resolve(name string) string {
	if name == "" && len(s.set().names) == 1 {
		return s.set().names[0]
	}
	return name
}

// noBuildStep is the error of search_build_log for a process that is never
// built, or nil when it has a build.
func (s *server) noBuildStep(name string) error {
	has, known := s.set().hasBuild[name]
	if !known || has {
		return nil
	}
	return fmt.Errorf("%s has no build step (it runs its command as is), so there is no build log; its output is in search_logs", name)
}

// noRunsYet explains why a process has no run to search: its build failed,
// it is still building, or when bpm tries again.
func (s *server) noRunsYet(ctx context.Context, name string, err error) error {
	st, askErr := ask[actors.StatusReply](ctx, s, actors.StatusRequest{}, s.timeout)
	if askErr != nil {
		return err
	}
	for _, p := range st.Processes {
		if p.Name != name {
			continue
		}
		switch {
		case p.State == actors.StateBuildFailed:
			return fmt.Errorf("no runs of %s yet: its build failed (%s); see search_build_log for the errors", name, firstLine(p.Build.Error))
		case p.State == actors.StateBuilding && lastBuildFailed(p.Events) != "":
			return fmt.Errorf("no runs of %s yet: its last build failed (%s) and it is building again; search_build_log with index -2 shows the failed build", name, lastBuildFailed(p.Events))
		case p.State == actors.StateBuilding:
			return fmt.Errorf("no runs of %s yet: its first build is running; search_build_log shows its output, wait_for {\"state\": \"running\"} waits for it", name)
		case !p.NextRestartAt.IsZero():
			return fmt.Errorf("no runs of %s yet (%s); bpm tries again at %s", name, p.State, p.NextRestartAt.UTC().Format(time.RFC3339))
		}
		return fmt.Errorf("no runs of %s yet (state %s)", name, p.State)
	}
	return err
}

// restartText is the text of a restart that swapped to a new run.
func (s *server) restartText(r actors.RestartReply) string {
	if !s.set().hasBuild[r.Process] {
		return fmt.Sprintf("restarted %s: pid %d serves now (no build step)", r.Process, r.PID)
	}
	return fmt.Sprintf("restarted %s: pid %d serves now (%s build in %.1fs)", r.Process, r.PID, r.Mode, r.BuildSeconds)
}

// lastBuildFailed is the message of the newest build_failed event, if no
// build succeeded after it.
func lastBuildFailed(events []actors.Event) string {
	for i := len(events) - 1; i >= 0; i-- {
		switch events[i].Kind {
		case "build_failed":
			return events[i].Message
		case "build_ok":
			return ""
		}
	}
	return ""
}
