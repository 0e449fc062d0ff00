package view

import (
	"fmt"
	"strings"

	"github.com/stride-run/stride/engine"
)

// Progress is one app's state during a deployment.
type Progress struct {
	ID      string
	Action  engine.Action
	Target  int // instances wanted (0 for a destroy)
	Staged  int
	Running int
	Healthy int
	// Waiting says why instances cannot be placed ("" when they can).
	Waiting string
	// DelaySeconds is the backoff left before the next launch.
	DelaySeconds float64
	// LastFailure is the last task failure ("TASK_FAILED: ...").
	LastFailure string
}

// ProgressLine renders a progress line: "/shop/api  restart  2/3 running, 1/3
// healthy", with a bar of healthy instances when bar is true (a terminal), and why
// it is waiting, if it is.
func ProgressLine(p Progress, bar bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: ", p.ID, p.Action)
	if p.Action == engine.ActionDestroy {
		fmt.Fprintf(&b, "%d task(s) left", p.Running+p.Staged)
	} else {
		if bar {
			b.WriteString(progressBar(p.Healthy, p.Target, 20))
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%d/%d running, %d/%d healthy", p.Running, p.Target, p.Healthy, p.Target)
		if p.Staged > 0 {
			fmt.Fprintf(&b, ", %d staging", p.Staged)
		}
	}
	if p.Waiting != "" {
		fmt.Fprintf(&b, " — waiting: %s", p.Waiting)
	}
	if p.DelaySeconds >= 1 {
		fmt.Fprintf(&b, " — next launch in %.0fs (backoff)", p.DelaySeconds)
	}
	if p.LastFailure != "" {
		fmt.Fprintf(&b, " — last failure: %s", p.LastFailure)
	}
	return b.String()
}

func progressBar(n, of, width int) string {
	if of <= 0 {
		return "[" + strings.Repeat("=", width) + "]"
	}
	filled := n * width / of
	if filled > width {
		filled = width
	}
	return "[" + strings.Repeat("=", filled) + strings.Repeat(" ", width-filled) + "]"
}
