package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/stride-run/stride/cmd/stride/internal/view"
	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor/api"
)

// applyFlags are apply's and destroy's options.
type applyFlags struct {
	planFlags
	autoApprove bool
	detach      bool
	force       bool
	autoRevert  bool
	queue       bool
	deadline    time.Duration
}

func (c *cli) applyFlagSet(name, usage string, af *applyFlags) *flag.FlagSet {
	fs := c.flagSet(name, usage)
	af.configFlags.register(fs)
	af.serverConn.register(fs)
	fs.BoolVar(&af.autoApprove, "auto-approve", false, "do not ask for confirmation")
	fs.BoolVar(&af.detach, "detach", false, "start the deployment and return without following it")
	fs.BoolVar(&af.force, "force", false, "cancel running deployments of the same apps instead of refusing (Marathon's ?force=true)")
	fs.BoolVar(&af.queue, "queue", false, "wait for running deployments of the same apps to finish instead of refusing (a newer queued apply replaces an older one)")
	fs.BoolVar(&af.autoRevert, "auto-revert", false, "if the deployment fails, roll every app it changes back to its last version that ran fully healthy")
	registerFeasibilityFlags(fs, &af.planFlags)
	fs.DurationVar(&af.deadline, "progress-deadline", 0, "fail the deployment when an app makes no progress for this long (apps' own deployment { progress_deadline } win; 0: the server's default; negative: none)")
	return fs
}

// apply: stride apply [options] [PLANFILE|DIR].
func (c *cli) apply(args []string) int {
	var af applyFlags
	fs := c.applyFlagSet("apply", "apply [options] [PLANFILE|DIR]\n\nPlans DIR against the deployed state, shows the plan, asks for confirmation and\nstarts the deployment on the server, then follows it until it succeeds or fails.\nWith a PLANFILE saved by `stride plan -out`, carries out exactly that plan, or\nrefuses it as stale if the deployed state has moved since.", &af)
	pos, err := parse(fs, args)
	if err != nil {
		return exitError
	}
	path, err := oneDir(fs, pos)
	if err != nil {
		return exitError
	}
	if st, err := os.Stat(path); err == nil && !st.IsDir() && !strings.HasSuffix(path, ".hcl") {
		return c.applySaved(path, &af)
	}
	return c.applyDir(path, &af, "Do you want to perform these actions?")
}

// destroy: stride destroy [options] [DIR].
func (c *cli) destroy(args []string) int {
	var af applyFlags
	fs := c.applyFlagSet("destroy", "destroy [options] [DIR]\n\nDestroys every deployed app under the configuration's scope (DIR gives the scope\nand the variables), dependents first.", &af)
	pos, err := parse(fs, args)
	if err != nil {
		return exitError
	}
	path, err := oneDir(fs, pos)
	if err != nil {
		return exitError
	}
	af.destroy = true
	return c.applyDir(path, &af, "Do you really want to destroy every app under the scope?")
}

// applyDir plans DIR against the server's state, shows the plan, asks, and applies
// it pinned to the state serial it was made against.
func (c *cli) applyDir(path string, af *applyFlags, question string) int {
	ctx, stop := signal.NotifyContext(c.ctx, os.Interrupt, syscall.SIGTERM)
	p, spec, code := c.makePlan(ctx, path, &af.planFlags)
	stop()
	if p == nil {
		return code
	}
	s := c.styles(af.noColor)
	if err := view.PlanText(c.stdout, p, s); err != nil {
		return c.errorf(af.noColor, "%v", err)
	}
	if p.Empty() {
		return exitOK
	}
	if code := c.strictCheck(p, &af.planFlags); code != exitOK {
		return code
	}
	if !af.autoApprove {
		fmt.Fprintf(c.stdout, "\n%s\n  Stride will carry out the plan above. Only 'yes' will be accepted to approve.\n\n  Enter a value: ", s.Bold.Sprint(question))
		answer, _ := bufio.NewReader(c.stdin).ReadString('\n')
		if strings.TrimSpace(answer) != "yes" {
			fmt.Fprintf(c.stdout, "\nApply cancelled.\n")
			return exitError
		}
		fmt.Fprintln(c.stdout)
	}
	serial := p.StateSerial
	return c.startAndFollow(af, api.ApplyRequest{Spec: spec, Scope: p.Scope, Destroy: af.destroy, StateSerial: &serial, Force: af.force})
}

// deadlineSeconds is -progress-deadline as the API takes it (0: the server's
// default; -1: none; else whole seconds, rounded up).
func (af *applyFlags) deadlineSeconds() int {
	switch {
	case af.deadline == 0:
		return 0
	case af.deadline < 0:
		return -1
	}
	return int((af.deadline + time.Second - 1) / time.Second)
}

// applySaved carries out a plan file written by `stride plan -out`.
func (c *cli) applySaved(path string, af *applyFlags) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return c.errorf(af.noColor, "read plan: %v", err)
	}
	var sp engine.SavedPlan
	if err := json.Unmarshal(data, &sp); err != nil {
		return c.errorf(af.noColor, "%s is not a saved plan (from stride plan -out): %v", path, err)
	}
	if sp.FormatVersion != engine.PlanFormatVersion || sp.Plan == nil || sp.Spec == nil {
		return c.errorf(af.noColor, "%s is not a saved plan this Stride can apply (format %q)", path, sp.FormatVersion)
	}
	for _, a := range sp.Spec.Apps {
		a.ApplyDefaults()
	}
	if sp.Plan.Empty() {
		fmt.Fprintln(c.stdout, "The saved plan has no changes.")
		return exitOK
	}
	if view.WriteSavedWarnings(c.stdout, sp.Plan, c.styles(af.noColor)) != nil {
		return exitError
	}
	if code := c.strictCheck(sp.Plan, &af.planFlags); code != exitOK {
		return code
	}
	serial := sp.StateSerial
	return c.startAndFollow(af, api.ApplyRequest{Spec: sp.Spec, Scope: sp.Plan.Scope, Destroy: sp.Destroy, StateSerial: &serial, Force: af.force})
}

// startAndFollow asks the server to deploy and, unless -detach, follows the
// deployment until it finishes.
func (c *cli) startAndFollow(af *applyFlags, req api.ApplyRequest) int {
	client, err := c.newClient(af.serverConn)
	if err != nil {
		return c.errorf(af.noColor, "%v", err)
	}
	ctx, stop := signal.NotifyContext(c.ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	req.AutoRevert, req.Queue, req.ProgressDeadlineSeconds = af.autoRevert, af.queue, af.deadlineSeconds()
	resp, err := client.Apply(ctx, req)
	if err != nil {
		var ae *api.Error
		if errors.As(err, &ae) && ae.Status == 409 && strings.Contains(ae.Message, "stale") {
			return c.errorf(af.noColor, "%s", ae.Message)
		}
		return c.errorf(af.noColor, "apply: %v", err)
	}
	if resp.DeploymentID == "" {
		fmt.Fprintln(c.stdout, "No changes: the deployed apps already match.")
		return exitOK
	}
	if resp.Status == engine.DeploymentQueued {
		fmt.Fprintf(c.stdout, "Deployment %s queued: %s. It will be planned again when its turn comes.\n", resp.DeploymentID, resp.Reason)
	} else {
		fmt.Fprintf(c.stdout, "Deployment %s started (version %s).\n", resp.DeploymentID, resp.Version)
	}
	if af.detach {
		fmt.Fprintf(c.stdout, "Follow it with: stride status\n")
		return exitOK
	}
	return c.follow(ctx, client, resp.DeploymentID, resp.Plan, af.noColor)
}

// follow polls the deployment and shows its progress until it succeeds (exit
// 0) or fails (exit 1, with the reason and whether it was rolled back — a
// rollback is followed too). On a terminal the current step's lines are
// redrawn in place; in a pipe a line is printed per change. An interrupt
// detaches: the deployment goes on on the server.
func (c *cli) follow(ctx context.Context, client *api.Client, id string, plan *engine.Plan, noColor bool) int {
	d, code := c.followOne(ctx, client, id, noColor)
	if d == nil || d.Status != engine.DeploymentFailed {
		return code
	}
	s := c.styles(noColor)
	if d.RevertedBy == "" {
		fmt.Fprintf(c.stdout, "\nNot rolled back (set deployment { auto_revert = true } on the app, or apply with -auto-revert).\n")
		return exitError
	}
	fmt.Fprintf(c.stdout, "\n%s\n", s.Warn.Sprintf("Rolling back to the last version that ran fully healthy: deployment %s.", d.RevertedBy))
	r, _ := c.followOne(ctx, client, d.RevertedBy, noColor)
	switch {
	case r == nil:
	case r.Status == engine.DeploymentSucceeded:
		fmt.Fprintf(c.stdout, "\n%s\n", s.Warn.Sprint("Rolled back: the apps are back at their last healthy version. The apply failed."))
	default:
		fmt.Fprintf(c.stdout, "\nThe rollback %s %s: %s\n", r.ID, r.Status, r.Reason)
	}
	return exitError
}

// followOne follows one deployment to its end and returns it (nil when it could
// not be read, or the follow was interrupted) with the exit code.
func (c *cli) followOne(ctx context.Context, client *api.Client, id string, noColor bool) (*api.DeploymentResponse, int) {
	s := c.styles(noColor)
	f, _ := c.stdout.(*os.File)
	live := view.ColorEnabled(f, noColor) // a terminal: redraw in place
	last := map[string]string{}
	lastStep, lastQueued, block := -1, "", 0
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	failures := 0
	for {
		d, err := client.Deployment(ctx, id)
		switch {
		case ctx.Err() != nil:
			fmt.Fprintf(c.stdout, "\nInterrupted: deployment %s goes on on the server. Follow it with: stride status\n", id)
			return nil, exitError
		case err != nil:
			failures++
			if failures >= 20 {
				return nil, c.errorf(noColor, "follow deployment %s: %v", id, err)
			}
		default:
			failures = 0
			if d.Status == engine.DeploymentQueued {
				if d.Reason != lastQueued {
					lastQueued = d.Reason
					fmt.Fprintf(c.stdout, "Queued: %s\n", d.Reason)
				}
				break
			}
			if d.CurrentStep != lastStep && d.CurrentStep < len(d.Plan.Steps) && d.Status == engine.DeploymentRunning {
				lastStep, block = d.CurrentStep, 0
				fmt.Fprintf(c.stdout, "%s\n", s.Bold.Sprintf("Step %d/%d: %s", d.CurrentStep+1, len(d.Plan.Steps), stepText(d.Plan.Steps[d.CurrentStep])))
			}
			lines, ids := progressLines(d, live)
			if d.Status == engine.DeploymentSucceeded {
				// The end may come between two looks: say where every app ended.
				lines, ids = finalLines(d, live)
			}
			block = view.ProgressBlock(c.stdout, lines, ids, block, last, live)
			switch d.Status {
			case engine.DeploymentSucceeded:
				fmt.Fprintf(c.stdout, "\n%s %s\n", s.Create.Sprint("Apply complete!"), appliedLine(d.Plan.Summary))
				return d, exitOK
			case engine.DeploymentFailed, engine.DeploymentCancelled:
				return d, c.errorf(noColor, "deployment %s %s: %s", id, d.Status, d.Reason)
			}
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
}

// progressLines renders the progress of the deployment's current step, one
// line per app, with the app's backoff and failures from its summary.
func progressLines(d *api.DeploymentResponse, live bool) (lines, ids []string) {
	sums := map[string]api.AppSummary{}
	for _, a := range d.Apps {
		sums[a.ID] = a
	}
	for _, p := range d.Progress {
		sum := sums[p.ID]
		lines = append(lines, view.ProgressLine(view.Progress{
			ID: p.ID, Action: p.Action, Target: p.Target, Placed: p.Placed, Running: p.Running,
			Healthy: p.Healthy, NotReady: p.NotReady, Unhealthy: p.Unhealthy, Old: p.Old, Killing: p.Killing,
			Waiting: p.WaitingFor, Waited: p.Waited, Deadline: p.Deadline, DelaySeconds: sum.Delay,
			LastFailure: sum.LastFailure, GaveUp: sum.GaveUp, Done: p.Done,
		}, live))
		ids = append(ids, p.ID)
	}
	return lines, ids
}

// finalLines renders the apps of a succeeded deployment as they ended, from
// their current counts (those of its last step on a terminal, where the block
// of that step is redrawn).
func finalLines(d *api.DeploymentResponse, live bool) (lines, ids []string) {
	for _, a := range d.Apps {
		action := actionOf(d.Plan, a.ID)
		if live && stepOf(d.Plan, a.ID) != len(d.Plan.Steps)-1 {
			continue
		}
		p := view.Progress{ID: a.ID, Action: action, Target: a.Instances, Placed: a.Running + a.Staged, Running: a.Running, Healthy: a.Healthy, Done: true}
		if action == engine.ActionDestroy {
			p = view.Progress{ID: a.ID, Action: action, Old: a.Running + a.Staged, Done: true}
		}
		lines = append(lines, view.ProgressLine(p, live))
		ids = append(ids, a.ID)
	}
	return lines, ids
}

func stepOf(p *engine.Plan, id string) int {
	for _, ch := range p.Changes {
		if ch.ID == id {
			return ch.Step
		}
	}
	return -1
}

func actionOf(p *engine.Plan, id string) engine.Action {
	for _, ch := range p.Changes {
		if ch.ID == id {
			return ch.Action
		}
	}
	return ""
}

func stepText(st engine.Step) string {
	parts := make([]string, len(st.Actions))
	for i, a := range st.Actions {
		parts[i] = string(a.Action) + " " + a.ID
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func appliedLine(sm engine.Summary) string {
	return fmt.Sprintf("%d created, %d updated, %d scaled, %d restarted, %d destroyed.",
		sm.Create, sm.Update, sm.Scale, sm.Restart, sm.Destroy)
}
