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
}

func (c *cli) applyFlagSet(name, usage string, af *applyFlags) *flag.FlagSet {
	fs := c.flagSet(name, usage)
	af.configFlags.register(fs)
	af.serverConn.register(fs)
	fs.BoolVar(&af.autoApprove, "auto-approve", false, "do not ask for confirmation")
	fs.BoolVar(&af.detach, "detach", false, "start the deployment and return without following it")
	fs.BoolVar(&af.force, "force", false, "cancel running deployments of the same apps instead of refusing (Marathon's ?force=true)")
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
	p, spec, code := c.makePlan(path, &af.planFlags)
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
	fmt.Fprintf(c.stdout, "Deployment %s started (version %s).\n", resp.DeploymentID, resp.Version)
	if af.detach {
		fmt.Fprintf(c.stdout, "Follow it with: stride status\n")
		return exitOK
	}
	return c.follow(ctx, client, resp.DeploymentID, resp.Plan, af.noColor)
}

// follow polls the deployment and prints a progress line per app whenever its
// progress changes, until the deployment succeeds (exit 0) or fails (exit 1).
// An interrupt detaches: the deployment goes on on the server.
func (c *cli) follow(ctx context.Context, client *api.Client, id string, plan *engine.Plan, noColor bool) int {
	s := c.styles(noColor)
	f, _ := c.stdout.(*os.File)
	bars := view.ColorEnabled(f, noColor) // a terminal
	last := map[string]string{}
	lastStep := -1
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	failures := 0
	for {
		d, err := client.Deployment(ctx, id)
		switch {
		case ctx.Err() != nil:
			fmt.Fprintf(c.stdout, "\nInterrupted: deployment %s goes on on the server. Follow it with: stride status\n", id)
			return exitError
		case err != nil:
			failures++
			if failures >= 20 {
				return c.errorf(noColor, "follow deployment %s: %v", id, err)
			}
		default:
			failures = 0
			if d.CurrentStep != lastStep && d.CurrentStep < len(d.Plan.Steps) && d.Status == engine.DeploymentRunning {
				lastStep = d.CurrentStep
				fmt.Fprintf(c.stdout, "%s\n", s.Bold.Sprintf("Step %d/%d: %s", d.CurrentStep+1, len(d.Plan.Steps), stepText(d.Plan.Steps[d.CurrentStep])))
			}
			for _, a := range d.Apps {
				line := view.ProgressLine(view.Progress{
					ID: a.ID, Action: actionOf(d.Plan, a.ID), Target: a.Instances, Staged: a.Staged,
					Running: a.Running, Healthy: a.Healthy, Waiting: a.Waiting, DelaySeconds: a.Delay,
					LastFailure: a.LastFailure,
				}, bars)
				if last[a.ID] != line {
					last[a.ID] = line
					fmt.Fprintf(c.stdout, "  %s\n", line)
				}
			}
			switch d.Status {
			case engine.DeploymentSucceeded:
				fmt.Fprintf(c.stdout, "\n%s %s\n", s.Create.Sprint("Apply complete!"), appliedLine(d.Plan.Summary))
				return exitOK
			case engine.DeploymentFailed, engine.DeploymentCancelled:
				return c.errorf(noColor, "deployment %s %s: %s", id, d.Status, d.Reason)
			}
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
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
