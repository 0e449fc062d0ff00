package view

import (
	"fmt"
	"io"
	"strings"

	"github.com/stride-run/stride/engine"
)

// Progress is one app's state during a deployment step. The counts of the
// target version are apart from the old tasks they replace (Nomad's desired /
// placed / healthy / unhealthy): a rolling restart starts at 0 healthy of
// Target, however many old tasks still serve.
type Progress struct {
	ID     string
	Action engine.Action
	// Target is the number of instances wanted (0 for a destroy).
	Target int
	// Placed, Running, Healthy, NotReady and Unhealthy count tasks of the target
	// version: live, running, deployed (healthy and ready), healthy but not
	// ready, running and failing a check.
	Placed, Running, Healthy, NotReady, Unhealthy int
	// Old counts the tasks still to replace (a destroy: to stop), Killing the
	// tasks being killed.
	Old, Killing int
	// Waiting says what the app waits for, without the time waited ("waiting
	// for /shop/db: 2/3 healthy"); Waited is the time ("4m12s of 10m").
	Waiting, Waited string
	// Deadline is the time without progress, of the deadline ("1m3s of 10m").
	Deadline string
	// DelaySeconds is the backoff left before the next launch.
	DelaySeconds float64
	// LastFailure is the last task failure ("TASK_FAILED: ...").
	LastFailure string
	// GaveUp says why Stride stopped relaunching the app.
	GaveUp string
	// Done: the app's part of the step is complete.
	Done bool
}

// ProgressLine renders a progress line: "/shop/api restart: 1/3 new healthy, 2
// placed, 1 unhealthy, 2 old, 1 stopping — waiting for capacity: ...". live is
// true on a terminal that redraws the line in place: it then carries a bar of
// the healthy new tasks and the times that change every second (waited, time
// without progress), which a pipe — one line per change — leaves out.
func ProgressLine(p Progress, live bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: ", p.ID, p.Action)
	if p.Action == engine.ActionDestroy {
		fmt.Fprintf(&b, "%d task(s) left", p.Old+p.Killing)
	} else {
		if live {
			b.WriteString(progressBar(p.Healthy, p.Target, 20))
			b.WriteByte(' ')
		}
		what := "healthy"
		if p.Action == engine.ActionRestart {
			what = "new healthy"
		}
		fmt.Fprintf(&b, "%d/%d %s", p.Healthy, p.Target, what)
		if starting := p.Placed - p.Running; starting > 0 {
			fmt.Fprintf(&b, ", %d starting", starting)
		}
		if p.NotReady > 0 {
			fmt.Fprintf(&b, ", %d not ready", p.NotReady)
		}
		if p.Unhealthy > 0 {
			fmt.Fprintf(&b, ", %d unhealthy", p.Unhealthy)
		}
		if p.Old > 0 {
			fmt.Fprintf(&b, ", %d old", p.Old)
		}
		if p.Killing > 0 {
			fmt.Fprintf(&b, ", %d stopping", p.Killing)
		}
	}
	if p.Done {
		b.WriteString(" — done")
		return b.String()
	}
	switch {
	case p.GaveUp != "":
		fmt.Fprintf(&b, " — %s", p.GaveUp)
	case p.Waiting != "":
		fmt.Fprintf(&b, " — %s", p.Waiting)
		if live && p.Waited != "" {
			fmt.Fprintf(&b, ", %s", p.Waited)
		}
	case live && p.Deadline != "":
		fmt.Fprintf(&b, " — no progress for %s", p.Deadline)
	}
	if p.DelaySeconds >= 1 && p.GaveUp == "" {
		if live {
			fmt.Fprintf(&b, " — next launch in %.0fs (backoff)", p.DelaySeconds)
		} else {
			b.WriteString(" — backing off")
		}
	}
	if p.LastFailure != "" && p.GaveUp == "" {
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

// ProgressBlock prints the progress lines of a step. On a terminal (live) it
// redraws the block in place: it moves the cursor back over the lines it
// printed last time (prev) and rewrites them, clearing any left over; it
// returns the number of lines printed. In a pipe it prints only the lines that
// changed since last (keyed by app id), one per change, and returns 0.
func ProgressBlock(w io.Writer, lines []string, ids []string, prev int, last map[string]string, live bool) int {
	if !live {
		for i, line := range lines {
			if last[ids[i]] != line {
				last[ids[i]] = line
				fmt.Fprintf(w, "  %s\n", line)
			}
		}
		return 0
	}
	var b strings.Builder
	if prev > 0 {
		fmt.Fprintf(&b, "\x1b[%dF", prev) // to the start of the block
	}
	for _, line := range lines {
		b.WriteString("\x1b[2K  ")
		b.WriteString(line)
		b.WriteByte('\n')
	}
	for i := len(lines); i < prev; i++ {
		b.WriteString("\x1b[2K\n")
	}
	n := max(len(lines), prev)
	_, _ = io.WriteString(w, b.String())
	return n
}
